#include "training/tasks/segmentation/segmentation_task.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace dr2 {

namespace F = torch::nn::functional;

namespace {

const torch::Tensor& masksOf(const TaskTarget& target, const torch::Tensor& logits)
{
    const torch::Tensor& masks = target.tensor;
    if (!masks.defined() || masks.dim() != 3 || logits.dim() != 4 || masks.size(0) != logits.size(0)
        || masks.size(1) != logits.size(2) || masks.size(2) != logits.size(3))
        throw std::invalid_argument("segmentation target: expected masks [B, H, W] matching the prediction "
            + c10::str(logits.sizes()) + ", found " + (masks.defined() ? c10::str(masks.sizes()) : std::string("none")));
    return masks;
}

/// Mean cross-entropy over the labelled pixels; zero (still differentiable) when a batch has none, where
/// cross_entropy's mean would be 0/0.
torch::Tensor pixelCrossEntropy(const torch::Tensor& logits, const TaskTarget& target)
{
    const torch::Tensor& masks = masksOf(target, logits);
    if (!masks.ne(kIgnoreLabel).any().item<bool>())
        return logits.sum() * 0.0;
    return F::cross_entropy(logits, masks, F::CrossEntropyFuncOptions().ignore_index(kIgnoreLabel));
}

/// A confusion matrix over every labelled pixel of the validation set: rows truth, columns prediction.
class SegmentationEvaluation final : public TaskEvaluation {
public:
    explicit SegmentationEvaluation(std::vector<std::string> classNames)
        : m_classNames(std::move(classNames))
        , m_confusion(torch::zeros({ static_cast<int64_t>(m_classNames.size()) * static_cast<int64_t>(m_classNames.size()) },
              torch::kLong))
    {
    }

    void add(const torch::Tensor& logits, const TaskTarget& target) override
    {
        torch::NoGradGuard noGrad;
        const torch::Tensor masks = masksOf(target, logits).to(torch::kCPU);
        const int64_t k = static_cast<int64_t>(m_classNames.size());
        const torch::Tensor scores = logits.to(torch::kCPU, torch::kFloat32);
        m_lossSum += F::cross_entropy(scores, masks,
            F::CrossEntropyFuncOptions().ignore_index(kIgnoreLabel).reduction(torch::kSum))
                         .item<double>();
        const torch::Tensor labelled = masks.ne(kIgnoreLabel).logical_and(masks.lt(k));
        const torch::Tensor truth = masks.masked_select(labelled);
        const torch::Tensor predicted = scores.argmax(1).masked_select(labelled);
        m_confusion += torch::bincount(truth * k + predicted, {}, k * k);
        m_pixels += truth.numel();
        m_samples += masks.size(0);
    }

    MetricMap result() const override
    {
        const int64_t k = static_cast<int64_t>(m_classNames.size());
        const torch::Tensor confusion = m_confusion.view({ k, k }).to(torch::kDouble);
        const torch::Tensor hits = confusion.diagonal();
        const torch::Tensor unions = confusion.sum(0) + confusion.sum(1) - hits;
        MetricMap metrics;
        double iouSum = 0.0;
        int64_t present = 0;
        for (int64_t c = 0; c < k; ++c) {
            const double u = unions[c].item<double>();
            // A class absent from both truth and prediction has no IoU; mIoU averages the classes that occur.
            if (u <= 0)
                continue;
            const double iou = hits[c].item<double>() / u;
            metrics[classIouKey(m_classNames[static_cast<size_t>(c)])] = iou;
            iouSum += iou;
            ++present;
        }
        const auto pixels = static_cast<double>(m_pixels);
        metrics["miou"] = present > 0 ? iouSum / static_cast<double>(present) : 0.0;
        metrics["pixel_acc"] = m_pixels > 0 ? hits.sum().item<double>() / pixels : 0.0;
        metrics["loss"] = m_pixels > 0 ? m_lossSum / pixels : 0.0;
        return metrics;
    }

    int64_t samples() const override { return m_samples; }

    torch::Tensor sums() const override
    {
        const torch::Tensor totals
            = torch::tensor({ m_lossSum, static_cast<double>(m_pixels), static_cast<double>(m_samples) }, torch::kDouble);
        return torch::cat({ totals, m_confusion.to(torch::kDouble) });
    }

    void setSums(const torch::Tensor& sums) override
    {
        const auto values = sums.to(torch::kCPU, torch::kDouble).contiguous();
        TORCH_CHECK(values.numel() == 3 + m_confusion.numel(), "segmentation evaluation: ", 3 + m_confusion.numel(),
            " sums expected, got ", values.numel());
        m_lossSum = values[0].item<double>();
        m_pixels = std::llround(values[1].item<double>());
        m_samples = std::llround(values[2].item<double>());
        m_confusion = values.narrow(0, 3, m_confusion.numel()).round().to(torch::kLong);
    }

private:
    std::vector<std::string> m_classNames;
    torch::Tensor m_confusion;
    double m_lossSum = 0.0;
    int64_t m_pixels = 0;
    int64_t m_samples = 0;
};

} // namespace

std::string classIouKey(const std::string& className)
{
    // Metric keys name series in the database and arrays in HDF5 paths, where a '/' would nest: "T-shirt/top".
    std::string key = "iou/";
    for (char c : className)
        key += c == '/' ? '_' : c;
    return key;
}

SegmentationTask::SegmentationTask(std::vector<std::string> classNames, int64_t headDim)
    : m_classNames(std::move(classNames))
    , m_headDim(headDim)
{
    if (m_classNames.size() < 2)
        throw std::invalid_argument("segmentation task: expected at least 2 classes (background and one), found "
            + std::to_string(m_classNames.size()));
    if (m_classNames.size() > kIgnoreLabel)
        throw std::invalid_argument("segmentation task: expected at most " + std::to_string(kIgnoreLabel)
            + " classes (masks are 8-bit, " + std::to_string(kIgnoreLabel) + " is ignore), found "
            + std::to_string(m_classNames.size()));
}

std::vector<std::string> SegmentationTask::buildHead(Backbone& backbone, const StateDict& pretrained, bool reuse)
{
    const InputShape input = backbone.inputShape();
    if (input.frames > 0)
        throw std::invalid_argument("segmentation task: the backbone takes clips of " + std::to_string(input.frames)
            + " frames; segmentation needs an image backbone (model.num_frames 0)");
    m_height = input.height;
    m_width = input.width;
    SegmentationHeadOptions options;
    for (const auto& stage : backbone.describe().stages) {
        options.widths.push_back(stage.width);
        options.strides.push_back(stage.stride);
    }
    options.dim = m_headDim;
    options.classes = numClasses();
    m_head = SegmentationHead(options);

    // A file's segmentation head is kept when every tensor is there with our shape; anything else (a classifier,
    // another class count) leaves the fresh head, and says so.
    bool hasHeadTensors = false;
    for (const auto& entry : pretrained)
        hasHeadTensors = hasHeadTensors || entry.first.rfind("head.", 0) == 0;
    if (!hasHeadTensors)
        return {};
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
    for (const auto& item : m_head->named_parameters(/*recurse=*/true)) {
        const torch::Tensor* file = findTensor(pretrained, "head." + item.key());
        if (!file || file->sizes() != item.value().sizes())
            return { "segmentation head built fresh: the checkpoint's head (" + std::string(findTensor(pretrained, "head.weight") ? "a classifier" : "another layout or class count") + ") does not fit " + std::to_string(numClasses()) + " classes" };
        copies.emplace_back(item.value(), *file);
    }
    if (!reuse)
        return { "segmentation head re-initialised for the new task (model.reset_head)" };
    torch::NoGradGuard noGrad;
    for (auto& [param, file] : copies)
        param.copy_(file);
    return { "segmentation head kept from the checkpoint (" + std::to_string(numClasses()) + " classes)" };
}

torch::Tensor SegmentationTask::predict(const BackboneOutput& features)
{
    return m_head->forward(features.maps, m_height, m_width);
}

torch::Tensor SegmentationTask::loss(const torch::Tensor& logits, const TaskTarget& target)
{
    return pixelCrossEntropy(logits, target);
}

torch::Tensor SegmentationTask::probeLoss(const torch::Tensor& logits, const TaskTarget& target)
{
    return pixelCrossEntropy(logits, target);
}

std::unique_ptr<TaskEvaluation> SegmentationTask::startEvaluation() const
{
    return std::make_unique<SegmentationEvaluation>(m_classNames);
}

std::vector<MetricInfo> SegmentationTask::metrics() const
{
    std::vector<MetricInfo> infos { { "miou", "mIoU", true, true }, { "pixel_acc", "pixel accuracy", true, true },
        { "loss", "loss", false, false } };
    for (const auto& name : m_classNames)
        infos.push_back({ classIouKey(name), "IoU " + name, true, true });
    return infos;
}

std::string SegmentationTask::describe() const
{
    return std::to_string(numClasses()) + " classes, segmentation head " + std::to_string(m_headDim) + "d";
}

} // namespace dr2
