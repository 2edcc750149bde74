#pragma once

#include "core/backbones/vit/vit.h"

#include <torch/torch.h>

#include <vector>

namespace dr2::test {

/// A ViT-Ti-sized model (192 dim, 3 heads) with the given depth and resolution, seeded.
inline ViT makeViT(int64_t depth, int64_t imageSize = 224, uint64_t seed = 0, double dropout = 0.0, double dropPath = 0.0)
{
    torch::manual_seed(seed);
    ViTOptions options = vitPreset("vit-ti");
    options.depth = depth;
    options.imageSize = imageSize;
    options.numClasses = 10;
    options.dropout = dropout;
    options.attnDropout = dropout;
    options.dropPath = dropPath;
    ViT model(options);
    model->train();
    return model;
}

/// Seeded images and labels for `model`.
inline std::pair<torch::Tensor, torch::Tensor> makeBatch(const ViT& model, int64_t batch, uint64_t seed = 1)
{
    torch::manual_seed(seed);
    const auto& o = model->options();
    return { torch::randn({ batch, o.inChannels, o.imageSize, o.imageSize }),
        torch::randint(0, o.numClasses, { batch }, torch::kLong) };
}

/// Clones of every parameter gradient (undefined where a parameter has none).
inline std::vector<torch::Tensor> gradients(torch::nn::Module& module)
{
    std::vector<torch::Tensor> grads;
    for (const auto& p : module.parameters())
        grads.push_back(p.grad().defined() ? p.grad().detach().clone() : torch::Tensor());
    return grads;
}

/// ‖a − b‖₂ / ‖b‖₂ over all tensors of two lists (float64 accumulation).
inline double relativeL2(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b)
{
    double diff = 0.0;
    double ref = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].defined() || !b[i].defined())
            continue;
        diff += (a[i].to(torch::kFloat64) - b[i].to(torch::kFloat64)).pow(2).sum().item<double>();
        ref += b[i].to(torch::kFloat64).pow(2).sum().item<double>();
    }
    return std::sqrt(diff / ref);
}

inline double relativeL2(const torch::Tensor& a, const torch::Tensor& b)
{
    return relativeL2(std::vector<torch::Tensor> { a }, std::vector<torch::Tensor> { b });
}

/// Parameter and input gradients of one cross-entropy step in `mode`, same seed each call.
struct StepGrads {
    std::vector<torch::Tensor> params;
    torch::Tensor input;
    torch::Tensor logits;
};

inline StepGrads stepGrads(ViT& model, ExecMode mode, const torch::Tensor& images, const torch::Tensor& labels,
    uint64_t seed = 7)
{
    model->stack().setMode(mode);
    model->zero_grad(/*set_to_none=*/true);
    torch::manual_seed(seed);
    torch::Tensor input = images.detach().clone().requires_grad_(true);
    torch::Tensor logits = model->forward(input);
    torch::nn::functional::cross_entropy(logits, labels).backward();
    return { gradients(*model), input.grad().detach().clone(), logits.detach() };
}

} // namespace dr2::test
