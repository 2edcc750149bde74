#include "app/cli/model_args.h"

#include "core/device.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

namespace dr2::cli {

namespace {

    std::string presetList()
    {
        std::string names;
        for (const auto& name : backbonePresetNames())
            names += (names.empty() ? "" : ", ") + name;
        return names;
    }

} // namespace

void addModelOptions(CLI::App& command, ModelArgs& args)
{
    command.add_option("--model", args.model, "backbone preset: " + presetList())->capture_default_str();
    command.add_option("--depth", args.depth,
        "depth of the backbone: ViT layers, Swin blocks over all stages in the preset's proportions (default: the "
        "preset's)");
    command.add_option("--image", args.imageSize, "image side in pixels (default: 224)");
    command.add_option("--patch", args.patchSize, "patch side in pixels (default: the preset's)");
    command.add_option("--window", args.window, "attention window side of a Swin backbone (default: the preset's)");
    command.add_option("--frames", args.frames, "frames per clip of a video backbone (default: the preset's)");
    command.add_option("--heads", args.heads, "attention heads, of stage 1 for Swin (default: the preset's)");
    command.add_option("--classes", args.numClasses, "classes of the head")->capture_default_str();
    command.add_option("--task", args.task, "classification (a linear head on pooled features) or segmentation (a dense "
                                            "FPN head, a class per pixel)")
        ->check(CLI::IsMember({ "classification", "segmentation" }))
        ->capture_default_str();
    command.add_option("--batch", args.batch, "images per step")->capture_default_str();
    command.add_option("--dropout", args.dropout, "dropout probability in the branches")->capture_default_str();
    command.add_option("--drop-path", args.dropPath, "stochastic depth of the last layer")->capture_default_str();
    command.add_option("--first-skip", args.firstSkip, "y_0 = beta*x_0 (scaled) or x_0 (input)")
        ->check(CLI::IsMember({ "scaled", "input" }))
        ->capture_default_str();
    command.add_option("--segment-every", args.segmentEvery, "reversible or checkpointed segments of k branches, per stage (0: one segment; bench's checkpointed rows: about √N)")
        ->capture_default_str();
    command.add_option("--seed", args.seed, "random seed for weights and data")->capture_default_str();
    command.add_option("--threads", args.threads, "intra-op threads (0: LibTorch default)")->capture_default_str();
    command.add_option("--device", args.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
}

c10::Device setUpRuntime(const ModelArgs& args)
{
    if (args.threads < 0)
        throw std::invalid_argument("--threads: expected >= 0, found " + std::to_string(args.threads));
    if (args.threads > 0)
        torch::set_num_threads(args.threads);
    torch::manual_seed(args.seed);
    return parseDevice(args.device);
}

BackboneSpec backboneSpecFrom(const ModelArgs& args)
{
    familyOfPreset(args.model);
    auto nonNegative = [](int64_t value, const char* flag) {
        if (value < 0)
            throw std::invalid_argument(std::string(flag) + ": expected >= 0, found " + std::to_string(value));
        return value;
    };
    if (args.batch <= 0)
        throw std::invalid_argument("--batch: expected > 0, found " + std::to_string(args.batch));
    BackboneSpec spec;
    spec.preset = args.model;
    spec.depth = nonNegative(args.depth, "--depth");
    spec.heads = nonNegative(args.heads, "--heads");
    if (nonNegative(args.imageSize, "--image") > 0)
        spec.input.height = spec.input.width = args.imageSize;
    if (nonNegative(args.patchSize, "--patch") > 0)
        spec.patchSize = args.patchSize;
    spec.window = nonNegative(args.window, "--window");
    if (nonNegative(args.frames, "--frames") > 0)
        spec.input.frames = args.frames;
    spec.dropout = args.dropout;
    spec.dropPath = args.dropPath;
    spec.stack.firstSkip = parseFirstSkip(args.firstSkip);
    nonNegative(args.segmentEvery, "--segment-every");
    return spec;
}

ProbeNetworkSource probeSourceFrom(const ModelArgs& args, const c10::Device& device)
{
    ProbeNetworkSource source;
    source.spec = backboneSpecFrom(args);
    if (args.numClasses <= 0)
        throw std::invalid_argument("--classes: expected > 0, found " + std::to_string(args.numClasses));
    source.numClasses = args.numClasses;
    source.task = args.task;
    source.seed = args.seed;
    source.segmentEvery = args.segmentEvery;
    source.device = device;
    return source;
}

} // namespace dr2::cli
