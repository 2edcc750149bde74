// `dr2net-cli train --nproc N`: torchrun's job for one machine, in a few POSIX calls.
#include "app/cli/local_launcher.h"
#include "app/cli/self_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>

namespace dr2::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void onLauncherSignal(int signal)
{
    g_signal = signal;
}

/// A port on the loopback interface that nothing listens on now (the kernel's choice for port 0). Another program
/// could take it before rank 0 binds it; rank 0 then fails to start the store and says so.
int freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw std::runtime_error(std::string("--nproc: cannot open a socket to find a free port: ") + std::strerror(errno));
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!ok)
        throw std::runtime_error(std::string("--nproc: cannot find a free port on 127.0.0.1: ") + std::strerror(errno));
    return ntohs(address.sin_port);
}

struct Worker {
    int rank = 0;
    pid_t pid = -1;
    std::optional<int> exitCode; ///< set once it has ended (128 + signal when killed)
};

std::string describeEnd(const Worker& worker, int status)
{
    return "rank " + std::to_string(worker.rank) + " (pid " + std::to_string(worker.pid) + ") " + describeExit(status);
}

} // namespace

std::vector<std::string> withoutOption(const std::vector<std::string>& arguments, const std::string& option)
{
    std::vector<std::string> kept;
    for (size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == option) {
            ++i; // and its value
            continue;
        }
        if (arguments[i].rfind(option + "=", 0) == 0)
            continue;
        kept.push_back(arguments[i]);
    }
    return kept;
}

int launchLocalWorkers(const LocalLaunch& launch)
{
    if (launch.workers < 1)
        throw std::invalid_argument("--nproc " + std::to_string(launch.workers) + ": expected at least 1 worker");
    const int port = freeLoopbackPort();
    g_signal = 0;
    std::signal(SIGINT, onLauncherSignal);
    std::signal(SIGTERM, onLauncherSignal);
    std::vector<Worker> workers;
    for (int rank = 0; rank < launch.workers; ++rank) {
        SelfProcess process;
        process.arguments = launch.arguments;
        process.environment = { { "RANK", std::to_string(rank) }, { "LOCAL_RANK", std::to_string(rank) },
            { "WORLD_SIZE", std::to_string(launch.workers) }, { "LOCAL_WORLD_SIZE", std::to_string(launch.workers) },
            { "MASTER_ADDR", "127.0.0.1" },
            { "MASTER_PORT", std::to_string(port) } };
        process.what = "--nproc: rank " + std::to_string(rank);
        workers.push_back({ rank, startSelf(process), std::nullopt });
    }
    std::cerr << "dr2net-cli: started " << launch.workers << " workers on 127.0.0.1:" << port << " (pids";
    for (const auto& w : workers)
        std::cerr << ' ' << w.pid;
    std::cerr << ")" << std::endl;

    // Once a worker has failed, the others are killed if they outlive this (steady_clock::time_point::max(): none).
    auto killAt = std::chrono::steady_clock::time_point::max();
    int forwarded = 0;
    int firstFailure = 0;
    size_t running = workers.size();
    while (running > 0) {
        if (g_signal != 0 && forwarded != g_signal) {
            // Ctrl-C asks rank 0 to stop after this iteration (the others follow it); SIGTERM stops everyone now.
            forwarded = g_signal;
            if (forwarded == SIGINT)
                ::kill(workers.front().pid, SIGINT);
            else
                for (const auto& w : workers)
                    if (!w.exitCode)
                        ::kill(w.pid, SIGTERM);
        }
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (auto& w : workers) {
                if (w.pid != pid)
                    continue;
                w.exitCode = exitCodeOf(status);
                --running;
                if (*w.exitCode != 0) {
                    std::cerr << "dr2net-cli: " << describeEnd(w, status) << std::endl;
                    if (firstFailure == 0)
                        firstFailure = *w.exitCode;
                    if (killAt == std::chrono::steady_clock::time_point::max())
                        killAt = std::chrono::steady_clock::now() + launch.grace;
                }
            }
            continue;
        }
        if (std::chrono::steady_clock::now() > killAt) {
            for (const auto& w : workers)
                if (!w.exitCode) {
                    std::cerr << "dr2net-cli: rank " << w.rank << " (pid " << w.pid << ") still running "
                              << launch.grace.count() / 1000 << " s after a worker failed: killing it" << std::endl;
                    ::kill(w.pid, SIGKILL);
                }
            killAt = std::chrono::steady_clock::time_point::max();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    const int rank0 = *workers.front().exitCode;
    return rank0 != 0 ? rank0 : firstFailure;
}

} // namespace dr2::cli
