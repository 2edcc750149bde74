#include "training/tasks/classification/classification_task.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace dr2 {

namespace F = torch::nn::functional;

namespace {

const torch::Tensor& labelsOf(const TaskTarget& target)
{
    if (!target.tensor.defined() || target.tensor.dim() != 1)
        throw std::invalid_argument("classification target: expected class labels [B], found "
            + (target.tensor.defined() ? c10::str(target.tensor.sizes()) : std::string("none")));
    return target.tensor;
}

class ClassificationEvaluation final : public TaskEvaluation {
public:
    void add(const torch::Tensor& logits, const TaskTarget& target) override
    {
        const torch::Tensor& labels = labelsOf(target);
        m_lossSum += F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
        const int64_t k = std::min<int64_t>(5, logits.size(1));
        auto top = std::get<1>(logits.topk(k, 1));
        auto hits = top.eq(labels.unsqueeze(1));
        m_correct1 += hits.select(1, 0).sum().item<int64_t>();
        m_correct5 += hits.any(1).sum().item<int64_t>();
        m_seen += labels.size(0);
    }

    MetricMap result() const override
    {
        const auto n = static_cast<double>(m_seen);
        if (m_seen == 0)
            return { { "top1", 0.0 }, { "top5", 0.0 }, { "loss", 0.0 } };
        return { { "top1", static_cast<double>(m_correct1) / n }, { "top5", static_cast<double>(m_correct5) / n },
            { "loss", m_lossSum / n } };
    }

    int64_t samples() const override { return m_seen; }

    torch::Tensor sums() const override
    {
        return torch::tensor({ m_lossSum, static_cast<double>(m_correct1), static_cast<double>(m_correct5),
                                 static_cast<double>(m_seen) },
            torch::kDouble);
    }

    void setSums(const torch::Tensor& sums) override
    {
        const auto values = sums.to(torch::kCPU, torch::kDouble).contiguous();
        TORCH_CHECK(values.numel() == 4, "classification evaluation: 4 sums expected, got ", values.numel());
        const double* v = values.data_ptr<double>();
        m_lossSum = v[0];
        m_correct1 = std::llround(v[1]);
        m_correct5 = std::llround(v[2]);
        m_seen = std::llround(v[3]);
    }

private:
    double m_lossSum = 0.0;
    int64_t m_correct1 = 0;
    int64_t m_correct5 = 0;
    int64_t m_seen = 0;
};

} // namespace

ClassificationTask::ClassificationTask(int64_t numClasses, double labelSmoothing)
    : m_numClasses(numClasses)
    , m_labelSmoothing(labelSmoothing)
{
    if (numClasses <= 0)
        throw std::invalid_argument("classification task: expected at least 1 class, found " + std::to_string(numClasses));
}

std::vector<std::string> ClassificationTask::buildHead(Backbone& backbone, const StateDict& pretrained, bool reuse)
{
    const int64_t dim = backbone.pooledDim();
    m_head = torch::nn::Linear(dim, m_numClasses);
    {
        // timm's trunc_normal_(std=.02) with zero bias, as the backbones initialise their own linears.
        torch::NoGradGuard noGrad;
        torch::nn::init::normal_(m_head->weight, 0.0, 0.02).clamp_(-0.04, 0.04);
        torch::nn::init::zeros_(m_head->bias);
    }
    const torch::Tensor* weight = findTensor(pretrained, "head.weight");
    const torch::Tensor* bias = findTensor(pretrained, "head.bias");
    if (!weight)
        return {};
    const int64_t fileClasses = weight->dim() == 2 ? weight->size(0) : 0;
    if (weight->dim() != 2 || weight->size(1) != dim || fileClasses != m_numClasses || !bias
        || bias->sizes() != m_head->bias.sizes())
        return { "classification head replaced: " + std::to_string(fileClasses) + " → " + std::to_string(m_numClasses)
            + " classes" };
    if (!reuse)
        return { "classification head re-initialised for the new task (model.reset_head)" };
    torch::NoGradGuard noGrad;
    m_head->weight.copy_(*weight);
    m_head->bias.copy_(*bias);
    return { "classification head kept from the checkpoint (" + std::to_string(m_numClasses) + " classes)" };
}

torch::Tensor ClassificationTask::predict(const BackboneOutput& features)
{
    return m_head(features.pooled);
}

torch::Tensor ClassificationTask::loss(const torch::Tensor& logits, const TaskTarget& target)
{
    return F::cross_entropy(logits, labelsOf(target), F::CrossEntropyFuncOptions().label_smoothing(m_labelSmoothing));
}

torch::Tensor ClassificationTask::probeLoss(const torch::Tensor& logits, const TaskTarget& target)
{
    return F::cross_entropy(logits, labelsOf(target));
}

std::unique_ptr<TaskEvaluation> ClassificationTask::startEvaluation() const
{
    return std::make_unique<ClassificationEvaluation>();
}

std::vector<MetricInfo> ClassificationTask::metrics() const
{
    return { { "top1", "top-1", true, true }, { "top5", "top-5", true, true }, { "loss", "loss", false, false } };
}

std::string ClassificationTask::describe() const
{
    return std::to_string(m_numClasses) + " classes";
}

} // namespace dr2
