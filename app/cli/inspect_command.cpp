// dr2net-cli inspect: what a checkpoint holds and the Dr²Net it becomes.
#include "app/cli/checkpoint_args.h"
#include "app/cli/commands.h"

#include "core/vit_loader.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct InspectArgs {
    CheckpointArgs checkpoint;
    bool json = false;
};

void runInspect(const InspectArgs& args)
{
    const LoadedCheckpoint checkpoint = readCheckpoint(args.checkpoint.path);
    ViTLoadOptions options;
    options.overrides = overridesFrom(args.checkpoint);
    options.allowMissing = true; // inspect shows the gaps instead of refusing
    ViTLoadReport report;
    ViT model = loadViT(checkpoint, options, &report);
    const ViTOptions& o = model->options();
    int64_t modelParameters = 0;
    for (const auto& p : model->parameters())
        modelParameters += p.numel();

    nlohmann::ordered_json json = {
        { "path", checkpoint.path },
        { "format", toString(checkpoint.format) },
        { "naming", toString(report.info.scheme) },
        { "architecture", report.info.video ? "video_vit" : "vit" },
        { "embed_dim", o.embedDim },
        { "depth", o.depth },
        { "heads", o.heads },
        { "heads_source", report.info.headsSource },
        { "mlp_ratio", o.mlpRatio },
        { "patch_size", o.patchSize },
        { "image_size", o.imageSize },
        { "checkpoint_image_size", report.info.checkpointImageSize },
        { "in_channels", o.inChannels },
        { "num_classes", o.numClasses },
        { "checkpoint_num_classes", report.info.checkpointNumClasses },
        { "class_token", o.classToken },
        { "global_pool", o.globalPool },
        { "fc_norm", o.globalPool && o.fcNorm },
        { "qkv_bias", o.qkvBias },
        { "layer_scale", o.layerScaleInit > 0.0 },
        { "position_embedding", o.fixedPosEmbed ? "sinusoid" : "learned" },
        { "tensors", checkpoint.tensors.size() },
        { "file_parameters", report.info.parameterCount },
        { "model_parameters", modelParameters },
        { "branches", model->stack().size() },
        { "head_replaced", report.headReplaced },
        { "pos_embed_resized", report.posEmbedResized },
        { "missing_keys", report.missingKeys },
        { "unexpected_keys", report.unexpectedKeys },
        { "nan_tensors", report.nanTensors },
        { "notes", report.notes },
        { "metadata", checkpoint.metadata },
    };
    if (report.info.video) {
        json["frames"] = o.numFrames;
        json["tubelet_size"] = o.tubeletSize;
    }
    if (args.json) {
        std::cout << json.dump() << std::endl;
        return;
    }
    for (const auto& [key, value] : json.items()) {
        if ((value.is_array() || value.is_object()) && value.empty())
            continue;
        std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
    std::cout.flush();
    printLoadWarnings(report);
}

} // namespace

void addInspectCommand(CLI::App& app)
{
    auto args = std::make_shared<InspectArgs>();
    CLI::App* command = app.add_subcommand("inspect",
        "Show a checkpoint's format, naming, inferred ViT hyperparameters, sizes and metadata");
    addCheckpointOptions(*command, args->checkpoint);
    command->add_flag("--json", args->json, "one JSON object on stdout");
    command->callback([args] { runInspect(*args); });
}

} // namespace dr2::cli
