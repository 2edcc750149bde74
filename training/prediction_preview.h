#pragma once

#include "training/network.h"
#include "training/train_events.h"

namespace dr2 {

/// A fixed set of validation samples to show a dense task's predictions on, and how to show their input.
struct PreviewSamples {
    at::Tensor input; ///< model input [S, C, H, W], normalised as training sees it
    at::Tensor masks; ///< int64 [S, H, W]
    double mean = 0.5; ///< the normalisation to undo: pixel = (x·std + mean)·255
    double std = 0.5;
    std::vector<std::string> classNames;
};

/// Runs `network` (in eval mode, without gradients; restored to training mode after) on the samples and packs
/// input, truth and the argmax prediction as bytes for observers. Throws std::invalid_argument when the task
/// does not predict pixels.
PredictionPreviewEvent makePredictionPreview(
    NetworkImpl& network, const PreviewSamples& samples, int64_t iteration, int64_t epoch);

} // namespace dr2
