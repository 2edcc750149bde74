#pragma once

#include "core/backbone.h"
#include "core/dr2_stack.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace dr2 {

/// Hyperparameters of a Vision Transformer whose layers become Dr²Net branches.
struct ViTOptions {
    int64_t embedDim = 192;
    int64_t depth = 12; ///< transformer layers; the Dr2Stack has 2·depth branches
    int64_t heads = 3;
    double mlpRatio = 4.0;
    int64_t patchSize = 16;
    int64_t imageSize = 224;
    int64_t inChannels = 3;
    int64_t numClasses = 1000; ///< 0: no head, forward returns the pooled features
    bool qkvBias = true;
    double dropout = 0.0;
    double attnDropout = 0.0;
    double dropPath = 0.0; ///< stochastic depth of the last layer; earlier layers get linearly less (timm)
    double layerScaleInit = 0.0; ///< 0: no layer scale
    bool globalPool = false; ///< false: class token; true: mean of the patch tokens
    bool fcNorm = true; ///< with globalPool: normalise after pooling ("fc_norm", timm/VideoMAE) instead of before ("norm")
    bool classToken = true; ///< false: no class token (VideoMAE); needs globalPool
    bool fixedPosEmbed = false; ///< true: a fixed sinusoid table (VideoMAE) kept as a buffer, not a parameter
    int64_t numFrames = 0; ///< 0: an image model; > 0: a video model taking B×C×T×H×W clips of this many frames
    int64_t tubeletSize = 2; ///< frames per video token (the temporal kernel of the 3-D patch embedding)
    Dr2StackOptions stack; ///< α, β, first skip, mode and segments

    /// Patches per image side.
    int64_t gridSize() const { return imageSize / patchSize; }
    /// Number of patch tokens (without the class token): frames/tubelet × grid² for video.
    int64_t numPatches() const
    {
        return (numFrames > 0 ? numFrames / tubeletSize : 1) * gridSize() * gridSize();
    }
    /// Tokens before the patches (1 with a class token, else 0).
    int64_t numPrefixTokens() const { return classToken ? 1 : 0; }
    /// Throws std::invalid_argument naming the first field that is out of range.
    void validate() const;
};

/// Standard sizes: "vit-ti" (192 dim, 12 layers, 3 heads), "vit-s" (384/12/6), "vit-b" (768/12/12),
/// "vit-l" (1024/24/16); patch 16 and image 224. Throws std::invalid_argument listing the names.
ViTOptions vitPreset(const std::string& name);
/// The names vitPreset accepts.
std::vector<std::string> vitPresetNames();

/// Resizes a learned position embedding [1, prefix + oldGrid², D] to [1, prefix + newGrid², D]: bicubic on the
/// patch grid (align_corners=false, as timm's resample_abs_pos_embed), prefix (class) tokens kept unchanged.
torch::Tensor resizePositionEmbedding(const torch::Tensor& posEmbed, int64_t numPrefixTokens, int64_t newGrid);

/// VideoMAE's fixed sinusoid position table [1, positions, dim] (computed in float64, returned as float32).
torch::Tensor sinusoidPositionTable(int64_t positions, int64_t dim);

/// A pre-norm ViT (patch embedding, class token, position embedding, transformer layers, final norm,
/// linear head) whose layers are split into attention and MLP branches of one Dr2Stack. With numFrames > 0
/// it is a video ViT (VideoMAE style): a Conv3d tubelet embedding takes clips B×C×T×H×W.
///
/// As a Backbone it has one stage; its own head (numClasses > 0) serves the standalone classifier (interop
/// tests, timm/torchvision logits), while training builds the head through its task on pooled features.
class ViTImpl : public Backbone {
public:
    explicit ViTImpl(ViTOptions options);

    BackboneOutput forwardFeatures(const torch::Tensor& input) override;
    std::vector<Dr2StackImpl*> stacks() override { return { m_stack.get() }; }
    std::string family() const override { return "vit"; }
    BackboneDescription describe() const override;
    std::string architectureJson() const override;
    InputShape inputShape() const override;
    BackboneGeometry geometryAt(const InputShape& input) const override;
    int64_t pooledDim() const override { return m_options.embedDim; }
    std::set<std::string> noWeightDecay() const override { return { "pos_embed", "cls_token" }; }

    /// images [B, C, H, W] (clips [B, C, T, H, W] for video) → logits [B, numClasses] (or pooled features when
    /// numClasses is 0).
    torch::Tensor forward(const torch::Tensor& images);
    /// images → token sequence entering the stack, [B, prefix + patches, dim].
    torch::Tensor embed(const torch::Tensor& images);
    /// Tokens after the stack → pooled, normalised features [B, dim].
    torch::Tensor pool(const torch::Tensor& tokens);

    const ViTOptions& options() const { return m_options; }
    Dr2StackImpl& stack() { return *m_stack; }

    /// Replaces the head by a freshly initialised one with `numClasses` outputs (0: no head).
    void replaceHead(int64_t numClasses);

    torch::nn::Conv2d patchEmbed { nullptr }; ///< image models ("patch_embed")
    torch::nn::Conv3d patchEmbed3d { nullptr }; ///< video models (also "patch_embed")
    torch::Tensor clsToken; ///< undefined without a class token
    torch::Tensor posEmbed; ///< a parameter, or a buffer when fixedPosEmbed
    torch::nn::LayerNorm norm { nullptr }; ///< before pooling; undefined with globalPool and fcNorm
    torch::nn::LayerNorm fcNorm { nullptr }; ///< after pooling; only with globalPool and fcNorm
    torch::nn::Linear head { nullptr };

private:
    /// The stack's tokens as a channels-first patch grid (class token dropped), a view.
    torch::Tensor featureMap(const torch::Tensor& tokens) const;

    ViTOptions m_options;
    Dr2Stack m_stack { nullptr };
};
TORCH_MODULE(ViT);

} // namespace dr2
