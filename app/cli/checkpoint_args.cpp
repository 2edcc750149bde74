#include "app/cli/checkpoint_args.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace dr2::cli {

void addCheckpointOptions(CLI::App& command, CheckpointArgs& args)
{
    command.add_option("checkpoint", args.path, "safetensors, torch.save or TorchScript file (timm or torchvision names)")
        ->required();
    command.add_option("--heads", args.heads, "attention heads (default: metadata or the standard size table)");
    command.add_option("--image-size", args.imageSize, "input side in pixels (default: the checkpoint's; "
                                                       "a different size resizes the position embedding)");
    command.add_option("--patch-size", args.patchSize, "patch side in pixels (default: the checkpoint's)");
    command.add_option("--num-classes", args.numClasses, "classes of the head (default: the checkpoint's; "
                                                         "a different count replaces the head)");
    command.add_option("--frames", args.frames, "video models: frames per clip (default: metadata or 16)");
}

ViTOverrides overridesFrom(const CheckpointArgs& args)
{
    auto positive = [](int64_t value, const char* flag) -> std::optional<int64_t> {
        if (value < 0)
            throw std::invalid_argument(std::string(flag) + ": expected > 0, found " + std::to_string(value));
        return value > 0 ? std::optional<int64_t>(value) : std::nullopt;
    };
    ViTOverrides overrides;
    overrides.heads = positive(args.heads, "--heads");
    overrides.imageSize = positive(args.imageSize, "--image-size");
    overrides.patchSize = positive(args.patchSize, "--patch-size");
    overrides.numFrames = positive(args.frames, "--frames");
    if (args.numClasses < -1)
        throw std::invalid_argument("--num-classes: expected >= 0, found " + std::to_string(args.numClasses));
    if (args.numClasses >= 0)
        overrides.numClasses = args.numClasses;
    return overrides;
}

void printLoadWarnings(const ViTLoadReport& report)
{
    if (!report.nanTensors.empty()) {
        std::string names;
        for (const auto& name : report.nanTensors)
            names += (names.empty() ? "" : ", ") + name;
        std::cerr << "dr2net-cli: warning: " << report.nanTensors.size() << " tensors hold NaN or Inf: " << names
                  << std::endl;
    }
    if (!report.unexpectedKeys.empty())
        std::cerr << "dr2net-cli: warning: " << report.unexpectedKeys.size() << " tensors in the file were not used (first: "
                  << report.unexpectedKeys.front() << ")" << std::endl;
}

} // namespace dr2::cli
