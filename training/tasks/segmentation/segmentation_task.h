#pragma once

#include "training/task.h"
#include "training/tasks/segmentation/segmentation_head.h"

namespace dr2 {

/// Semantic segmentation: a light FPN / progressive-upsampling head (SegmentationHead) over the backbone's
/// feature maps, pixel-wise cross-entropy ignoring kIgnoreLabel, and mIoU (primary), pixel accuracy and per-class
/// IoU ("iou/<class>") from a confusion matrix accumulated over the whole validation set (the standard
/// definition: IoU of a class = TP / (TP + FP + FN) over all pixels, not averaged per image).
class SegmentationTask final : public Task {
public:
    /// `classNames` gives the classes (index → name, at least 2: "background" and one); `headDim` the head's
    /// channels (a multiple of 8).
    SegmentationTask(std::vector<std::string> classNames, int64_t headDim);

    std::string name() const override { return "segmentation"; }
    std::vector<std::string> buildHead(Backbone& backbone, const StateDict& pretrained, bool reuse) override;
    std::shared_ptr<torch::nn::Module> head() const override { return m_head.ptr(); }
    torch::Tensor predict(const BackboneOutput& features) override;
    torch::Tensor loss(const torch::Tensor& logits, const TaskTarget& target) override;
    torch::Tensor probeLoss(const torch::Tensor& logits, const TaskTarget& target) override;
    std::unique_ptr<TaskEvaluation> startEvaluation() const override;
    std::vector<MetricInfo> metrics() const override;
    std::string describe() const override;
    bool predictsPixels() const override { return true; }
    std::vector<std::string> classNames() const override { return m_classNames; }

    int64_t numClasses() const { return static_cast<int64_t>(m_classNames.size()); }

private:
    std::vector<std::string> m_classNames;
    int64_t m_headDim;
    int64_t m_height = 0; ///< the backbone's input size: logits are upsampled to it
    int64_t m_width = 0;
    SegmentationHead m_head { nullptr };
};

/// The metric key of one class's IoU ("iou/" + name).
std::string classIouKey(const std::string& className);

} // namespace dr2
