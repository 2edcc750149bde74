#include "core/backbones/transformer_branches.h"

#include "core/random_stream.h"
#include "core/weight_gradients.h"

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

torch::Tensor branchDropout(const torch::Tensor& x, double p, bool training)
{
    if (!training || p <= 0.0)
        return x;
    if (p >= 1.0)
        return x * 0.0;
    const double keep = 1.0 - p;
    torch::Tensor mask = torch::empty_like(x).bernoulli_(keep, currentGenerator(x.device())).div_(keep);
    return x * mask;
}

void initTransformerLinear(torch::nn::Linear& linear)
{
    torch::NoGradGuard noGrad;
    torch::nn::init::normal_(linear->weight, 0.0, 0.02).clamp_(-0.04, 0.04);
    if (linear->bias.defined())
        torch::nn::init::zeros_(linear->bias);
}

void replaceClassifierHead(
    torch::nn::Module& owner, torch::nn::Linear& head, int64_t inFeatures, int64_t numClasses, const torch::Tensor& like)
{
    if (numClasses == 0) {
        if (head)
            owner.unregister_module("head");
        head = nullptr;
        return;
    }
    torch::nn::Linear fresh(inFeatures, numClasses);
    initTransformerLinear(fresh);
    fresh->to(like.device(), like.scalar_type());
    if (head) {
        owner.replace_module("head", fresh);
        head = fresh;
    } else {
        head = owner.register_module("head", fresh);
    }
}

torch::Tensor scaleAndDropPath(torch::Tensor x, const torch::Tensor& gamma, double p, bool training)
{
    if (gamma.defined())
        x = x * gamma;
    return dropPath(x, p, training);
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
    initTransformerLinear(fc1);
    initTransformerLinear(fc2);
    if (options.layerScaleInit > 0.0)
        gamma = register_parameter("gamma", torch::full({ options.dim }, options.layerScaleInit));
}

torch::Tensor MlpBranchImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = F::gelu(linearLayer(fc1, norm(x)));
    h = branchDropout(h, m_options.dropout, is_training());
    h = branchDropout(linearLayer(fc2, h), m_options.dropout, is_training());
    return scaleAndDropPath(h, gamma, m_options.dropPath, is_training());
}

} // namespace dr2
