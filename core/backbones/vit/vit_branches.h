#pragma once

#include "core/backbones/transformer_branches.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace dr2 {

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

} // namespace dr2
