#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>

namespace dr2 {

/// Current and peak bytes of live tensor storage on one device. Thread-safe.
///
/// CPU: a counting allocator installed once with c10::SetCPUAllocator wraps the default one and counts
/// every tensor allocation exactly (tensors allocated before it was installed are not counted).
/// CUDA: the caching allocator's statistics of the device (allocated bytes, not reserved).
class MemoryMeter {
public:
    virtual ~MemoryMeter() = default;

    /// Bytes of tensor storage alive now.
    virtual int64_t currentBytes() const = 0;
    /// Highest currentBytes() since the last resetPeak() (or since the meter was created).
    virtual int64_t peakBytes() const = 0;
    /// Sets the peak to the current value.
    virtual void resetPeak() = 0;
    /// True when the numbers are exact byte counts of tensor storage on this device.
    virtual bool exact() const = 0;

    /// The meter for `device`, creating and installing it on first use. The CPU meter lives for the
    /// whole process (LibTorch keeps the allocator pointer).
    static MemoryMeter& forDevice(const c10::Device& device);
};

/// Measures the peak above the bytes alive when the scope started; resets the peak on entry.
class PeakScope {
public:
    explicit PeakScope(MemoryMeter& meter);
    /// Bytes alive when the scope started.
    int64_t baselineBytes() const { return m_baseline; }
    /// Peak bytes minus baseline since the scope started.
    int64_t peakAboveBaseline() const;

private:
    MemoryMeter& m_meter;
    int64_t m_baseline = 0;
};

} // namespace dr2
