#include "core/backbones/vit/vit_branches.h"

#include "core/weight_gradients.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/init.h>

#include <cmath>
#include <stdexcept>

namespace dr2 {

AttentionBranchImpl::AttentionBranchImpl(const BranchOptions& options)
    : m_options(options)
{
    if (options.dim <= 0 || options.heads <= 0 || options.dim % options.heads != 0)
        throw std::invalid_argument("attention branch: embedding dim " + std::to_string(options.dim)
            + " must be a positive multiple of the head count " + std::to_string(options.heads));
    norm = register_module("norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({ options.dim }).eps(options.layerNormEps)));
    qkv = register_module("qkv",
        torch::nn::Linear(torch::nn::LinearOptions(options.dim, 3 * options.dim).bias(options.qkvBias)));
    proj = register_module("proj", torch::nn::Linear(options.dim, options.dim));
    initTransformerLinear(qkv);
    initTransformerLinear(proj);
    if (options.layerScaleInit > 0.0)
        gamma = register_parameter("gamma", torch::full({ options.dim }, options.layerScaleInit));
}

torch::Tensor AttentionBranchImpl::forward(const torch::Tensor& x)
{
    const int64_t batch = x.size(0);
    const int64_t tokens = x.size(1);
    const int64_t dim = x.size(2);
    const int64_t heads = m_options.heads;
    const int64_t headDim = dim / heads;

    // [B, N, 3·D] → [3, B, heads, N, headDim]
    torch::Tensor qkvOut = linearLayer(qkv, norm(x)).reshape({ batch, tokens, 3, heads, headDim }).permute({ 2, 0, 3, 1, 4 });
    torch::Tensor q = qkvOut[0];
    torch::Tensor k = qkvOut[1];
    torch::Tensor v = qkvOut[2];
    torch::Tensor attn = torch::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(headDim)));
    attn = torch::softmax(attn, -1);
    attn = branchDropout(attn, m_options.attnDropout, is_training());
    torch::Tensor out = torch::matmul(attn, v).transpose(1, 2).reshape({ batch, tokens, dim });
    out = linearLayer(proj, out);
    out = branchDropout(out, m_options.dropout, is_training());
    return scaleAndDropPath(out, gamma, m_options.dropPath, is_training());
}

} // namespace dr2
