#include "core/step_profile.h"

#include "core/device.h"
#include "core/memory_meter.h"

#include <torch/autograd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace dr2 {

StepProfile profileTrainingStep(torch::nn::Module& model, const std::function<torch::Tensor()>& loss,
    const c10::Device& device, int warmup, int repeats)
{
    if (repeats <= 0)
        throw std::invalid_argument("step profile: repeats must be positive, found " + std::to_string(repeats));
    MemoryMeter& meter = MemoryMeter::forDevice(device);
    StepProfile profile;
    profile.exactMemory = meter.exact();

    auto step = [&] {
        torch::Tensor value = loss();
        value.backward();
    };
    for (int i = 0; i < std::max(warmup, 1); ++i) // at least one: gradients must exist before measuring
        step();

    for (int i = 0; i < repeats; ++i) {
        model.zero_grad(/*set_to_none=*/false);
        synchronize(device);
        PeakScope scope(meter);
        const auto start = std::chrono::steady_clock::now();
        step();
        synchronize(device);
        const auto stop = std::chrono::steady_clock::now();
        profile.seconds.push_back(std::chrono::duration<double>(stop - start).count());
        profile.heldBytes = scope.baselineBytes();
        profile.peakAboveHeldBytes = std::max(profile.peakAboveHeldBytes, scope.peakAboveBaseline());
    }
    std::vector<double> sorted = profile.seconds;
    std::sort(sorted.begin(), sorted.end());
    profile.minSeconds = sorted.front();
    const size_t mid = sorted.size() / 2;
    profile.medianSeconds = sorted.size() % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    return profile;
}

} // namespace dr2
