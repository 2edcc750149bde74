#include "core/backbone_registry.h"

#include "core/backbones/swin/swin.h"
#include "core/backbones/swin/swin_loader.h"
#include "core/backbones/vit/vit.h"
#include "core/backbones/vit/vit_loader.h"
#include "core/architecture_record.h"

#include <algorithm>
#include <stdexcept>

namespace dr2 {

namespace {

std::string join(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

/// What a load with BackboneLoadOptions::loadWeights off returns: `fresh` (the loaded architecture, constructed
/// anew, so its weights are initialised as the family's create initialises them), with the report cleared of what
/// only loaded weights have (head tensors to reuse, NaN warnings, missing and unused tensors).
BackbonePtr architectureOnly(BackbonePtr fresh, BackboneLoadReport& out)
{
    out.headTensors.clear();
    out.nanTensors.clear();
    out.missingKeys.clear();
    out.unexpectedKeys.clear();
    out.notes.push_back("weights not loaded: the file's architecture, freshly initialised");
    return fresh;
}

// Swin v1 ("swin", 2-D names) and Video Swin ("video-swin") share one model and one loader; they differ in presets,
// the names export writes and which files they claim.
BackboneFamily swinFamily(bool video)
{
    BackboneFamily family;
    family.name = video ? "video-swin" : "swin";
    family.title = video ? "Video Swin Transformer (Video Swin release names)"
                         : "Swin Transformer v1 (torchvision, timm, official release names)";
    family.presets = video ? videoSwinPresetNames() : swinPresetNames();
    family.recognizes = [video](const StateDict& tensors) {
        const std::optional<SwinNaming> naming = recognizeSwinNaming(tensors);
        return naming && isVideoSwin(tensors, *naming) == video;
    };
    family.create = [video](const BackboneSpec& spec) -> BackbonePtr {
        SwinOptions o = swinPreset(spec.preset);
        if (spec.depth > 0)
            o.depths = scaleDepths(o.depths, spec.depth);
        if (spec.embedDim > 0)
            o.embedDim = spec.embedDim;
        if (spec.heads > 0) // stage-1 heads; later stages double them, as the presets do
            for (size_t s = 0; s < o.heads.size(); ++s)
                o.heads[s] = spec.heads << s;
        if (spec.window > 0)
            o.window = { o.window[0], spec.window, spec.window };
        o.imageHeight = spec.input.height;
        o.imageWidth = spec.input.width;
        o.inChannels = spec.input.channels;
        if (spec.input.frames > 0 && !video)
            throw std::invalid_argument("model '" + spec.preset + "' takes images: " + std::to_string(spec.input.frames)
                + " frames need a video preset (" + join(videoSwinPresetNames()) + ")");
        if (spec.input.frames > 0)
            o.numFrames = spec.input.frames;
        if (spec.patchSize > 0)
            o.patch = { video ? spec.tubeletSize : 1, spec.patchSize, spec.patchSize };
        o.numClasses = spec.numClasses;
        o.dropout = spec.dropout;
        o.attnDropout = spec.dropout;
        o.dropPath = spec.dropPath;
        o.stack = spec.stack;
        o.validate();
        return Swin(o).ptr();
    };
    family.load = [](const LoadedCheckpoint& checkpoint, const BackboneLoadOptions& options,
                      BackboneLoadReport& out) -> BackbonePtr {
        SwinLoadOptions load;
        load.overrides.imageSize = options.imageSize;
        load.overrides.numFrames = options.numFrames;
        load.overrides.windowSize = options.windowSize;
        load.overrides.numClasses = options.numClasses;
        load.stack = options.stack;
        load.allowMissing = options.allowMissing;
        load.dropout = options.dropout;
        load.dropPath = options.dropPath;
        SwinLoadReport report;
        Swin model = loadSwin(checkpoint, load, &report);
        const SwinOptions& o = model->options();
        const SwinCheckpointInfo& info = report.info;
        out.format = report.format;
        out.family = model->family();
        out.naming = toString(info.naming);
        out.checkpointImageSize = o.imageHeight; // no position table: the size the model is built for
        out.checkpointNumClasses = info.checkpointNumClasses;
        out.fileParameters = info.parameterCount;
        out.video = info.video;
        out.missingKeys = report.missingKeys;
        out.unexpectedKeys = report.unexpectedKeys;
        out.nanTensors = report.nanTensors;
        // The patch comes from the patch convolution and the heads from the bias tables: say so instead of
        // silently dropping what was asked for.
        if (options.heads)
            out.notes.push_back("heads " + std::to_string(*options.heads) + " ignored: Swin heads come from the bias tables");
        if (options.patchSize)
            out.notes.push_back(
                "patch size " + std::to_string(*options.patchSize) + " ignored: it comes from the patch embedding");
        out.notes.insert(out.notes.end(), report.notes.begin(), report.notes.end());
        out.headTensors = std::move(report.headTensors);
        if (!options.loadWeights)
            return architectureOnly(Swin(o).ptr(), out);
        return model.ptr();
    };
    family.namings = video ? std::vector<std::string> { "dr2", "video-swin" }
                           : std::vector<std::string> { "dr2", "torchvision", "timm", "official" };
    family.detectNaming = [](const StateDict& tensors, const std::string& source) {
        return toString(detectSwinNaming(tensors, source));
    };
    family.rename = [namings = family.namings, name = family.name](const StateDict& tensors, const std::string& naming) {
        if (std::find(namings.begin(), namings.end(), naming) == namings.end())
            throw std::invalid_argument(
                "naming scheme '" + naming + "' for a " + name + " backbone: expected " + join(namings));
        return swinFromInternalNames(tensors, parseSwinNaming(naming));
    };
    return family;
}

BackboneFamily vitFamily()
{
    BackboneFamily family;
    family.name = "vit";
    family.title = "Vision Transformer (timm, torchvision, VideoMAE names)";
    family.presets = vitPresetNames();
    family.recognizes = [](const StateDict& tensors) {
        try {
            detectNamingScheme(tensors, "");
            return true;
        } catch (const std::runtime_error&) {
            return false;
        }
    };
    family.create = [](const BackboneSpec& spec) -> BackbonePtr {
        ViTOptions o = vitPreset(spec.preset);
        if (spec.depth)
            o.depth = spec.depth;
        if (spec.embedDim)
            o.embedDim = spec.embedDim;
        if (spec.heads)
            o.heads = spec.heads;
        o.imageSize = spec.input.height;
        o.inChannels = spec.input.channels;
        o.numFrames = spec.input.frames;
        if (spec.patchSize)
            o.patchSize = spec.patchSize;
        o.tubeletSize = spec.tubeletSize;
        o.numClasses = spec.numClasses;
        o.dropout = spec.dropout;
        o.attnDropout = spec.dropout;
        o.dropPath = spec.dropPath;
        o.stack = spec.stack;
        if (spec.input.height != spec.input.width)
            throw std::invalid_argument("ViT input: expected square images, found " + std::to_string(spec.input.height)
                + "×" + std::to_string(spec.input.width));
        o.validate();
        return ViT(o).ptr();
    };
    family.load = [](const LoadedCheckpoint& checkpoint, const BackboneLoadOptions& options,
                      BackboneLoadReport& out) -> BackbonePtr {
        ViTLoadOptions load;
        load.overrides.heads = options.heads;
        load.overrides.imageSize = options.imageSize;
        load.overrides.patchSize = options.patchSize;
        load.overrides.numFrames = options.numFrames;
        load.overrides.globalPool = options.globalPool;
        load.overrides.numClasses = options.numClasses;
        load.stack = options.stack;
        load.allowMissing = options.allowMissing;
        load.dropout = options.dropout;
        load.dropPath = options.dropPath;
        ViTLoadReport report;
        ViT model = loadViT(checkpoint, load, &report);
        const ViTOptions& o = model->options();
        const ViTCheckpointInfo& info = report.info;
        out.format = report.format;
        out.family = "vit";
        out.naming = toString(info.scheme);
        out.checkpointImageSize = info.checkpointImageSize;
        out.checkpointNumClasses = info.checkpointNumClasses;
        out.fileParameters = info.parameterCount;
        out.video = info.video;
        out.missingKeys = report.missingKeys;
        out.unexpectedKeys = report.unexpectedKeys;
        out.nanTensors = report.nanTensors;
        out.notes.push_back("heads " + std::to_string(o.heads) + " from the " + info.headsSource);
        if (report.posEmbedResized)
            out.notes.push_back("position embedding resized " + std::to_string(report.oldGrid) + "×"
                + std::to_string(report.oldGrid) + " → " + std::to_string(report.newGrid) + "×"
                + std::to_string(report.newGrid) + " for " + std::to_string(o.imageSize) + "² images");
        out.notes.insert(out.notes.end(), report.notes.begin(), report.notes.end());
        out.headTensors = std::move(report.headTensors);
        if (!options.loadWeights)
            return architectureOnly(ViT(o).ptr(), out);
        return model.ptr();
    };
    family.namings = { "dr2", "timm", "torchvision" };
    family.detectNaming = [](const StateDict& tensors, const std::string& source) {
        return toString(detectNamingScheme(tensors, source));
    };
    family.rename = [](const StateDict& tensors, const std::string& naming) {
        return fromInternalNames(tensors, parseNamingScheme(naming));
    };
    return family;
}

} // namespace

const std::vector<BackboneFamily>& backboneFamilies()
{
    // The one place that names concrete families. Checkpoints are matched in this order.
    // Swin first: timm's Swin names (patch_embed.proj.*) would otherwise satisfy the ViT family's recogniser.
    static const std::vector<BackboneFamily> families { swinFamily(/*video=*/false), swinFamily(/*video=*/true),
        vitFamily() };
    return families;
}

const BackboneFamily& backboneFamily(const std::string& name)
{
    std::vector<std::string> names;
    for (const auto& family : backboneFamilies()) {
        if (family.name == name)
            return family;
        names.push_back(family.name);
    }
    throw std::invalid_argument("backbone family '" + name + "': expected one of " + join(names));
}

const BackboneFamily& familyOfPreset(const std::string& preset)
{
    for (const auto& family : backboneFamilies())
        for (const auto& p : family.presets)
            if (p == preset)
                return family;
    throw std::invalid_argument("model '" + preset + "': expected one of " + join(backbonePresetNames()));
}

const BackboneFamily& familyOfCheckpoint(const LoadedCheckpoint& checkpoint)
{
    for (const auto& family : backboneFamilies())
        if (family.recognizes(checkpoint.tensors))
            return family;
    // The first family's own message says what it looked for; with one family that is the whole story.
    if (backboneFamilies().size() == 1)
        detectNamingScheme(checkpoint.tensors, checkpoint.path);
    std::vector<std::string> names;
    for (const auto& family : backboneFamilies())
        names.push_back(family.name);
    throw std::runtime_error("checkpoint " + checkpoint.path + ": no known backbone family uses these tensor names ("
        + join(names) + ")");
}

const BackboneFamily& familyOfExport(const LoadedCheckpoint& checkpoint)
{
    auto family = checkpoint.metadata.find(metadata_key::kFamily);
    if (family != checkpoint.metadata.end())
        return backboneFamily(family->second);
    return familyOfCheckpoint(checkpoint);
}

std::vector<std::string> backbonePresetNames()
{
    std::vector<std::string> names;
    for (const auto& family : backboneFamilies())
        names.insert(names.end(), family.presets.begin(), family.presets.end());
    return names;
}

BackbonePtr createBackbone(const BackboneSpec& spec)
{
    return familyOfPreset(spec.preset).create(spec);
}

BackbonePtr loadBackbone(const std::string& path, const BackboneLoadOptions& options, BackboneLoadReport* report)
{
    return loadBackbone(readCheckpoint(path), options, report);
}

BackbonePtr loadBackbone(const LoadedCheckpoint& checkpoint, const BackboneLoadOptions& options, BackboneLoadReport* report)
{
    BackboneLoadReport local;
    BackboneLoadReport& out = report ? *report : local;
    out = BackboneLoadReport();
    return familyOfCheckpoint(checkpoint).load(checkpoint, options, out);
}

} // namespace dr2
