#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dr2::cli {

/// How `train --nproc N` starts its workers on this machine.
struct LocalLaunch {
    int workers = 2;
    /// The command line each worker runs (argv[0] first; the launcher's own --nproc removed).
    std::vector<std::string> arguments;
    /// After a worker fails, how long the others get to notice (their collectives fail within the group's timeout)
    /// before they are killed.
    std::chrono::milliseconds grace { std::chrono::seconds(70) };
};

/// torchrun's job on one machine: picks a free port on the loopback interface, starts `workers` copies of this
/// program with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, forwards Ctrl-C /
/// SIGTERM to all of them, and waits. A worker that dies is named on stderr in one line; the others are killed if
/// they outlive the grace period. Returns 0 when every worker finished with 0, else rank 0's non-zero exit code or the first failing
/// worker's (128 + signal for a killed one).
int launchLocalWorkers(const LocalLaunch& launch);

/// `arguments` without `--nproc N` / `--nproc=N`.
std::vector<std::string> withoutOption(const std::vector<std::string>& arguments, const std::string& option);

} // namespace dr2::cli
