#include "app/cli/checkpoint_args.h"

#include "core/architecture_record.h"
#include "training/task_registry.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <stdexcept>

namespace dr2::cli {

void addCheckpointOptions(CLI::App& command, CheckpointArgs& args)
{
    command
        .add_option(
            "checkpoint", args.path,
            "safetensors, torch.save or TorchScript file (ViT, Swin or Video Swin; timm, torchvision, official or dr2 names)")
        ->required();
    command.add_option("--heads", args.heads, "attention heads (default: metadata or the standard size table)");
    command.add_option("--image-size", args.imageSize, "input side in pixels (default: the checkpoint's; "
                                                       "a different size resizes the position embedding)");
    command.add_option("--patch-size", args.patchSize, "patch side in pixels (default: the checkpoint's)");
    command.add_option("--num-classes", args.numClasses, "classes of the head (default: the checkpoint's; "
                                                         "a different count replaces the head)");
    command.add_option("--frames", args.frames, "video models: frames per clip (default: metadata, else 16 for ViT, 32 for Video Swin)");
    command.add_option("--window", args.window, "Swin: attention window side (default: the checkpoint's; "
                                                "a different size resizes the relative position bias tables)");
}

BackboneLoadOptions loadOptionsFrom(const CheckpointArgs& args)
{
    auto positive = [](int64_t value, const char* flag) -> std::optional<int64_t> {
        if (value < 0)
            throw std::invalid_argument(std::string(flag) + ": expected > 0, found " + std::to_string(value));
        return value > 0 ? std::optional<int64_t>(value) : std::nullopt;
    };
    BackboneLoadOptions options;
    options.heads = positive(args.heads, "--heads");
    options.imageSize = positive(args.imageSize, "--image-size");
    options.patchSize = positive(args.patchSize, "--patch-size");
    options.numFrames = positive(args.frames, "--frames");
    options.windowSize = positive(args.window, "--window");
    if (args.numClasses < -1)
        throw std::invalid_argument("--num-classes: expected >= 0, found " + std::to_string(args.numClasses));
    options.numClasses = 0;
    return options;
}

CheckpointNetwork loadCheckpointNetwork(
    const LoadedCheckpoint& checkpoint, const CheckpointArgs& args, const BackboneLoadOptions& options)
{
    CheckpointNetwork loaded;
    BackboneLoadOptions load = options;
    load.numClasses = 0; // the task builds the head from the file's tensors
    loaded.backbone = loadBackbone(checkpoint, load, &loaded.report);
    const ArchitectureRecord record = ArchitectureRecord::presentIn(checkpoint.metadata)
        ? ArchitectureRecord::readFrom(checkpoint.metadata, checkpoint.path)
        : ArchitectureRecord {};
    if (record.task == "segmentation") {
        // A segmentation head's size is read from its classifier: [classes, head channels, 1, 1].
        const torch::Tensor* classifier = findTensor(loaded.report.headTensors, "head.classifier.weight");
        if (!classifier || classifier->dim() != 4)
            throw std::runtime_error(checkpoint.path + ": metadata says task segmentation, but the file has no "
                + "head.classifier.weight [classes, channels, 1, 1]: it holds no segmentation head");
        if (args.numClasses >= 0 && args.numClasses != classifier->size(0))
            throw std::invalid_argument("--num-classes " + std::to_string(args.numClasses) + ": the segmentation head of "
                + checkpoint.path + " predicts " + std::to_string(classifier->size(0)) + " classes");
        loaded.numClasses = classifier->size(0);
        TaskOptions options = taskOptions("segmentation", loaded.numClasses);
        options.classNames = record.classNames;
        options.headDim = classifier->size(1);
        std::shared_ptr<Task> task = createTask(options);
        loaded.headNotes = task->buildHead(*loaded.backbone, loaded.report.headTensors, /*reuse=*/true);
        loaded.network = Network(loaded.backbone, std::move(task));
        return loaded;
    }
    loaded.numClasses = args.numClasses >= 0 ? args.numClasses : loaded.report.checkpointNumClasses;
    if (loaded.numClasses > 0) {
        std::shared_ptr<Task> task = createTask(taskOptions("classification", loaded.numClasses));
        loaded.headNotes = task->buildHead(*loaded.backbone, loaded.report.headTensors, /*reuse=*/true);
        loaded.network = Network(loaded.backbone, std::move(task));
    }
    return loaded;
}

void printLoadWarnings(const BackboneLoadReport& report)
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
