#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace dr2 {

/// What the head is built for: the backbone's stages (channels and stride each) and the classes to predict.
struct SegmentationHeadOptions {
    std::vector<int64_t> widths; ///< channels of each stage's feature map, finest first
    std::vector<int64_t> strides; ///< input pixels per feature position of each stage (increasing)
    int64_t dim = 64; ///< the head's channels (a multiple of 8: GroupNorm uses 8 groups)
    int64_t classes = 2;
};

/// A light dense head over a backbone's feature maps, ordinary stored autograd (only the backbone is reversible):
///  1. lateral 1×1 conv + GroupNorm per stage to `dim` channels,
///  2. FPN top-down pathway (coarser level upsampled and added),
///  3. a 3×3 conv + GroupNorm + ReLU per level, every level upsampled to the finest and summed (Semantic FPN's
///     fusion; with one stage, as ViT has, this is one block),
///  4. progressive upsampling (SETR-PUP) while the fused map is coarser than stride 4: 3×3 conv + GN + ReLU, then ×2,
///  5. a 1×1 classifier, and bilinear upsampling of the logits to the input size.
/// Multi-stage backbones (Swin) get a real FPN; ViT gets a patch-grid map upsampled progressively. Intermediate ViT
/// layers are not read: a reversible stack keeps no activations inside it, so tapping one would mean storing it and
/// entering the reversible backward mid-stack.
class SegmentationHeadImpl : public torch::nn::Module {
public:
    explicit SegmentationHeadImpl(const SegmentationHeadOptions& options);

    /// Feature maps [B, C_i, h_i, w_i] (as Backbone::featureMaps gives them) → logits [B, classes, height, width].
    torch::Tensor forward(const std::vector<torch::Tensor>& maps, int64_t height, int64_t width);

    const SegmentationHeadOptions& options() const { return m_options; }

private:
    SegmentationHeadOptions m_options;
    torch::nn::ModuleList m_lateral;
    torch::nn::ModuleList m_smooth;
    torch::nn::ModuleList m_upsample;
    torch::nn::Conv2d m_classifier { nullptr };
};
TORCH_MODULE(SegmentationHead);

} // namespace dr2
