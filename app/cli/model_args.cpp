#include "app/cli/model_args.h"

#include "core/device.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

namespace dr2::cli {

void addModelOptions(CLI::App& command, ModelArgs& args)
{
    command.add_option("--model", args.model, "ViT size: vit-ti, vit-s, vit-b, vit-l")->capture_default_str();
    command.add_option("--depth", args.depth, "transformer layers (default: the model's)");
    command.add_option("--image", args.imageSize, "image side in pixels (default: 224)");
    command.add_option("--patch", args.patchSize, "patch side in pixels (default: 16)");
    command.add_option("--heads", args.heads, "attention heads (default: the model's)");
    command.add_option("--classes", args.numClasses, "classes of the linear head")->capture_default_str();
    command.add_option("--batch", args.batch, "images per step")->capture_default_str();
    command.add_option("--dropout", args.dropout, "dropout probability in the branches")->capture_default_str();
    command.add_option("--drop-path", args.dropPath, "stochastic depth of the last layer")->capture_default_str();
    command.add_option("--first-skip", args.firstSkip, "y_0 = beta*x_0 (scaled) or x_0 (input)")
        ->check(CLI::IsMember({ "scaled", "input" }))
        ->capture_default_str();
    command.add_option("--segment-every", args.segmentEvery, "reversible segments of k branches (0: one segment)")
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

ViTOptions vitOptionsFrom(const ModelArgs& args)
{
    ViTOptions options = vitPreset(args.model);
    if (args.depth)
        options.depth = args.depth;
    if (args.imageSize)
        options.imageSize = args.imageSize;
    if (args.patchSize)
        options.patchSize = args.patchSize;
    if (args.heads)
        options.heads = args.heads;
    if (args.batch <= 0)
        throw std::invalid_argument("--batch: expected > 0, found " + std::to_string(args.batch));
    options.numClasses = args.numClasses;
    options.dropout = args.dropout;
    options.dropPath = args.dropPath;
    options.stack.firstSkip = parseFirstSkip(args.firstSkip);
    if (args.segmentEvery < 0)
        throw std::invalid_argument("--segment-every: expected >= 0, found " + std::to_string(args.segmentEvery));
    options.validate();
    return options;
}

std::pair<torch::Tensor, torch::Tensor> randomBatch(const ViTOptions& options, int64_t batch, const c10::Device& device)
{
    auto images = torch::randn({ batch, options.inChannels, options.imageSize, options.imageSize });
    auto labels = torch::randint(0, std::max<int64_t>(options.numClasses, 1), { batch }, torch::kLong);
    return { images.to(device), labels.to(device) };
}

} // namespace dr2::cli
