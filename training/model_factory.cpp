#include "training/model_factory.h"

#include "core/safetensors.h"
#include "core/vit_loader.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace dr2 {
namespace {

const char* kArchitectureKey = "dr2net.architecture";

nlohmann::json architectureJson(const ViTOptions& o)
{
    return { { "family", "vit" }, { "embed_dim", o.embedDim }, { "depth", o.depth }, { "heads", o.heads },
        { "mlp_ratio", o.mlpRatio }, { "patch_size", o.patchSize }, { "image_size", o.imageSize },
        { "in_channels", o.inChannels }, { "num_classes", o.numClasses }, { "qkv_bias", o.qkvBias },
        { "layer_scale_init", o.layerScaleInit }, { "global_pool", o.globalPool } };
}

} // namespace

ViTOptions vitOptionsFor(const TrainConfig& config, int64_t numClasses)
{
    ViTOptions o = vitPreset(config.model.preset);
    if (config.model.depth)
        o.depth = config.model.depth;
    if (config.model.embedDim)
        o.embedDim = config.model.embedDim;
    if (config.model.heads)
        o.heads = config.model.heads;
    o.imageSize = config.model.imageSize;
    o.patchSize = config.model.patchSize;
    o.inChannels = config.model.inChannels;
    o.numFrames = config.model.numFrames;
    o.tubeletSize = config.model.tubeletSize;
    o.numClasses = numClasses;
    o.dropout = config.model.dropout;
    o.attnDropout = config.model.dropout;
    o.dropPath = config.model.dropPath;
    o.stack.firstSkip = parseFirstSkip(config.model.firstSkip);
    o.validate();
    return o;
}

BuiltModel buildModel(const TrainConfig& config, int64_t numClasses)
{
    BuiltModel built;
    torch::manual_seed(config.seed);
    const bool scratch = config.strategy == Strategy::ReversibleScratch || config.model.checkpoint.empty();
    ViTOptions options = vitOptionsFor(config, numClasses);
    if (scratch) {
        built.model = ViT(options);
        built.source = "random";
        if (!config.model.checkpoint.empty())
            built.notes.push_back("strategy " + toString(config.strategy) + " starts from random weights; checkpoint ignored");
        return built;
    }

    const std::string& path = config.model.checkpoint;
    ViTLoadOptions load;
    load.overrides.imageSize = config.model.imageSize;
    load.overrides.numClasses = numClasses;
    if (config.model.numFrames > 0)
        load.overrides.numFrames = config.model.numFrames;
    ViTLoadReport report;
    ViT loaded = loadViT(path, load, &report);

    // The architecture comes from the checkpoint; regularisation and the Dr²Net options from the config.
    options = loaded->options();
    options.dropout = config.model.dropout;
    options.attnDropout = config.model.dropout;
    options.dropPath = config.model.dropPath;
    options.stack.firstSkip = parseFirstSkip(config.model.firstSkip);
    if (options.inChannels != config.model.inChannels)
        throw std::invalid_argument("config model.in_channels " + std::to_string(config.model.inChannels)
            + ": the checkpoint '" + path + "' expects " + std::to_string(options.inChannels) + " channels");
    built.model = ViT(options);
    {
        torch::NoGradGuard noGrad;
        auto source = loaded->named_parameters();
        for (auto& item : built.model->named_parameters())
            item.value().copy_(source[item.key()]);
        auto sourceBuffers = loaded->named_buffers();
        for (auto& item : built.model->named_buffers())
            item.value().copy_(sourceBuffers[item.key()]);
    }
    built.source = path + " (" + toString(report.format) + ", " + toString(report.info.scheme) + " names)";
    if (report.posEmbedResized)
        built.notes.push_back("position embedding resized " + std::to_string(report.oldGrid) + "×"
            + std::to_string(report.oldGrid) + " → " + std::to_string(report.newGrid) + "×" + std::to_string(report.newGrid)
            + " for " + std::to_string(options.imageSize) + "² images");
    if (report.headReplaced) {
        built.notes.push_back("classification head replaced: " + std::to_string(report.oldNumClasses) + " → "
            + std::to_string(report.newNumClasses) + " classes");
    } else if (config.model.resetHead) {
        built.model->replaceHead(numClasses);
        built.notes.push_back("classification head re-initialised for the new task (model.reset_head)");
    }
    for (const auto& name : report.unexpectedKeys)
        built.notes.push_back("warning: checkpoint tensor " + name + " is not used");
    for (const auto& name : report.nanTensors)
        built.notes.push_back("warning: checkpoint tensor " + name + " holds NaN or Inf values");
    for (const auto& note : report.notes)
        built.notes.push_back(note);
    return built;
}

void saveNativeCheckpoint(const std::string& path, ViTImpl& model, const std::map<std::string, std::string>& extra)
{
    StateDict tensors;
    for (const auto& item : model.named_parameters(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach());
    for (const auto& item : model.named_buffers(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach());
    Metadata metadata(extra.begin(), extra.end());
    metadata["format"] = "pt"; // what safetensors' Python loader expects for torch tensors
    metadata[kArchitectureKey] = architectureJson(model.options()).dump();
    metadata["num_heads"] = std::to_string(model.options().heads); // read back by describeViT
    // Shortest round-trip text (std::to_string keeps 6 decimals, which changes a mid-schedule α or β).
    metadata["dr2net.alpha"] = nlohmann::json(model.stack().alpha()).dump();
    metadata["dr2net.beta"] = nlohmann::json(model.stack().beta()).dump();
    metadata["dr2net.first_skip"] = toString(model.stack().firstSkip());
    writeSafetensors(path, tensors, metadata);
}

} // namespace dr2
