#pragma once

// Swin Transformer v1 and Video Swin checkpoints: the naming schemes of torchvision, timm, the official Swin release
// and the Video Swin release (mmaction2), inference of the architecture from the tensors, and loading into SwinImpl.

#include "core/backbones/swin/swin.h"
#include "core/checkpoint.h"

#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// Which parameter names a Swin checkpoint uses.
enum class SwinNaming {
    Dr2, ///< our own module names (patch_embed.weight, stages.S.branches.N.qkv.weight, merges.S.*, ...)
    Torchvision, ///< torchvision (features.0.0.weight, features.{1+2S}.N.attn.qkv.weight, features.{2+2S}.reduction)
    Timm, ///< timm >= 0.9 (layers.S.blocks.N.*, the merging after stage S as layers.{S+1}.downsample.*, head.fc)
    Official, ///< the Swin release and older timm (layers.S.downsample.* at the end of stage S, head.*)
    VideoSwin, ///< the Video Swin release / mmaction2 (backbone.patch_embed.proj as Conv3d, ..., cls_head.fc_cls)
};

/// "dr2", "torchvision", "timm", "official" or "video-swin".
std::string toString(SwinNaming naming);
/// Parses the names toString writes; throws std::invalid_argument naming the allowed values.
SwinNaming parseSwinNaming(const std::string& name);

/// The naming scheme of a Swin state dict, or nothing when the names are not a Swin's (never throws).
std::optional<SwinNaming> recognizeSwinNaming(const StateDict& tensors);
/// The naming scheme of a Swin state dict; throws std::runtime_error naming `source` and what was looked for.
SwinNaming detectSwinNaming(const StateDict& tensors, const std::string& source);
/// True for a video model's tensors (the Video Swin names, or a Conv3d patch embedding under our names).
bool isVideoSwin(const StateDict& tensors, SwinNaming naming);

/// Renames a Swin state dict from `naming` to our internal names. A Video Swin file's "backbone." prefix is optional.
/// Names that do not belong to a Swin are kept unchanged (the loader reports them as unexpected).
StateDict swinToInternalNames(const StateDict& tensors, SwinNaming naming);
/// Renames our internal names to `naming` for export. relative_position_index is written as torchvision's flat [N²]
/// buffer for torchvision and as [N, N] elsewhere; Video Swin names get the "backbone." prefix.
StateDict swinFromInternalNames(const StateDict& tensors, SwinNaming naming);
/// One internal name in `naming`'s spelling (for messages; `backbonePrefix`: a Video Swin file's "backbone."
/// prefix); unknown names come back unchanged.
std::string swinExternalName(const std::string& internalName, SwinNaming naming, bool backbonePrefix = true);

/// Values that replace what would be inferred from a checkpoint.
struct SwinOverrides {
    std::optional<int64_t> imageSize; ///< square images (default: metadata image_size / img_size, else 224)
    std::optional<int64_t> numFrames; ///< video models: frames per clip (default: metadata num_frames, else 32)
    /// The window to finetune with (h = w; a video window keeps the file's depth). A window other than the file's
    /// resizes every relative position bias table.
    std::optional<int64_t> windowSize;
    /// Unset: the file's classes; another count than the file's replaces the head (0: none).
    std::optional<int64_t> numClasses;
};

/// What a checkpoint says about the Swin inside it.
struct SwinCheckpointInfo {
    SwinNaming naming = SwinNaming::Timm;
    bool backbonePrefix = false; ///< a Video Swin file whose names start with "backbone."
    SwinOptions options; ///< inferred hyperparameters with the overrides applied
    Extent3 fileWindow {}; ///< the window the file's bias tables were trained for
    int64_t checkpointNumClasses = 0; ///< classes of the file's head (0: none)
    int64_t parameterCount = 0; ///< elements of all tensors in the file
    bool video = false;
    /// What was inferred, one line each ("heads 3/6/12/24 from the bias tables", "window 7×7 from the bias
    /// tables", ignored buffers).
    std::vector<std::string> notes;
};

/// Infers the Swin hyperparameters from a checkpoint: from the dr2net.architecture record when the file has one,
/// else from the tensors (embedding and patch from the patch convolution, stages and blocks from the names, heads
/// from each stage's bias table, the window from the tables' rows, MLP ratio from fc1, classes from the head).
/// Throws std::runtime_error "checkpoint <path>: ..." with what was expected and found.
SwinCheckpointInfo describeSwin(const LoadedCheckpoint& checkpoint, const SwinOverrides& overrides = {});

/// How to turn a checkpoint into a Dr²Net Swin.
struct SwinLoadOptions {
    SwinOverrides overrides;
    Dr2StackOptions stack; ///< α, β, first skip, mode, segments of the new network
    double dropout = 0.0; ///< dropout (also on attention weights) of the new network: a training choice
    double dropPath = 0.0; ///< stochastic depth of the last block (earlier blocks get linearly less)
    bool allowMissing = false; ///< false: refuse a checkpoint that lacks a tensor the model needs
};

/// What loadSwin did.
struct SwinLoadReport {
    CheckpointFormat format = CheckpointFormat::Safetensors;
    SwinCheckpointInfo info;
    std::vector<std::string> missingKeys; ///< model tensors not in the file (internal names), left initialised
    std::vector<std::string> unexpectedKeys; ///< file tensors the model has no place for (file names)
    bool headReplaced = false; ///< the file's head was left out (another class count, or none)
    bool tablesResized = false; ///< the bias tables were resized to the window override
    std::vector<std::string> nanTensors; ///< file names of tensors holding NaN or Inf (a warning)
    std::vector<std::string> notes; ///< reader notes, inference notes, resizes and dtype conversions
    StateDict headTensors; ///< with headReplaced: the file's classifier (internal names "head.*"), not loaded
};

/// Reads `path`, builds the Dr²Net Swin it describes and copies the weights in. The files' relative position
/// indices and attention masks are never copied (the model recomputes them). Refuses shape mismatches and, unless
/// allowMissing, missing tensors. Fills `report` when given.
Swin loadSwin(const std::string& path, const SwinLoadOptions& options, SwinLoadReport* report = nullptr);
/// The same for a checkpoint already read.
Swin loadSwin(const LoadedCheckpoint& checkpoint, const SwinLoadOptions& options, SwinLoadReport* report = nullptr);

} // namespace dr2
