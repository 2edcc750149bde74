#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace dr2::cli {

/// A copy of this program started with other arguments: a data-parallel worker of `train --nproc`, a run of
/// `study`.
struct SelfProcess {
    /// The command line (argv[0] first).
    std::vector<std::string> arguments;
    /// Set in the child's environment (name, value).
    std::vector<std::pair<std::string, std::string>> environment;
    int stdoutFd = -1; ///< the child's stdout (-1: this process's)
    int stderrFd = -1; ///< the child's stderr (-1: this process's)
    std::string what; ///< names the child in an error, e.g. "rank 1"
};

/// Forks and runs /proc/self/exe with `process`'s arguments. The child gets SIGTERM when this process dies (so a
/// killed parent leaves nothing behind) and its own process group (a Ctrl-C on the terminal reaches only the parent,
/// which decides what to tell its children). Throws std::runtime_error when it cannot fork; a child that cannot
/// exec says so on its stderr and exits with 127.
pid_t startSelf(const SelfProcess& process);

/// "exited with code N" or "was killed by signal N (Name)" for a waitpid() status.
std::string describeExit(int status);

/// A waitpid() status as an exit code: the code, or 128 + signal for a killed child.
int exitCodeOf(int status);

} // namespace dr2::cli
