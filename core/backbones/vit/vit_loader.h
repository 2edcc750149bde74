#pragma once

#include "core/checkpoint.h"
#include "core/backbones/vit/vit.h"

#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// Which parameter names a ViT checkpoint uses.
enum class NamingScheme {
    Dr2, ///< our own module names (patch_embed.weight, stack.branches.N.qkv.weight, ...)
    Timm, ///< timm / VideoMAE (patch_embed.proj.weight, blocks.N.attn.qkv.weight, ...)
    Torchvision, ///< torchvision (conv_proj.weight, encoder.layers.encoder_layer_N..., heads.head)
};

/// "dr2", "timm" or "torchvision".
std::string toString(NamingScheme scheme);
/// Parses "dr2" / "timm" / "torchvision"; throws std::invalid_argument naming the allowed values.
NamingScheme parseNamingScheme(const std::string& name);

/// Detects the naming scheme from the tensor names; throws std::runtime_error listing what was looked for.
NamingScheme detectNamingScheme(const StateDict& tensors, const std::string& source);

/// Renames a ViT state dict from `scheme` to our internal names. Timm's separate q_bias/v_bias (VideoMAE)
/// become one qkv bias with a zero key part; names that do not belong to a ViT are kept unchanged.
StateDict toInternalNames(const StateDict& tensors, NamingScheme scheme);
/// Renames our internal names to `scheme` (for export; torchvision gets its >= 0.14 names mlp.0 / mlp.3).
StateDict fromInternalNames(const StateDict& tensors, NamingScheme scheme);
/// One internal name in `scheme`'s spelling (for messages); unknown names come back unchanged.
std::string externalName(const std::string& internalName, NamingScheme scheme);

/// Values that replace what would be inferred from a checkpoint.
struct ViTOverrides {
    std::optional<int64_t> heads; ///< required when neither metadata nor the standard size table gives it
    std::optional<int64_t> imageSize; ///< the finetuning resolution; position embeddings are resized to it
    std::optional<int64_t> patchSize;
    std::optional<int64_t> numClasses; ///< a different count replaces the head (reported)
    std::optional<int64_t> numFrames; ///< video models: frames per clip
    std::optional<bool> globalPool; ///< timm's global_pool='avg' without fc_norm cannot be seen in the tensors
};

/// What a checkpoint says about the ViT inside it.
struct ViTCheckpointInfo {
    NamingScheme scheme = NamingScheme::Timm;
    ViTOptions options; ///< inferred hyperparameters with the overrides applied
    int64_t checkpointImageSize = 0; ///< the resolution the position embedding was trained for
    int64_t checkpointNumClasses = 0; ///< classes of the checkpoint's head (0: none)
    std::string headsSource; ///< "override", "metadata" or "standard size table"
    int64_t parameterCount = 0; ///< elements of all tensors in the file
    bool video = false;
    std::vector<std::string> notes;
};

/// Infers the ViT hyperparameters from a checkpoint's tensors and metadata. Heads come from the overrides,
/// else the metadata ("num_heads", "heads" or an "architecture" JSON with "heads"), else the standard size
/// table (192→3, 384→6, 768→12, 1024→16, 1280→16); otherwise throws asking for --heads.
ViTCheckpointInfo describeViT(const LoadedCheckpoint& checkpoint, const ViTOverrides& overrides = {});

/// How to turn a checkpoint into a Dr²Net ViT.
struct ViTLoadOptions {
    ViTOverrides overrides;
    Dr2StackOptions stack; ///< α, β, first skip, mode, segments of the new network
    double dropout = 0.0; ///< dropout (also on attention weights) of the new network: a training choice, not the file's
    double dropPath = 0.0; ///< stochastic depth of the last layer (earlier layers get linearly less)
    bool allowMissing = false; ///< false: refuse a checkpoint that lacks a tensor the model needs
};

/// What loadViT did.
struct ViTLoadReport {
    CheckpointFormat format = CheckpointFormat::Safetensors;
    ViTCheckpointInfo info;
    std::vector<std::string> missingKeys; ///< model tensors not in the file (internal names), left initialised
    std::vector<std::string> unexpectedKeys; ///< file tensors the model has no place for (file names)
    bool headReplaced = false; ///< a new head for overrides.numClasses
    int64_t oldNumClasses = 0;
    int64_t newNumClasses = 0;
    bool posEmbedResized = false;
    int64_t oldGrid = 0; ///< patches per side in the file
    int64_t newGrid = 0;
    std::vector<std::string> nanTensors; ///< file names of tensors holding NaN or Inf (a warning)
    std::vector<std::string> notes; ///< reader notes and dtype conversions
    StateDict headTensors; ///< with headReplaced: the file's classifier (internal names "head.*"), not loaded
};

/// Reads `path`, builds the Dr²Net ViT it describes and copies the weights in. Refuses shape mismatches
/// ("tensor blocks.1.attn.qkv.weight: expected [96, 32], found [32, 96]") and, unless allowMissing, missing
/// tensors. Fills `report` when given.
ViT loadViT(const std::string& path, const ViTLoadOptions& options, ViTLoadReport* report = nullptr);
/// The same for a checkpoint already read.
ViT loadViT(const LoadedCheckpoint& checkpoint, const ViTLoadOptions& options, ViTLoadReport* report = nullptr);

} // namespace dr2
