#pragma once

#include "core/dr2_stack.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
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
    Dr2StackOptions stack; ///< α, β, first skip, mode and segments

    /// Number of patch tokens (without the class token).
    int64_t numPatches() const { return (imageSize / patchSize) * (imageSize / patchSize); }
    /// Throws std::invalid_argument naming the first field that is out of range.
    void validate() const;
};

/// Standard sizes: "vit-ti" (192 dim, 12 layers, 3 heads), "vit-s" (384/12/6), "vit-b" (768/12/12),
/// "vit-l" (1024/24/16); patch 16 and image 224. Throws std::invalid_argument listing the names.
ViTOptions vitPreset(const std::string& name);
/// The names vitPreset accepts.
std::vector<std::string> vitPresetNames();

/// A pre-norm ViT (patch embedding, class token, position embedding, transformer layers, final norm,
/// linear head) whose layers are split into attention and MLP branches of one Dr2Stack.
class ViTImpl : public torch::nn::Module {
public:
    explicit ViTImpl(ViTOptions options);

    /// images [B, C, H, W] → logits [B, numClasses] (or pooled features when numClasses is 0).
    torch::Tensor forward(const torch::Tensor& images);
    /// images → token sequence entering the stack, [B, 1 + patches, dim].
    torch::Tensor embed(const torch::Tensor& images);
    /// Tokens after the stack → pooled, normalised features [B, dim].
    torch::Tensor pool(const torch::Tensor& tokens);

    const ViTOptions& options() const { return m_options; }
    Dr2StackImpl& stack() { return *m_stack; }

    torch::nn::Conv2d patchEmbed { nullptr };
    torch::Tensor clsToken;
    torch::Tensor posEmbed;
    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear head { nullptr };

private:
    ViTOptions m_options;
    Dr2Stack m_stack { nullptr };
};
TORCH_MODULE(ViT);

} // namespace dr2
