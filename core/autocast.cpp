// The one place that talks to LibTorch's autocast API. Its names changed in 2.4 (one device-type-taking set of
// functions replaced the per-device ones, which are deprecated since), so every call goes through the four
// accessors below and the version checks stay here.
#include "core/autocast.h"

#include "core/device.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <stdexcept>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DR2_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace dr2 {
namespace {

bool enabledOn(c10::DeviceType type)
{
#ifdef DR2_AUTOCAST_BY_DEVICE_TYPE
    return at::autocast::is_autocast_enabled(type);
#else
    // Before 2.4 the device-less names mean CUDA.
    return type == c10::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void setEnabledOn(c10::DeviceType type, bool enabled)
{
#ifdef DR2_AUTOCAST_BY_DEVICE_TYPE
    at::autocast::set_autocast_enabled(type, enabled);
#else
    if (type == c10::kCPU)
        at::autocast::set_cpu_enabled(enabled);
    else
        at::autocast::set_enabled(enabled);
#endif
}

c10::ScalarType typeOn(c10::DeviceType type)
{
#ifdef DR2_AUTOCAST_BY_DEVICE_TYPE
    return at::autocast::get_autocast_dtype(type);
#else
    return type == c10::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

void setTypeOn(c10::DeviceType type, c10::ScalarType dtype)
{
#ifdef DR2_AUTOCAST_BY_DEVICE_TYPE
    at::autocast::set_autocast_dtype(type, dtype);
#else
    if (type == c10::kCPU)
        at::autocast::set_autocast_cpu_dtype(dtype);
    else
        at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

void apply(const AutocastState& state)
{
    setEnabledOn(c10::kCPU, state.cpuEnabled);
    setTypeOn(c10::kCPU, state.cpuType);
    setEnabledOn(c10::kCUDA, state.cudaEnabled);
    setTypeOn(c10::kCUDA, state.cudaType);
    at::autocast::set_autocast_cache_enabled(state.cacheEnabled);
}

} // namespace

c10::ScalarType lowPrecisionType(Precision precision)
{
    switch (precision) {
    case Precision::BFloat16:
        return c10::kBFloat16;
    case Precision::Float16:
        return c10::kHalf;
    case Precision::Float32:
        break;
    }
    return c10::kFloat;
}

void checkPrecision(Precision precision, const c10::Device& device, const std::string& what)
{
    if (!device.is_cpu() && !device.is_cuda())
        throw std::invalid_argument(what + " '" + toString(precision) + "': autocast runs on cpu or cuda, found device "
            + device.str());
    if (device.is_cuda() && !cudaAvailable())
        throw std::invalid_argument(what + " '" + toString(precision) + "' on " + device.str()
            + ": CUDA is not available in this build or on this machine");
    if (device.is_cpu() && precision == Precision::Float16)
        throw std::invalid_argument(what + " 'fp16': float16 autocast needs a CUDA device (with loss scaling); "
                                           "on cpu use bf16 or fp32");
}

AutocastState AutocastState::current()
{
    AutocastState state;
    state.cpuEnabled = enabledOn(c10::kCPU);
    state.cpuType = typeOn(c10::kCPU);
    state.cudaEnabled = enabledOn(c10::kCUDA);
    state.cudaType = typeOn(c10::kCUDA);
    state.cacheEnabled = at::autocast::is_autocast_cache_enabled();
    return state;
}

bool AutocastState::enabledFor(c10::DeviceType type) const
{
    if (type == c10::kCPU)
        return cpuEnabled;
    if (type == c10::kCUDA)
        return cudaEnabled;
    return false;
}

bool AutocastState::operator==(const AutocastState& other) const
{
    return cpuEnabled == other.cpuEnabled && cpuType == other.cpuType && cudaEnabled == other.cudaEnabled
        && cudaType == other.cudaType && cacheEnabled == other.cacheEnabled;
}

AutocastScope::AutocastScope(const c10::Device& device, Precision precision)
{
    checkPrecision(precision, device, "autocast");
    AutocastState state = AutocastState::current();
    const bool on = precision != Precision::Float32;
    if (device.is_cpu()) {
        state.cpuEnabled = on;
        if (on)
            state.cpuType = lowPrecisionType(precision);
    } else {
        state.cudaEnabled = on;
        if (on)
            state.cudaType = lowPrecisionType(precision);
    }
    enter(state);
}

AutocastScope::AutocastScope(const AutocastState& state)
{
    enter(state);
}

void AutocastScope::enter(const AutocastState& state)
{
    m_previous = AutocastState::current();
    apply(state);
    at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope()
{
    // As torch.autocast does: the cache lives as long as the outermost scope, so weights are cast once per
    // forward, and their casts (with their graphs) are freed when it ends.
    if (at::autocast::decrement_nesting() == 0)
        at::autocast::clear_cache();
    apply(m_previous);
}

AutocastCacheOff::AutocastCacheOff()
    : m_previous(at::autocast::is_autocast_cache_enabled())
{
    at::autocast::set_autocast_cache_enabled(false);
}

AutocastCacheOff::~AutocastCacheOff()
{
    at::autocast::set_autocast_cache_enabled(m_previous);
}

} // namespace dr2
