#include "training/prediction_preview.h"

#include <torch/torch.h>

#include <stdexcept>

namespace dr2 {

namespace {

/// [S, ...] tensor of uint8 → one byte vector per sample.
std::vector<uint8_t> bytesOf(const torch::Tensor& sample)
{
    const torch::Tensor contiguous = sample.contiguous();
    const auto* data = contiguous.data_ptr<uint8_t>();
    return { data, data + contiguous.numel() };
}

} // namespace

PredictionPreviewEvent makePredictionPreview(
    NetworkImpl& network, const PreviewSamples& samples, int64_t iteration, int64_t epoch)
{
    if (!network.task().predictsPixels())
        throw std::invalid_argument("prediction preview: task " + network.task().name() + " does not predict pixels");
    const bool wasTraining = network.is_training();
    torch::Tensor predicted;
    {
        torch::NoGradGuard noGrad;
        network.eval();
        const auto device = network.parameters().front().device();
        predicted = network.forward(samples.input.to(device)).argmax(1).to(torch::kCPU, torch::kUInt8);
    }
    network.train(wasTraining);

    PredictionPreviewEvent event;
    event.iteration = iteration;
    event.epoch = epoch;
    event.channels = samples.input.size(1);
    event.height = samples.input.size(2);
    event.width = samples.input.size(3);
    event.classNames = samples.classNames;
    // Back to what a person would see: un-normalised, channels last.
    const torch::Tensor pixels = samples.input.to(torch::kCPU, torch::kFloat32)
                                     .mul(samples.std)
                                     .add(samples.mean)
                                     .mul(255.0)
                                     .round()
                                     .clamp(0, 255)
                                     .to(torch::kUInt8)
                                     .permute({ 0, 2, 3, 1 });
    const torch::Tensor truth = samples.masks.to(torch::kCPU).clamp(0, kIgnoreLabel).to(torch::kUInt8);
    for (int64_t s = 0; s < samples.input.size(0); ++s)
        event.samples.push_back({ bytesOf(pixels[s]), bytesOf(truth[s]), bytesOf(predicted[s]) });
    return event;
}

} // namespace dr2
