#include "training/grad_scaler.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace dr2 {

GradScaler::GradScaler(GradScalerOptions options)
    : m_options(options)
    , m_scale(options.initScale)
{
    if (!(options.initScale > 0) || !std::isfinite(options.initScale) || !(options.growthFactor > 1.0)
        || !(options.backoffFactor > 0.0 && options.backoffFactor < 1.0) || options.growthInterval <= 0)
        throw std::invalid_argument("GradScaler: needs init scale > 0, growth factor > 1, backoff in (0, 1) and "
                                    "growth interval > 0, found "
            + std::to_string(options.initScale) + ", " + std::to_string(options.growthFactor) + ", "
            + std::to_string(options.backoffFactor) + ", " + std::to_string(options.growthInterval));
}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) const
{
    // The product is float32 whatever the loss's dtype: a float16 loss times 65536 would itself overflow.
    return m_options.enabled ? loss.to(torch::kFloat32) * m_scale : loss;
}

bool GradScaler::unscale(torch::optim::Optimizer& optimizer)
{
    if (!m_options.enabled || m_unscaled)
        return !m_foundInf;
    torch::NoGradGuard noGrad;
    // One flag summed on the device and read once: a host sync per parameter would stall a GPU step.
    torch::Tensor bad;
    for (auto& group : optimizer.param_groups()) {
        for (auto& p : group.params()) {
            if (!p.grad().defined())
                continue;
            torch::Tensor grad = p.mutable_grad();
            grad.mul_(1.0 / m_scale);
            torch::Tensor nonFinite = torch::logical_not(torch::isfinite(grad)).any();
            bad = bad.defined() ? bad.logical_or_(nonFinite) : nonFinite;
        }
    }
    m_foundInf = bad.defined() && bad.item<bool>();
    m_unscaled = true;
    return !m_foundInf;
}

bool GradScaler::step(torch::optim::Optimizer& optimizer)
{
    if (!unscale(optimizer)) {
        ++m_skipped;
        return false;
    }
    optimizer.step();
    return true;
}

void GradScaler::update()
{
    if (m_options.enabled) {
        if (m_foundInf) {
            m_scale *= m_options.backoffFactor;
            m_goodSteps = 0;
        } else if (m_unscaled && ++m_goodSteps >= m_options.growthInterval) {
            m_scale *= m_options.growthFactor;
            m_goodSteps = 0;
        }
    }
    m_unscaled = false;
    m_foundInf = false;
}

void GradScaler::restore(const GradScalerState& state)
{
    if (!(state.scale > 0) || !std::isfinite(state.scale) || state.goodSteps < 0 || state.skippedSteps < 0)
        throw std::invalid_argument("GradScaler: cannot restore scale " + std::to_string(state.scale) + " after "
            + std::to_string(state.goodSteps) + " good steps");
    m_scale = state.scale;
    m_goodSteps = state.goodSteps;
    m_skipped = state.skippedSteps;
    m_unscaled = false;
    m_foundInf = false;
}

} // namespace dr2
