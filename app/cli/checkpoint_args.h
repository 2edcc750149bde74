#pragma once

#include "core/backbone_registry.h"
#include "training/network.h"

#include <string>
#include <vector>

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
    int64_t window = 0; ///< Swin: the finetuning window (0: the checkpoint's)
};

/// Registers CHECKPOINT, --heads, --image-size, --patch-size, --num-classes and --frames on a subcommand.
void addCheckpointOptions(CLI::App& command, CheckpointArgs& args);

/// The load options the arguments describe. The backbone is loaded without the file's classifier
/// (numClasses = 0): loadCheckpointNetwork() gives it to the classification task instead.
BackboneLoadOptions loadOptionsFrom(const CheckpointArgs& args);

/// A checkpoint as a network: its backbone and its task's head. A segmentation checkpoint (metadata dr2net.task)
/// brings its dense head back; otherwise, when there are classes (--num-classes, else the file's classifier), a
/// classification head that reproduces the file's classifier when it has that many classes.
struct CheckpointNetwork {
    BackbonePtr backbone;
    Network network { nullptr }; ///< null for a file without a classifier and no --num-classes
    BackboneLoadReport report;
    int64_t numClasses = 0; ///< classes of the head (0: none)
    std::vector<std::string> headNotes; ///< what building the head did (kept, replaced)
};

/// Loads `checkpoint` with `options` (from loadOptionsFrom(), plus the caller's α, β, mode) and builds its head.
CheckpointNetwork loadCheckpointNetwork(
    const LoadedCheckpoint& checkpoint, const CheckpointArgs& args, const BackboneLoadOptions& options);

/// One warning line per problem the loader found that does not stop it (NaN tensors, missing keys).
void printLoadWarnings(const BackboneLoadReport& report);

} // namespace dr2::cli
