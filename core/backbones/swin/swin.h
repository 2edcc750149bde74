#pragma once

// Swin Transformer v1 and Video Swin as Dr²Net backbones. Both are one model here: images are clips of one
// frame (window depth 1, no temporal shift), so the 3-D window machinery serves both and the 2-D case is
// exactly torchvision's / timm's computation.

#include "core/backbone.h"
#include "core/backbones/transformer_branches.h"
#include "core/dr2_stack.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

namespace dr2 {

/// Sizes along (frames, height, width); images use 1 frame.
using Extent3 = std::array<int64_t, 3>;

/// What a window does at a stage whose feature map is not larger than the window.
enum class WindowFit {
    /// torchvision: keep the window, pad the map to a multiple of it, and drop the shift along a side the window
    /// covers. Also what timm and the official Swin release compute, whose files size the table for the window
    /// they used.
    Pad,
    /// The Video Swin release: along a side no longer than the window, the window shrinks to the side and the shift
    /// is dropped; the bias is then read from the full window's index, its first N×N entries (as the release does).
    Shrink,
};

/// "pad" / "shrink".
std::string toString(WindowFit fit);
/// Parses "pad" / "shrink"; throws std::invalid_argument naming the allowed values.
WindowFit parseWindowFit(const std::string& name);

/// Hyperparameters of a Swin Transformer (v1) or Video Swin whose blocks become Dr²Net branches.
struct SwinOptions {
    int64_t embedDim = 96; ///< channels of stage 1; each later stage doubles them
    std::vector<int64_t> depths { 2, 2, 6, 2 }; ///< blocks per stage; a stage's Dr2Stack has 2·depth branches
    std::vector<int64_t> heads { 3, 6, 12, 24 }; ///< attention heads per stage
    Extent3 window { 1, 7, 7 };
    Extent3 patch { 1, 4, 4 }; ///< frames × pixels per token; frames is 1 for images
    double mlpRatio = 4.0;
    bool qkvBias = true;
    bool patchNorm = true; ///< LayerNorm after the patch embedding (torchvision, timm; the Video Swin release's option)
    int64_t inChannels = 3;
    int64_t imageHeight = 224;
    int64_t imageWidth = 224;
    int64_t numFrames = 0; ///< 0: an image model [B, C, H, W]; > 0: a video model over [B, C, T, H, W] clips
    int64_t numClasses = 1000; ///< 0: no head
    double dropout = 0.0;
    double attnDropout = 0.0;
    double dropPath = 0.0; ///< stochastic depth of the last block; earlier blocks get linearly less (over all stages)
    double layerNormEps = 1e-5;
    WindowFit windowFit = WindowFit::Pad;
    Dr2StackOptions stack; ///< α, β, first skip, mode and segments (every stage)

    bool video() const { return numFrames > 0; }
    int64_t stages() const { return static_cast<int64_t>(depths.size()); }
    /// Channels of stage s (0-based): embedDim · 2^s.
    int64_t stageDim(int64_t stage) const { return embedDim << stage; }
    /// Channels of the last stage (the pooled features).
    int64_t numFeatures() const { return stageDim(stages() - 1); }
    /// Total blocks over all stages.
    int64_t totalBlocks() const;
    /// Throws std::invalid_argument naming the first field that is out of range.
    void validate() const;
};

/// Standard sizes: "swin-t" (96, [2,2,6,2], heads [3,6,12,24], window 7, patch 4, 224²), "swin-s" (96,
/// [2,2,18,2]), "swin-b" (128, [2,2,18,2], [4,8,16,32]); "video-swin-t" / "-s" / "-b" the same with patch 2×4×4,
/// window 8×7×7 and 32-frame clips (the Video Swin release's Kinetics models).
SwinOptions swinPreset(const std::string& name);
/// The image presets, then the video ones.
std::vector<std::string> swinPresetNames();
std::vector<std::string> videoSwinPresetNames();

/// Depths scaled to `totalBlocks` in the proportions of `depths` (at least one block per stage): how a single
/// "depth" setting sizes a hierarchical model ([2,2,6,2] at 24 → [4,4,12,4]).
std::vector<int64_t> scaleDepths(const std::vector<int64_t>& depths, int64_t totalBlocks);

/// Pairwise relative position index of a window [N, N], N = d·h·w tokens in (frame, row, column) order:
/// (Δd + d−1)·(2h−1)(2w−1) + (Δh + h−1)·(2w−1) + (Δw + w−1). Recomputed here, never read from a file.
torch::Tensor relativePositionIndex(const Extent3& window);

/// Resizes a relative position bias table [(2d−1)(2h−1)(2w−1), heads] from window `from` to `to`: bicubic over the
/// (2h−1)×(2w−1) plane (align_corners=false, as timm's resize_rel_pos_bias_table), and linear along frames when the
/// window depth changes too. Returns the table unchanged when the windows are equal.
torch::Tensor resizeRelativePositionTable(const torch::Tensor& table, const Extent3& from, const Extent3& to);

/// Where one stage's windows fall for a feature map of `size`: the window and shift in effect and the padded map.
struct WindowLayout {
    Extent3 window {};
    Extent3 shift {};
    Extent3 padded {};
    bool shifted() const { return shift[0] > 0 || shift[1] > 0 || shift[2] > 0; }
    /// Tokens per window.
    int64_t tokens() const { return window[0] * window[1] * window[2]; }
};
/// The layout `fit` gives a map of `size` for a configured window and shift.
WindowLayout windowLayout(const Extent3& size, const Extent3& window, const Extent3& shift, WindowFit fit);

/// The additive attention mask of shifted windows [windows, N, N]: 0 within a region of the rolled map, −100 across
/// regions (torchvision, timm and the Video Swin release use the same value).
torch::Tensor shiftedWindowMask(const WindowLayout& layout, const torch::TensorOptions& options);

/// Options of one window attention branch.
struct WindowAttentionOptions {
    int64_t dim = 96;
    int64_t heads = 3;
    Extent3 window { 1, 7, 7 };
    Extent3 shift { 0, 0, 0 }; ///< configured shift (window/2 on odd blocks); the layout may drop it
    WindowFit fit = WindowFit::Pad;
    bool qkvBias = true;
    double dropout = 0.0;
    double attnDropout = 0.0;
    double dropPath = 0.0;
    double layerNormEps = 1e-5;
};

/// Attention branch of a Swin block: norm → pad → cyclic shift → (shifted) window attention with relative position
/// bias → reverse → crop [→ drop path]. x: [B, T, H, W, C] → same shape. Submodule names: norm, qkv, proj,
/// relative_position_bias_table. The relative position index is computed here and is deliberately not a buffer:
/// files' copies are never trusted, and Module::to(dtype) would cast an integer buffer to floating point.
class WindowAttentionBranchImpl : public torch::nn::Module {
public:
    explicit WindowAttentionBranchImpl(const WindowAttentionOptions& options);
    torch::Tensor forward(const torch::Tensor& x);

    const WindowAttentionOptions& options() const { return m_options; }

    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear qkv { nullptr };
    torch::nn::Linear proj { nullptr };
    torch::Tensor relativePositionBiasTable; ///< [(2d−1)(2h−1)(2w−1), heads]
    /// The index [N, N] (int64, on the table's device).
    const torch::Tensor& relativePositionIndex();

private:
    /// The mask for `layout`, rebuilt only when the layout, device or dtype changes (every forward of a stage sees
    /// the same map, and the reversible backward re-runs it).
    const torch::Tensor& maskFor(const WindowLayout& layout, const torch::TensorOptions& options);

    WindowAttentionOptions m_options;
    torch::Tensor m_index; // [N, N] int64, follows the table's device
    torch::Tensor m_mask; // the last layout's mask
    WindowLayout m_maskLayout;
};
TORCH_MODULE(WindowAttentionBranch);

/// Swin's patch merging between stages: pads height and width to even, concatenates each 2×2 neighbourhood
/// (x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]), normalises the 4C channels and reduces them to 2C.
/// Frames are not merged. An ordinary layer: its activations are stored. Submodule names: norm, reduction.
class PatchMergingImpl : public torch::nn::Module {
public:
    PatchMergingImpl(int64_t dim, double layerNormEps);
    /// x: [B, T, H, W, C] → [B, T, ⌈H/2⌉, ⌈W/2⌉, 2C].
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear reduction { nullptr };
};
TORCH_MODULE(PatchMerging);

/// A Swin Transformer as a Dr²Net: patch embedding (+ norm), then per stage one Dr2Stack of its blocks' branches
/// (window attention, MLP), patch merging between stages, a final norm and mean pooling. Each stage has its own
/// segments; α, β and the mode are set on all of them at once.
///
/// Internal names: patch_embed.{weight,bias}, patch_norm.*, stages.S.branches.N.*, merges.S.{norm,reduction}.*,
/// norm.*, head.* (core/backbones/swin/swin_loader.h maps torchvision, timm, the official and the Video Swin
/// releases to them).
class SwinImpl : public Backbone {
public:
    explicit SwinImpl(SwinOptions options);

    BackboneOutput forwardFeatures(const torch::Tensor& input) override;
    std::vector<Dr2StackImpl*> stacks() override;
    std::string family() const override { return m_options.video() ? "video-swin" : "swin"; }
    BackboneDescription describe() const override;
    std::string architectureJson() const override;
    InputShape inputShape() const override;
    BackboneGeometry geometryAt(const InputShape& input) const override;
    int64_t pooledDim() const override { return m_options.numFeatures(); }
    std::set<std::string> noWeightDecay() const override;

    /// images [B, C, H, W] (clips [B, C, T, H, W]) → logits [B, numClasses] (pooled features without a head).
    torch::Tensor forward(const torch::Tensor& input);
    /// input → the tokens entering stage 1, [B, T', H', W', C].
    torch::Tensor embed(const torch::Tensor& input);

    const SwinOptions& options() const { return m_options; }
    Dr2StackImpl& stage(int64_t s);
    /// Replaces the head by a freshly initialised one with `numClasses` outputs (0: no head).
    void replaceHead(int64_t numClasses);

    torch::nn::Conv2d patchEmbed { nullptr }; ///< image models
    torch::nn::Conv3d patchEmbed3d { nullptr }; ///< video models
    torch::nn::LayerNorm patchNorm { nullptr }; ///< undefined without SwinOptions::patchNorm
    torch::nn::ModuleList stageList { nullptr }; ///< "stages": Dr2Stack per stage
    torch::nn::ModuleList mergeList { nullptr }; ///< "merges": PatchMerging after every stage but the last
    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear head { nullptr };

private:
    void checkInput(const torch::Tensor& input) const;
    /// A channels-last stage output as a channels-first map, a view.
    torch::Tensor featureMap(const torch::Tensor& stage) const;

    SwinOptions m_options;
    std::vector<Dr2Stack> m_stages;
};
TORCH_MODULE(Swin);

} // namespace dr2
