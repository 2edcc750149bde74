#pragma once

// Pieces every transformer family's branches share: stochastic depth and dropout that draw from the current
// random stream (so Dr2Stack's reversible backward replays them), and the pre-norm MLP branch.

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace dr2 {

/// Stochastic depth: in training, zeroes the whole branch output of a sample with probability p and
/// rescales the rest by 1/(1-p). Draws from currentGenerator() (core/random_stream.h), so Dr2Stack's
/// RNG replay covers it; every random draw inside a branch must come from currentGenerator().
torch::Tensor dropPath(const torch::Tensor& x, double p, bool training);

/// Element-wise dropout drawn from currentGenerator(); the identity outside training or for p = 0 (which would
/// still draw a mask and spend memory). Not F::dropout: that takes no generator, so the reversible backward could
/// not replay its mask (the computation is ATen's non-fused dropout).
torch::Tensor branchDropout(const torch::Tensor& x, double p, bool training);

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

/// timm's trunc_normal_(std=.02) for a linear layer's weight (normal, clipped to two standard deviations) and a
/// zero bias.
void initTransformerLinear(torch::nn::Linear& linear);

/// Replaces the classifier `owner` registers as "head" (held in `head`) by a freshly initialised linear layer
/// (initTransformerLinear) from `inFeatures` to `numClasses`, on `like`'s device and dtype; 0 removes the head.
void replaceClassifierHead(
    torch::nn::Module& owner, torch::nn::Linear& head, int64_t inFeatures, int64_t numClasses, const torch::Tensor& like);

/// MLP branch of a pre-norm transformer layer: norm → fc1 → GELU → fc2 [→ layer scale] [→ drop path].
/// Submodule names: norm, fc1, fc2, gamma.
class MlpBranchImpl : public torch::nn::Module {
public:
    explicit MlpBranchImpl(const BranchOptions& options);
    /// x: [..., dim] → same shape.
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::LayerNorm norm { nullptr };
    torch::nn::Linear fc1 { nullptr };
    torch::nn::Linear fc2 { nullptr };
    torch::Tensor gamma; ///< undefined without layer scale

private:
    BranchOptions m_options;
};
TORCH_MODULE(MlpBranch);

/// Multiplies by the layer scale when there is one, then applies drop path (the tail of every branch).
torch::Tensor scaleAndDropPath(torch::Tensor x, const torch::Tensor& gamma, double p, bool training);

} // namespace dr2
