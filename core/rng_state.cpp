#include "core/rng_state.h"

#include "core/device.h"

#include <mutex>

namespace dr2 {
namespace {

at::Tensor stateOf(at::Generator gen)
{
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

} // namespace

RngState RngState::capture(const c10::Device& device)
{
    RngState state;
    state.m_device = device;
    state.m_state = stateOf(defaultGenerator(device));
    return state;
}

RngState RngState::capture(const at::Generator& generator)
{
    RngState state;
    state.m_device = generator.device();
    state.m_generator = generator;
    state.m_state = stateOf(generator);
    return state;
}

RngState RngState::fromTensor(const c10::Device& device, at::Tensor state)
{
    RngState result;
    result.m_device = device;
    result.m_state = std::move(state);
    return result;
}

RngState RngState::fromTensor(const at::Generator& generator, at::Tensor state)
{
    RngState result;
    result.m_device = generator.device();
    result.m_generator = generator;
    result.m_state = std::move(state);
    return result;
}

at::Generator RngState::target() const
{
    return m_generator.defined() ? m_generator : defaultGenerator(m_device);
}

void RngState::restore() const
{
    if (!valid())
        return;
    auto gen = target();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(m_state);
}

RngFork::RngFork(const c10::Device& device)
    : m_saved(RngState::capture(device))
{
}

RngFork::RngFork(const at::Generator& generator)
    : m_saved(RngState::capture(generator))
{
}

RngFork::~RngFork()
{
    m_saved.restore();
}

} // namespace dr2
