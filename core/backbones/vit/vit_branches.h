#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace dr2 {

/// Stochastic depth: in training, zeroes the whole branch output of a sample with probability p and
/// rescales the rest by 1/(1-p). Draws from currentGenerator() (core/random_stream.h), so Dr2Stack's
/// RNG replay covers it; every random draw inside a branch must come from currentGenerator().
torch::Tensor dropPath(const torch::Tensor& x, double p, bool training);

/// Options shared by the two branches of a pre-norm transformer layer.
struct BranchOptions {
    int64_t dim = 192;
    int64_t heads = 3;
    double mlpRatio = 4.0;
    bool qkvBias = true;
    double dropout = 0.0; ///< after the projection / each MLP linear
    double attnDropout = 0.0; ///< on the attention weights
    double dropPath = 0.0; ///< stochastic depth probability of this branch
    double layerScaleInit = 0.0; ///< 0: no layer scale; else the initial value of gamma (timm's ls1/ls2)
    double layerNormEps = 1e-6;
};

/// Attention branch of a pre-norm ViT layer: norm → multi-head self-attention → projection
/// [→ layer scale] [→ drop path]. Submodule names follow timm's block layout (norm, qkv, proj, gamma).
class AttentionBranchImpl : public torch::nn::Module {
public:
    explicit AttentionBranchImpl(const BranchOptions& options);
    /// x: [B, tokens, dim] → same shape.
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear qkv { nullptr };
    torch::nn::Linear proj { nullptr };
    torch::Tensor gamma; ///< undefined without layer scale

private:
    BranchOptions m_options;
};
TORCH_MODULE(AttentionBranch);

/// MLP branch of a pre-norm ViT layer: norm → fc1 → GELU → fc2 [→ layer scale] [→ drop path].
class MlpBranchImpl : public torch::nn::Module {
public:
    explicit MlpBranchImpl(const BranchOptions& options);
    /// x: [B, tokens, dim] → same shape.
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear fc1 { nullptr };
    torch::nn::Linear fc2 { nullptr };
    torch::Tensor gamma; ///< undefined without layer scale

private:
    BranchOptions m_options;
};
TORCH_MODULE(MlpBranch);

} // namespace dr2
