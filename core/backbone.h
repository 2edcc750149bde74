#pragma once

#include "core/dr2_stack.h"

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace dr2 {

/// One stage of a backbone: a Dr2Stack of residual branches at one resolution. ViT has one stage; a
/// hierarchical backbone (Swin, Video Swin) has one per resolution, joined by ordinary stored layers (patch merging).
struct StageDescription {
    std::string name; ///< e.g. "stage 1"
    int64_t branches = 0;
    int64_t width = 0; ///< channels (embedding dim) of the stage's tokens
    int64_t stride = 1; ///< input pixels per feature position along one side
};

/// What `inspect`, the GUI and run summaries show about a backbone.
struct BackboneDescription {
    std::string family; ///< registry name, e.g. "vit"
    std::string summary; ///< one line, e.g. "vit 192d×12 (24 branches, 3 heads), 56² patch 4"
    std::vector<StageDescription> stages;
    /// Family-specific hyperparameters in display order ("embed dim" → "192", ...).
    std::vector<std::pair<std::string, std::string>> details;
    int64_t parameters = 0; ///< elements of all parameters of the backbone (without any task head)

    /// Sum of the stages' branches.
    int64_t branches() const;
};

/// The input a backbone takes: images [B, C, H, W] (frames = 0) or clips [B, C, T, H, W].
struct InputShape {
    int64_t channels = 3;
    int64_t height = 224;
    int64_t width = 224;
    int64_t frames = 0;

    /// The full tensor shape for `batch` samples.
    std::vector<int64_t> sizes(int64_t batch) const;
};

/// The shape of one stage's work for one sample at some input size: what the memory planner (training/) scales
/// activations by, without building the backbone at that size.
struct StageGeometry {
    int64_t branches = 0;
    int64_t tokens = 0; ///< positions of the stage's streams per sample (ViT: class token + patches)
    int64_t attentionTokens = 0; ///< positions attention runs on (Swin: the map padded to whole windows)
    int64_t width = 0; ///< channels
    int64_t heads = 0;
    int64_t attentionSpan = 0; ///< keys each query attends to (ViT: every token; Swin: one window's tokens)
};

/// Per-sample geometry of a whole backbone at one input size.
struct BackboneGeometry {
    std::vector<StageGeometry> stages;
    /// Elements of the parameters whose size depends on the input (ViT's learned position embedding), at that input.
    int64_t inputSizedParameters = 0;
};

/// What a backbone computes for a batch.
struct BackboneOutput {
    /// The output of every stage's stack (before any transition layer such as Swin's patch merging), in the
    /// family's layout: ViT tokens [B, N, C] (class token first); Swin channels-last maps [B, H, W, C] for images
    /// and [B, T, H, W, C] for clips. Dense heads read these.
    std::vector<torch::Tensor> stages;
    /// The same stages as channels-first feature maps, what dense heads read: images [B, C, h, w], clips
    /// [B, C, t, h, w] (ViT without its class token; h and w as the family pads or floors). Views of `stages`.
    std::vector<torch::Tensor> maps;
    /// One normalised feature vector per sample, [B, pooledDim()] (class token or mean of the last stage).
    torch::Tensor pooled;
};

/// A pretrained network turned into a Dr²Net: an embedding, then stages (each one Dr2Stack with its own
/// segments), with ordinary stored layers between them. α, β, the mode and the first-skip rule are set for
/// every stage at once. Concrete families live in core/backbones/<family>/ and are created through the
/// registry (core/backbone_registry.h); nothing outside core names them.
class Backbone : public torch::nn::Module {
public:
    /// Input [B, C, (T,) H, W] → stage outputs and pooled features. Throws std::invalid_argument on a wrong shape.
    virtual BackboneOutput forwardFeatures(const torch::Tensor& input) = 0;
    /// The stacks of all stages, in order (non-owning; they live as long as the backbone).
    virtual std::vector<Dr2StackImpl*> stacks() = 0;
    /// Registry name of the family ("vit").
    virtual std::string family() const = 0;
    /// Stages, parameters and hyperparameters for display.
    virtual BackboneDescription describe() const = 0;
    /// The family's hyperparameters as JSON (with "family"); core/architecture_record.h stores it with exported
    /// weights and the family's loader reads it back.
    virtual std::string architectureJson() const = 0;
    /// The input this backbone expects.
    virtual InputShape inputShape() const = 0;
    /// The geometry this backbone's stages would have for input `input` (same channels; any size the family
    /// accepts). Throws std::invalid_argument, as building it would, for a size it does not accept.
    virtual BackboneGeometry geometryAt(const InputShape& input) const = 0;
    /// Size of BackboneOutput::pooled's last dimension.
    virtual int64_t pooledDim() const = 0;
    /// Parameter names (as in named_parameters()) that must not get weight decay besides biases and norms
    /// (position tables, class tokens), like timm's no_weight_decay().
    virtual std::set<std::string> noWeightDecay() const { return {}; }

    /// Sets α and β of every stage.
    void setCoefficients(double alpha, double beta);
    void setMode(ExecMode mode);
    void setFirstSkip(FirstSkip skip);
    /// How every stage's reversible backward uses a second thread (see RecomputeOverlap).
    void setRecomputeOverlap(RecomputeOverlap overlap);
    /// Cuts every stage into segments of at most k branches (k >= a stage's size: one segment there).
    void setSegmentEvery(int64_t k);
    /// α, β, mode and first skip of the first stage (all stages share them unless set one by one).
    double alpha();
    double beta();
    ExecMode mode();
    FirstSkip firstSkip();
    /// Total branches over all stages.
    int64_t branchCount();
    /// Length of the first segment of the first stage (the configured length, shown while training).
    int64_t segmentLength();

protected:
    Backbone() = default;
};

/// Backbones are held by shared pointer (the family's module holder converts to it).
using BackbonePtr = std::shared_ptr<Backbone>;

} // namespace dr2
