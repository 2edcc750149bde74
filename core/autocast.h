#pragma once

#include "core/precision.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace dr2 {

/// The 16-bit dtype autocast casts to (float32 for Precision::Float32).
c10::ScalarType lowPrecisionType(Precision precision);
/// Throws std::invalid_argument (naming `what`) when `precision` cannot run on `device`: float16 needs CUDA (CPU
/// autocast computes bfloat16 only), and a CUDA device needs a CUDA build with a GPU.
void checkPrecision(Precision precision, const c10::Device& device, const std::string& what = "precision");

/// This thread's whole autocast state, for both device types the project runs on. A custom autograd function
/// captures it in its forward and re-enters it in its backward, so a recompute computes in the forward's
/// precision wherever and whenever the backward runs.
struct AutocastState {
    bool cpuEnabled = false;
    c10::ScalarType cpuType = c10::kBFloat16;
    bool cudaEnabled = false;
    c10::ScalarType cudaType = c10::kHalf;
    bool cacheEnabled = true; ///< whether casts of leaf weights are cached until the outermost scope ends

    /// The state in effect on this thread now.
    static AutocastState current();
    /// True when autocast is on for `type` (CPU or CUDA; false for others).
    bool enabledFor(c10::DeviceType type) const;
    /// True when autocast is on for any device.
    bool any() const { return cpuEnabled || cudaEnabled; }
    bool operator==(const AutocastState& other) const;
    bool operator!=(const AutocastState& other) const { return !(*this == other); }
};

/// RAII scope in the manner of torch.autocast: sets this thread's autocast state, counts one nesting level, and
/// on exit restores the previous state and clears the cast cache when it leaves the outermost level.
class AutocastScope {
public:
    /// Autocast on `device`'s type to `precision` (Float32 turns it off for that type); other types keep their
    /// state. Throws std::invalid_argument when checkPrecision() refuses the pair.
    AutocastScope(const c10::Device& device, Precision precision);
    /// Enters exactly `state` (as captured by AutocastState::current()).
    explicit AutocastScope(const AutocastState& state);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;
    AutocastScope(AutocastScope&&) = delete;
    AutocastScope& operator=(AutocastScope&&) = delete;

private:
    void enter(const AutocastState& state);

    AutocastState m_previous;
};

/// Turns off the cast cache for a scope (and restores it): code that runs with grad mode off under autocast, like
/// a reversible forward, must not leave casts of weights without a graph in the cache for a later forward with
/// grad mode on to pick up (their gradients would silently never reach the weights).
class AutocastCacheOff {
public:
    AutocastCacheOff();
    ~AutocastCacheOff();
    AutocastCacheOff(const AutocastCacheOff&) = delete;
    AutocastCacheOff& operator=(const AutocastCacheOff&) = delete;
    AutocastCacheOff(AutocastCacheOff&&) = delete;
    AutocastCacheOff& operator=(AutocastCacheOff&&) = delete;

private:
    bool m_previous = true;
};

} // namespace dr2
