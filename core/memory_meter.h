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

struct MemoryAccount;

/// Measures the peak tensor memory of the work done inside the scope, on the thread that created it.
///
/// CPU: the scope opens an account current on this thread; every allocation the counting allocator makes
/// while it is current is charged to it (and to the accounts of enclosing scopes), and debited when
/// freed, on whatever thread. So the peak is that of this scope's own allocations: another thread
/// allocating or opening its own scope meanwhile changes nothing here. Allocations made on other threads
/// on this scope's behalf (a loader thread, LibTorch's intra-op workers) are not charged to it.
/// CUDA: the caching allocator's statistics are per device, not per thread: the peak is the device's
/// peak since the scope started (reset on entry), so concurrent work on the same GPU is included.
///
/// Also resets the meter's process-wide peak on entry, for callers that still read meter.peakBytes();
/// prefer the scope's own peakBytes(). Must be destroyed on the thread that created it.
class PeakScope {
public:
    explicit PeakScope(MemoryMeter& meter);
    ~PeakScope();
    PeakScope(const PeakScope&) = delete;
    PeakScope& operator=(const PeakScope&) = delete;

    /// Bytes alive on the device (all threads) when the scope started.
    int64_t baselineBytes() const { return m_baseline; }
    /// Highest bytes alive at once that were allocated inside this scope (CPU), or the device's peak
    /// minus the baseline (CUDA).
    int64_t peakAboveBaseline() const;
    /// baselineBytes() + peakAboveBaseline(): the step's peak as if nothing else ran meanwhile.
    int64_t peakBytes() const { return m_baseline + peakAboveBaseline(); }

private:
    MemoryMeter& m_meter;
    int64_t m_baseline = 0;
    MemoryAccount* m_account = nullptr; // CPU only; one reference held by this scope
    MemoryAccount* m_previous = nullptr; // the account current on this thread before the scope
};

/// The CPU account current on this thread (the innermost PeakScope's), carried to a helper thread that works on
/// that scope's behalf, so that its allocations count toward the scope's peak (MemoryChargeScope there). Holds a
/// reference: the account stays valid even if the scope ends first. Empty when no CPU scope is current.
class MemoryCharge {
public:
    /// The account current on the calling thread.
    static MemoryCharge current();
    MemoryCharge() = default;
    MemoryCharge(const MemoryCharge& other);
    MemoryCharge& operator=(const MemoryCharge& other);
    ~MemoryCharge();

private:
    friend class MemoryChargeScope;
    MemoryAccount* m_account = nullptr;
};

/// Charges the calling thread's CPU allocations to `charge` until the scope ends (then the previous account is
/// current again). Must be destroyed on the thread that created it.
class MemoryChargeScope {
public:
    explicit MemoryChargeScope(const MemoryCharge& charge);
    ~MemoryChargeScope();
    MemoryChargeScope(const MemoryChargeScope&) = delete;
    MemoryChargeScope& operator=(const MemoryChargeScope&) = delete;

private:
    MemoryCharge m_charge;
    MemoryAccount* m_previous = nullptr;
};

} // namespace dr2
