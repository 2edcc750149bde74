#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

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

} // namespace dr2::test
