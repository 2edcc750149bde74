#include "core/rng_state.h"

#include "core/device.h"

#include <mutex>

namespace dr2 {

RngState RngState::capture(const c10::Device& device)
{
    RngState state;
    state.m_device = device;
    auto gen = defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    state.m_state = gen.get_state();
    return state;
}

RngState RngState::fromTensor(const c10::Device& device, at::Tensor state)
{
    RngState result;
    result.m_device = device;
    result.m_state = std::move(state);
    return result;
}

void RngState::restore() const
{
    if (!valid())
        return;
    auto gen = defaultGenerator(m_device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(m_state);
}

RngFork::RngFork(const c10::Device& device)
    : m_saved(RngState::capture(device))
{
}

RngFork::~RngFork()
{
    m_saved.restore();
}

} // namespace dr2
