#pragma once

#include "storage/run_store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace dr2::test {

/// A fresh folder under the system temp dir, removed when the object goes away.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag)
    {
        path = std::filesystem::temp_directory_path()
            / ("dr2_" + tag + "_" + std::to_string(::getpid()) + "_"
                + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        std::filesystem::create_directories(path);
    }
    ~TempDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

/// The tiny config of tests/training/trainer_test.cpp (trains in seconds): ViT 64d × 4 at 28², classes 5–9.
inline nlohmann::json tinyConfigJson(const std::string& checkpointDir, int64_t epochs)
{
    return {
        { "name", "tiny-recorded" },
        { "strategy", "dr2net" },
        { "seed", 3 },
        { "model",
            { { "embed_dim", 64 }, { "depth", 4 }, { "heads", 4 }, { "image_size", 28 }, { "patch_size", 4 },
                { "in_channels", 1 }, { "drop_path", 0.0 } } },
        { "data", { { "classes", { 5, 6, 7, 8, 9 } }, { "train_limit", 640 }, { "val_limit", 128 }, { "flip", false } } },
        { "optim", { { "epochs", epochs }, { "batch_size", 64 }, { "lr", 2e-3 }, { "warmup_iterations", 5 } } },
        { "schedule", { { "tau_iterations", 12 }, { "eta", 2 } } },
        { "probe", { { "every", 4 } } },
        { "checkpoint", { { "dir", checkpointDir }, { "every", 2 } } },
    };
}

/// Starts dr2net-cli (DR2_CLI_PATH) with `args`, stdout and stderr appended to `logPath`; returns the child's pid.
/// `inChild` runs in the child just before exec (resource limits, signal dispositions).
inline pid_t spawnCli(const std::vector<std::string>& args, const std::string& logPath,
    const std::function<void()>& inChild = {})
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        if (inChild)
            inChild();
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(DR2_CLI_PATH));
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(DR2_CLI_PATH, argv.data());
        ::_exit(127);
    }
    return pid;
}

/// The child's exit code (128 + signal when it was killed).
inline int waitExit(pid_t pid)
{
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string readFile(const std::filesystem::path& path)
{
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Loss points committed so far for the only run of the database (-1 while it is not readable yet).
inline int64_t committedLossPoints(const std::string& db)
{
    if (!std::filesystem::exists(db))
        return -1;
    try {
        RunStore store(db, /*createIfMissing=*/false);
        const auto runs = store.listRuns();
        if (runs.empty())
            return -1;
        return static_cast<int64_t>(store.scalars(runs.front().id, "loss").size());
    } catch (const std::exception&) {
        return -1; // the writer may be creating the schema right now
    }
}

} // namespace dr2::test
