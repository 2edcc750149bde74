#pragma once

#include "core/backbone.h"
#include "core/checkpoint.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// What a user sets for a backbone built from scratch: a preset plus overrides (0: the preset's value).
/// Each family reads the fields that apply to it (a ViT's depth is its layer count; a Swin's, per stage).
struct BackboneSpec {
    std::string preset = "vit-ti";
    int64_t depth = 0;
    int64_t embedDim = 0;
    int64_t heads = 0;
    InputShape input { 3, 224, 224, 0 };
    int64_t patchSize = 0; ///< pixels per patch side; 0: the preset's
    int64_t tubeletSize = 2; ///< frames per video token
    int64_t window = 0; ///< attention window side of windowed families (Swin); 0: the preset's
    double dropout = 0.0;
    double dropPath = 0.0;
    /// Classes of the family's own head (0: none; training builds the head through its task).
    int64_t numClasses = 0;
    Dr2StackOptions stack;
};

/// How to turn a checkpoint into a backbone: the architecture comes from the file, these override it.
struct BackboneLoadOptions {
    std::optional<int64_t> heads; ///< when the file cannot tell (no metadata, non-standard width)
    std::optional<int64_t> imageSize; ///< the finetuning resolution; position tables are resized to it
    std::optional<int64_t> patchSize;
    std::optional<int64_t> numFrames; ///< video models: frames per clip
    std::optional<int64_t> windowSize; ///< windowed families (Swin): the finetuning window; bias tables are resized
    std::optional<bool> globalPool; ///< mean pooling instead of a class token, where the file cannot tell
    /// Classes of the family's own head: unset keeps the file's head, 0 leaves it out (its tensors are returned in
    /// BackboneLoadReport::headTensors for the task to use).
    std::optional<int64_t> numClasses = 0;
    double dropout = 0.0;
    double dropPath = 0.0;
    Dr2StackOptions stack;
    bool allowMissing = false; ///< false: refuse a file that lacks a tensor the backbone needs
    /// false: the file's architecture (at the options above) with freshly initialised weights, drawn from the
    /// default generator as the family's create draws them: a from-scratch baseline of the same network. The
    /// report then describes the file but names no head tensors and no NaN warnings (nothing was taken from it).
    bool loadWeights = true;
};

/// What loading did, in terms every front end can show.
struct BackboneLoadReport {
    CheckpointFormat format = CheckpointFormat::Safetensors;
    std::string family; ///< "vit"
    std::string naming; ///< the file's naming scheme ("timm", "torchvision", "dr2")
    int64_t checkpointImageSize = 0; ///< the resolution the file's position table was trained for
    int64_t checkpointNumClasses = 0; ///< classes of the file's classifier (0: none)
    int64_t fileParameters = 0; ///< elements of all tensors in the file
    bool video = false;
    std::vector<std::string> missingKeys; ///< backbone tensors not in the file, left initialised
    std::vector<std::string> unexpectedKeys; ///< file tensors the backbone has no place for (file names)
    std::vector<std::string> nanTensors; ///< file names of tensors holding NaN or Inf (a warning)
    /// What was inferred or adapted, one line each ("heads 3 from the standard size table", "position embedding
    /// resized 7×7 → 14×14", reader notes, dtype conversions).
    std::vector<std::string> notes;
    StateDict headTensors; ///< the file's classifier in our names ("head.weight", "head.bias"), not loaded
};

/// One backbone family: how to recognise its checkpoints, build it and load it. Registered in
/// core/backbone_registry.cpp, the only place that names concrete families.
struct BackboneFamily {
    std::string name; ///< "vit"
    std::string title; ///< "Vision Transformer (timm, torchvision, VideoMAE)"
    std::vector<std::string> presets; ///< "vit-ti", ...
    /// True when the tensor names look like this family's.
    std::function<bool(const StateDict&)> recognizes;
    /// A randomly initialised backbone (draws from the default generator).
    std::function<BackbonePtr(const BackboneSpec&)> create;
    /// A backbone holding a checkpoint's weights; fills the report.
    std::function<BackbonePtr(const LoadedCheckpoint&, const BackboneLoadOptions&, BackboneLoadReport&)> load;
    /// The naming schemes export can write ("dr2" first: the product's own names, Network::exportTensors()).
    std::vector<std::string> namings;
    /// The naming scheme of a checkpoint of this family (throws std::runtime_error naming `source`).
    std::function<std::string(const StateDict&, const std::string& source)> detectNaming;
    /// Renames tensors in our names to `naming` (one of `namings`; throws std::invalid_argument otherwise).
    std::function<StateDict(const StateDict&, const std::string& naming)> rename;
};

/// Every registered family.
const std::vector<BackboneFamily>& backboneFamilies();
/// The family with this name; throws std::invalid_argument listing the names.
const BackboneFamily& backboneFamily(const std::string& name);
/// The family a preset belongs to; throws std::invalid_argument listing the presets.
const BackboneFamily& familyOfPreset(const std::string& preset);
/// The family whose names the checkpoint uses; throws std::runtime_error naming the file and what was looked for.
const BackboneFamily& familyOfCheckpoint(const LoadedCheckpoint& checkpoint);
/// All presets of all families, in registration order.
std::vector<std::string> backbonePresetNames();

/// The family a file written with our own names belongs to (its ArchitectureRecord's family, else by names).
const BackboneFamily& familyOfExport(const LoadedCheckpoint& checkpoint);

/// A randomly initialised backbone for `spec` (validated by its family).
BackbonePtr createBackbone(const BackboneSpec& spec);
/// Reads `path` (any format core/checkpoint reads) and loads the backbone it holds.
BackbonePtr loadBackbone(const std::string& path, const BackboneLoadOptions& options, BackboneLoadReport* report = nullptr);
/// The same for a checkpoint already read.
BackbonePtr loadBackbone(
    const LoadedCheckpoint& checkpoint, const BackboneLoadOptions& options, BackboneLoadReport* report = nullptr);

} // namespace dr2
