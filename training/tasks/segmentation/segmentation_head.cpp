#include "training/tasks/segmentation/segmentation_head.h"

#include <torch/torch.h>

#include <stdexcept>
#include <string>

namespace dr2 {

namespace F = torch::nn::functional;

namespace {

constexpr int64_t kGroups = 8;
constexpr int64_t kFinestStride = 4; ///< where progressive upsampling stops (the resolution FPN heads predict at)

/// conv (k×k, same padding, no bias: GroupNorm follows) + GroupNorm, and a ReLU when `relu`.
torch::nn::Sequential convNorm(int64_t in, int64_t out, int64_t kernel, bool relu)
{
    torch::nn::Sequential block(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false)),
        torch::nn::GroupNorm(torch::nn::GroupNormOptions(kGroups, out)));
    if (relu)
        block->push_back(torch::nn::ReLU());
    return block;
}

torch::Tensor resize(const torch::Tensor& x, int64_t height, int64_t width)
{
    if (x.size(2) == height && x.size(3) == width)
        return x;
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t> { height, width })
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
}

} // namespace

SegmentationHeadImpl::SegmentationHeadImpl(const SegmentationHeadOptions& options)
    : m_options(options)
{
    const auto levels = options.widths.size();
    if (levels == 0 || options.strides.size() != levels)
        throw std::invalid_argument("segmentation head: expected one stride per stage, found "
            + std::to_string(options.strides.size()) + " strides for " + std::to_string(levels) + " stages");
    if (options.dim <= 0 || options.dim % kGroups != 0)
        throw std::invalid_argument("segmentation head: model.head_dim must be a positive multiple of 8, found "
            + std::to_string(options.dim));
    if (options.classes < 2)
        throw std::invalid_argument(
            "segmentation head: expected at least 2 classes (background and one), found " + std::to_string(options.classes));
    for (size_t i = 0; i < levels; ++i) {
        m_lateral->push_back(convNorm(options.widths[i], options.dim, 1, /*relu=*/false));
        m_smooth->push_back(convNorm(options.dim, options.dim, 3, /*relu=*/true));
    }
    for (int64_t stride = options.strides.front(); stride > kFinestStride; stride /= 2)
        m_upsample->push_back(convNorm(options.dim, options.dim, 3, /*relu=*/true));
    m_classifier = torch::nn::Conv2d(torch::nn::Conv2dOptions(options.dim, options.classes, 1));
    register_module("lateral", m_lateral);
    register_module("smooth", m_smooth);
    register_module("upsample", m_upsample);
    register_module("classifier", m_classifier);
}

torch::Tensor SegmentationHeadImpl::forward(const std::vector<torch::Tensor>& maps, int64_t height, int64_t width)
{
    const size_t levels = m_options.widths.size();
    if (maps.size() != levels)
        throw std::invalid_argument("segmentation head: expected " + std::to_string(levels) + " feature maps, found "
            + std::to_string(maps.size()));
    for (size_t i = 0; i < levels; ++i)
        if (maps[i].dim() != 4 || maps[i].size(1) != m_options.widths[i])
            throw std::invalid_argument("segmentation head: stage " + std::to_string(i + 1) + " map: expected [B, "
                + std::to_string(m_options.widths[i]) + ", h, w], found " + c10::str(maps[i].sizes()));
    // Lateral projections, then the top-down pathway from the coarsest level.
    std::vector<torch::Tensor> levelsOut(levels);
    for (size_t i = 0; i < levels; ++i)
        levelsOut[i] = m_lateral[i]->as<torch::nn::Sequential>()->forward(maps[i]);
    for (size_t i = levels - 1; i > 0; --i)
        levelsOut[i - 1] = levelsOut[i - 1] + resize(levelsOut[i], levelsOut[i - 1].size(2), levelsOut[i - 1].size(3));
    // Smooth each level and fuse at the finest.
    const int64_t h0 = levelsOut.front().size(2);
    const int64_t w0 = levelsOut.front().size(3);
    torch::Tensor fused;
    for (size_t i = 0; i < levels; ++i) {
        torch::Tensor level = resize(m_smooth[i]->as<torch::nn::Sequential>()->forward(levelsOut[i]), h0, w0);
        fused = fused.defined() ? fused + level : level;
    }
    // SETR-PUP order: convolve, then double (convolving after the upsampling would cost 4× the activations).
    for (const auto& block : *m_upsample) {
        fused = block->as<torch::nn::Sequential>()->forward(fused);
        fused = resize(fused, 2 * fused.size(2), 2 * fused.size(3));
    }
    return resize(m_classifier(fused), height, width);
}

} // namespace dr2
