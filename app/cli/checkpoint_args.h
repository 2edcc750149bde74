#pragma once

#include "core/vit_loader.h"

#include <string>

namespace CLI {
class App;
}

namespace dr2::cli {

/// The architecture overrides inspect and forward accept (0: infer from the checkpoint).
struct CheckpointArgs {
    std::string path;
    int64_t heads = 0;
    int64_t imageSize = 0;
    int64_t patchSize = 0;
    int64_t numClasses = -1; ///< -1: keep the checkpoint's head
    int64_t frames = 0;
};

/// Registers CHECKPOINT, --heads, --image-size, --patch-size, --num-classes and --frames on a subcommand.
void addCheckpointOptions(CLI::App& command, CheckpointArgs& args);

/// The overrides the arguments describe.
ViTOverrides overridesFrom(const CheckpointArgs& args);

/// One warning line per problem the loader found that does not stop it (NaN tensors, missing keys).
void printLoadWarnings(const ViTLoadReport& report);

} // namespace dr2::cli
