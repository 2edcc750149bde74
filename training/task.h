#pragma once

#include "core/backbone.h"
#include "core/state_dict.h"

#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dr2 {

/// Metric name → value of one evaluation ("top1" → 0.73, "loss" → 0.81). Fractions are in [0, 1].
using MetricMap = std::map<std::string, double>;

/// What a task says about one of its metrics, for tables, plots and "best".
struct MetricInfo {
    std::string name; ///< key in MetricMap, e.g. "top1"
    std::string label; ///< for people, e.g. "top-1"
    bool higherIsBetter = true;
    bool fraction = true; ///< shown as a percentage
};

/// The label of pixels that count for no class in dense targets (segmentation masks): unlabelled, padding.
constexpr int64_t kIgnoreLabel = 255;

/// What a batch trains towards: one tensor (class labels int64 [B]; segmentation masks int64 [B, H, W] with
/// kIgnoreLabel where no label counts), or named tensors (boxes) for other dense tasks.
struct TaskTarget {
    torch::Tensor tensor;
    std::map<std::string, torch::Tensor> named;

    /// The same target on `device`.
    TaskTarget to(const c10::Device& device) const;
    /// The first `count` samples.
    TaskTarget head(int64_t count) const;
    /// Samples in the batch (dimension 0 of the tensor, or of the first named tensor).
    int64_t samples() const;
};

/// Accumulates one evaluation pass, batch by batch.
class TaskEvaluation {
public:
    virtual ~TaskEvaluation() = default;
    /// Adds one batch's prediction (the task's head output) and target.
    virtual void add(const torch::Tensor& prediction, const TaskTarget& target) = 0;
    /// The metrics so far, including "loss" (the task's loss without regularisation such as label smoothing).
    virtual MetricMap result() const = 0;
    /// Samples added.
    virtual int64_t samples() const = 0;
    /// Everything result() and samples() are computed from, as sums in one float64 CPU tensor (counts stay exact
    /// below 2^53). Data-parallel ranks each evaluate their shard, add their sums() over ranks and setSums() the
    /// total, so every rank reports the metrics of the whole validation set.
    virtual torch::Tensor sums() const = 0;
    /// Replaces the accumulated state with `sums` (a tensor shaped as sums() returns).
    virtual void setSums(const torch::Tensor& sums) = 0;
};

/// Everything about a run that depends on what is predicted: the head on the backbone's features, the loss,
/// the metrics and which of them decides "best", and the loss the gradient probe differentiates.
/// Concrete tasks live in training/tasks/<task>/ and are created by training/task_registry.h.
class Task {
public:
    virtual ~Task() = default;
    /// Registry name, e.g. "classification".
    virtual std::string name() const = 0;
    /// Builds the head for `backbone`'s features. `pretrained` holds the checkpoint's head tensors in our
    /// names (may be empty); they are used when `reuse` is true and they fit, else the head starts fresh.
    /// Returns what was done, one line each (for the run log).
    virtual std::vector<std::string> buildHead(Backbone& backbone, const StateDict& pretrained, bool reuse) = 0;
    /// The head module (after buildHead); its parameter names follow the checkpoint layout ("weight", "bias").
    virtual std::shared_ptr<torch::nn::Module> head() const = 0;
    /// The head's output for the backbone's features.
    virtual torch::Tensor predict(const BackboneOutput& features) = 0;
    /// The training loss of a prediction.
    virtual torch::Tensor loss(const torch::Tensor& prediction, const TaskTarget& target) = 0;
    /// The loss the gradient probe compares (deterministic, no regularisation).
    virtual torch::Tensor probeLoss(const torch::Tensor& prediction, const TaskTarget& target) = 0;
    /// A fresh evaluation accumulator.
    virtual std::unique_ptr<TaskEvaluation> startEvaluation() const = 0;
    /// The metrics result() reports, primary first.
    virtual std::vector<MetricInfo> metrics() const = 0;
    /// The metric that decides "best", Table 2's ranking and reports.
    MetricInfo primaryMetric() const { return metrics().front(); }
    /// One line for run summaries, e.g. "5 classes".
    virtual std::string describe() const = 0;
    /// True for dense tasks whose prediction is per-pixel class scores [B, K, H, W] (segmentation): the Trainer
    /// then sends PredictionPreviewEvents of a few validation samples after each evaluation.
    virtual bool predictsPixels() const { return false; }
    /// Class index → name, where the task knows them (dense tasks, for previews and per-class metrics).
    virtual std::vector<std::string> classNames() const { return {}; }
};

} // namespace dr2
