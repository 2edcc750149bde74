#pragma once

#include "training/task.h"

#include <torch/nn/modules/linear.h>

namespace dr2 {

/// Image or clip classification: a linear head on the backbone's pooled features, cross-entropy (with label
/// smoothing in training), top-1 / top-5 accuracy; top-1 decides "best".
class ClassificationTask final : public Task {
public:
    ClassificationTask(int64_t numClasses, double labelSmoothing);

    std::string name() const override { return "classification"; }
    std::vector<std::string> buildHead(Backbone& backbone, const StateDict& pretrained, bool reuse) override;
    std::shared_ptr<torch::nn::Module> head() const override { return m_head.ptr(); }
    torch::Tensor predict(const BackboneOutput& features) override;
    torch::Tensor loss(const torch::Tensor& logits, const TaskTarget& target) override;
    torch::Tensor probeLoss(const torch::Tensor& logits, const TaskTarget& target) override;
    std::unique_ptr<TaskEvaluation> startEvaluation() const override;
    std::vector<MetricInfo> metrics() const override;
    std::string describe() const override;

    int64_t numClasses() const { return m_numClasses; }

private:
    int64_t m_numClasses;
    double m_labelSmoothing;
    torch::nn::Linear m_head { nullptr };
};

} // namespace dr2
