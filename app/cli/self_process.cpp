// Starting a copy of this program: fork, tie the child's life to ours, exec /proc/self/exe.
#include "app/cli/self_process.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace dr2::cli {

pid_t startSelf(const SelfProcess& process)
{
    // The child calls setenv before exec, which is safe only because the programs that start children (the
    // launcher, the study runner) do so from their only thread.
    std::vector<char*> argv;
    for (const auto& argument : process.arguments)
        argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("cannot start " + process.what + ": fork failed: " + std::strerror(errno));
    if (pid > 0)
        return pid;
    // The child. Die with the parent; if it died before prctl took effect, go now.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
        ::_exit(128 + SIGTERM);
    ::setpgid(0, 0);
    for (const auto& [name, value] : process.environment)
        ::setenv(name.c_str(), value.c_str(), 1);
    if (process.stdoutFd >= 0)
        ::dup2(process.stdoutFd, STDOUT_FILENO);
    if (process.stderrFd >= 0)
        ::dup2(process.stderrFd, STDERR_FILENO);
    ::execv("/proc/self/exe", argv.data());
    std::cerr << "dr2net-cli: error: " << process.what << ": cannot start /proc/self/exe: " << std::strerror(errno)
              << std::endl;
    ::_exit(127);
}

std::string describeExit(int status)
{
    if (WIFSIGNALED(status))
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

int exitCodeOf(int status)
{
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

} // namespace dr2::cli
