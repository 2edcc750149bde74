#include "core/backbones/vit/vit_branches.h"

#include "core/random_stream.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/init.h>

#include <cmath>
#include <stdexcept>

namespace dr2 {

namespace F = torch::nn::functional;

torch::Tensor dropPath(const torch::Tensor& x, double p, bool training)
{
    if (!training || p <= 0.0)
        return x;
    const double keep = 1.0 - p;
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = x.size(0);
    torch::Tensor mask = torch::empty(shape, x.options()).bernoulli_(keep, currentGenerator(x.device())).div_(keep);
    return x * mask;
}

namespace {

void initLinear(torch::nn::Linear& linear)
{
    torch::NoGradGuard noGrad;
    // timm's trunc_normal_(std=.02): normal, clipped to two standard deviations.
    torch::nn::init::normal_(linear->weight, 0.0, 0.02).clamp_(-0.04, 0.04);
    if (linear->bias.defined())
        torch::nn::init::zeros_(linear->bias);
}

// Dropout only when it does something: p = 0 would still draw a mask and spend memory.
// Not F::dropout: it takes no generator, and the mask must come from currentGenerator() so that the
// reversible backward replays it (same computation as ATen's non-fused dropout).
torch::Tensor maybeDropout(const torch::Tensor& x, double p, bool training)
{
    if (!training || p <= 0.0)
        return x;
    if (p >= 1.0)
        return x * 0.0;
    const double keep = 1.0 - p;
    torch::Tensor mask = torch::empty_like(x).bernoulli_(keep, currentGenerator(x.device())).div_(keep);
    return x * mask;
}

torch::Tensor applyScaleAndDropPath(torch::Tensor x, const torch::Tensor& gamma, double p, bool training)
{
    if (gamma.defined())
        x = x * gamma;
    return dropPath(x, p, training);
}

} // namespace

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
    initLinear(qkv);
    initLinear(proj);
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
    torch::Tensor qkvOut = qkv(norm(x)).reshape({ batch, tokens, 3, heads, headDim }).permute({ 2, 0, 3, 1, 4 });
    torch::Tensor q = qkvOut[0];
    torch::Tensor k = qkvOut[1];
    torch::Tensor v = qkvOut[2];
    torch::Tensor attn = torch::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(headDim)));
    attn = torch::softmax(attn, -1);
    attn = maybeDropout(attn, m_options.attnDropout, is_training());
    torch::Tensor out = torch::matmul(attn, v).transpose(1, 2).reshape({ batch, tokens, dim });
    out = proj(out);
    out = maybeDropout(out, m_options.dropout, is_training());
    return applyScaleAndDropPath(out, gamma, m_options.dropPath, is_training());
}

MlpBranchImpl::MlpBranchImpl(const BranchOptions& options)
    : m_options(options)
{
    const auto hidden = static_cast<int64_t>(std::llround(static_cast<double>(options.dim) * options.mlpRatio));
    if (options.dim <= 0 || hidden <= 0)
        throw std::invalid_argument("MLP branch: dim " + std::to_string(options.dim) + " and MLP ratio "
            + std::to_string(options.mlpRatio) + " must give positive sizes");
    norm = register_module("norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({ options.dim }).eps(options.layerNormEps)));
    fc1 = register_module("fc1", torch::nn::Linear(options.dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, options.dim));
    initLinear(fc1);
    initLinear(fc2);
    if (options.layerScaleInit > 0.0)
        gamma = register_parameter("gamma", torch::full({ options.dim }, options.layerScaleInit));
}

torch::Tensor MlpBranchImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = F::gelu(fc1(norm(x)));
    h = maybeDropout(h, m_options.dropout, is_training());
    h = maybeDropout(fc2(h), m_options.dropout, is_training());
    return applyScaleAndDropPath(h, gamma, m_options.dropPath, is_training());
}

} // namespace dr2
