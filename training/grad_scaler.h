#pragma once

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <vector>

namespace dr2 {

/// Options of a GradScaler (torch.cuda.amp.GradScaler's defaults).
struct GradScalerOptions {
    bool enabled = true; ///< false: scale() and unscale() do nothing, step() always steps (fp32, bf16)
    double initScale = 65536.0; ///< 2^16
    double growthFactor = 2.0; ///< the scale grows by this after growthInterval finite steps in a row
    double backoffFactor = 0.5; ///< and shrinks by this after a step with Inf or NaN gradients
    int64_t growthInterval = 2000;
};

/// What a resumable checkpoint keeps of a GradScaler, so a resumed run continues with the same scale.
struct GradScalerState {
    double scale = 65536.0;
    int64_t goodSteps = 0; ///< finite steps since the scale last changed
    int64_t skippedSteps = 0;
};

/// Dynamic loss scaling for float16 autocast: float16 flushes gradients below 6e-8 to zero, so the loss is
/// multiplied by a large scale before backward and the gradients divided by it before the optimizer step; a step
/// whose gradients overflowed is skipped and the scale backs off, a run of good steps lets it grow again.
///
/// Per optimizer step: `scale(loss).backward()` (for every accumulated micro-batch), then optionally `unscale()`
/// (before clipping the gradient norm), then `step(optimizer)`, then `update()`.
class GradScaler {
public:
    explicit GradScaler(GradScalerOptions options = {});

    /// loss × scale (the loss itself when disabled).
    torch::Tensor scale(const torch::Tensor& loss) const;
    /// Divides the gradients of the optimizer's parameters by the scale, once per step (later calls until update()
    /// do nothing), and records whether any is Inf or NaN. Returns true when all are finite.
    bool unscale(torch::optim::Optimizer& optimizer);
    /// Unscales if not done yet, then steps the optimizer unless a gradient is Inf or NaN. Returns whether it stepped.
    bool step(torch::optim::Optimizer& optimizer);
    /// Grows or backs off the scale from this step's outcome and readies the next step.
    void update();

    /// The current scale (1 when disabled).
    double scaleValue() const { return m_options.enabled ? m_scale : 1.0; }
    bool enabled() const { return m_options.enabled; }
    /// Steps skipped so far because of Inf or NaN gradients.
    int64_t skippedSteps() const { return m_skipped; }
    /// The state between steps (after update()), for checkpoints.
    GradScalerState state() const { return { m_scale, m_goodSteps, m_skipped }; }
    /// Continues from a saved state; throws std::invalid_argument on a scale that is not finite and positive.
    void restore(const GradScalerState& state);

private:
    GradScalerOptions m_options;
    double m_scale;
    int64_t m_goodSteps = 0; // finite steps since the last change of the scale
    int64_t m_skipped = 0;
    bool m_unscaled = false; // unscale() ran for the current step
    bool m_foundInf = false; // ... and found Inf or NaN
};

} // namespace dr2
