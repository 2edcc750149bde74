#pragma once
// Hand-made prediction previews and the start of a segmentation run, as the Trainer sends them, for the recording and
// GUI tests (the Trainer's own previews are tested with the segmentation task in tests/training).

#include "training/task.h"
#include "training/train_events.h"

#include <cstdint>
#include <string>

namespace dr2::test {

/// A preview of `samples` scenes of `width` × `height` with `channels`: pseudo-random pixels (seeded), truth with
/// classes 0..3 and kIgnoreLabel at the borders, the prediction a shifted copy of the truth.
inline PredictionPreviewEvent makePreviewEvent(
    int64_t iteration, int64_t channels, uint32_t seed, int64_t samples = 2, int64_t width = 24, int64_t height = 16)
{
    PredictionPreviewEvent event;
    event.iteration = iteration;
    event.epoch = iteration / 10;
    event.width = width;
    event.height = height;
    event.channels = channels;
    event.classNames = { "background", "T-shirt/top", "trouser", "bag" };
    uint32_t state = seed * 2654435761U + 1U;
    auto next = [&state] {
        state = state * 1664525U + 1013904223U;
        return uint8_t(state >> 24);
    };
    for (int64_t s = 0; s < samples; ++s) {
        PredictionPreviewEvent::Sample sample;
        for (int64_t i = 0; i < width * height * channels; ++i)
            sample.image.push_back(next());
        for (int64_t y = 0; y < height; ++y)
            for (int64_t x = 0; x < width; ++x) {
                const bool border = x == 0 || y == 0 || x == width - 1 || y == height - 1;
                sample.truth.push_back(border ? uint8_t(kIgnoreLabel) : uint8_t((x / 6 + y / 4 + s) % 4));
                sample.prediction.push_back(uint8_t(((x + 1) / 6 + y / 4 + s) % 4));
            }
        event.samples.push_back(std::move(sample));
    }
    return event;
}

/// The start of a segmentation run with the task's metrics (mIoU first) and setup.
inline RunStartedEvent segmentationRunStarted(const std::string& name)
{
    RunStartedEvent event;
    event.name = name;
    event.strategy = "dr2net";
    event.configJson = "{}";
    event.modelSummary = "vit 64d×2 (4 branches, 4 heads), 32² patch 4, 4 classes";
    event.task = "segmentation";
    event.metrics = { { "miou", "mIoU", true, true }, { "pixel_acc", "pixel accuracy", true, true },
        { "loss", "loss", false, false }, { "iou/background", "IoU background", true, true },
        { "iou/T-shirt_top", "IoU T-shirt/top", true, true } };
    event.setup = { "vit 64d×2 (4 branches, 4 heads), 32² patch 4", "segmentation", "scenes", "", {} };
    event.totalIterations = 40;
    event.iterationsPerEpoch = 10;
    return event;
}

} // namespace dr2::test
