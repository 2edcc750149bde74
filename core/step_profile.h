#pragma once

#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <functional>
#include <vector>

namespace dr2 {

/// Time and tensor memory of training steps (forward, loss, backward), measured by MemoryMeter.
struct StepProfile {
    std::vector<double> seconds; ///< wall time of each measured step
    double medianSeconds = 0.0;
    double minSeconds = 0.0;
    int64_t heldBytes = 0; ///< tensor bytes alive before a step: parameters, gradients, inputs
    int64_t peakAboveHeldBytes = 0; ///< highest peak above heldBytes over the measured steps
    bool exactMemory = false; ///< whether the meter counts bytes exactly
};

/// Runs `warmup` unmeasured steps (they allocate the gradients), then `repeats` measured ones.
/// `loss` runs the forward and returns a scalar loss; inputs should be created outside it so they count
/// as held memory. Gradients are zeroed in place between steps, not freed. Tensors allocated before the
/// device's MemoryMeter was first created are invisible to it: create the meter before the model.
StepProfile profileTrainingStep(torch::nn::Module& model, const std::function<torch::Tensor()>& loss,
    const c10::Device& device, int warmup, int repeats);

} // namespace dr2
