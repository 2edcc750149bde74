#include "core/memory_meter.h"

#include "core/device.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>


// LibTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define DR2_ALLOCATE_CONST
#define DR2_ALLOCATOR_HAS_COPY_DATA 1
#else
#define DR2_ALLOCATE_CONST const
#define DR2_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace dr2 {

/// Bytes allocated on the CPU while a PeakScope was current, wherever they are freed.
///
/// Reference counted by hand because the last reference may be dropped inside the allocator's free
/// (any thread, any time): the scope holds one, every live allocation made under it one, and a nested
/// account one on its parent. Allocations count toward the whole parent chain, so an outer scope sees
/// what its inner scopes allocated.
struct MemoryAccount {
    std::atomic<int64_t> refs { 1 };
    std::atomic<int64_t> current { 0 };
    std::atomic<int64_t> peak { 0 };
    MemoryAccount* parent = nullptr;

    static void retain(MemoryAccount* account)
    {
        if (account)
            account->refs.fetch_add(1, std::memory_order_relaxed);
    }
    static void release(MemoryAccount* account)
    {
        // A loop, not recursion: a long chain of ended scopes must not deepen the stack of a free.
        while (account && account->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            MemoryAccount* parent = account->parent;
            delete account;
            account = parent;
        }
    }
    static void add(MemoryAccount* account, int64_t delta)
    {
        for (; account; account = account->parent) {
            const int64_t now = account->current.fetch_add(delta) + delta;
            int64_t seen = account->peak.load();
            while (now > seen && !account->peak.compare_exchange_weak(seen, now)) {
            }
        }
    }
};

namespace {

// The account allocations on this thread are charged to (the innermost CPU PeakScope), or none.
thread_local MemoryAccount* t_account = nullptr;

/// Wraps LibTorch's default CPU allocator and counts the bytes of every allocation it hands out.
///
/// Some ATen code calls raw_allocate(), which requires the DataPtr's context to equal its data pointer.
/// So the bookkeeping lives in a header just before the data (64 bytes, keeping LibTorch's alignment):
/// the requested size, the account it was charged to and the inner allocation's deleter and context.
class CountingCpuAllocator final : public c10::Allocator {
public:
    explicit CountingCpuAllocator(c10::Allocator* inner)
        : m_inner(inner)
    {
    }

    c10::DataPtr allocate(size_t bytes) DR2_ALLOCATE_CONST override
    {
        if (bytes == 0)
            return c10::DataPtr(nullptr, nullptr, &CountingCpuAllocator::release, c10::Device(c10::kCPU));
        c10::DataPtr inner = m_inner->allocate(bytes + kHeaderBytes);
        auto* base = static_cast<char*>(inner.get());
        auto context = inner.move_context();
        auto* header = reinterpret_cast<Header*>(base);
        header->bytes = bytes;
        header->owner = this;
        header->innerDeleter = context.get_deleter();
        header->innerContext = context.release();
        header->account = t_account;
        MemoryAccount::retain(header->account);
        MemoryAccount::add(header->account, static_cast<int64_t>(bytes));
        add(static_cast<int64_t>(bytes));
        void* data = base + kHeaderBytes;
        return c10::DataPtr(data, data, &CountingCpuAllocator::release, c10::Device(c10::kCPU));
    }

    c10::DeleterFnPtr raw_deleter() const override { return &CountingCpuAllocator::release; }

#if DR2_ALLOCATOR_HAS_COPY_DATA
    void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif

    int64_t current() const { return m_current.load(std::memory_order_relaxed); }
    int64_t peak() const { return m_peak.load(std::memory_order_relaxed); }
    void resetPeak() { m_peak.store(m_current.load()); }

private:
    struct Header {
        size_t bytes;
        const CountingCpuAllocator* owner;
        c10::DeleterFnPtr innerDeleter;
        void* innerContext;
        MemoryAccount* account; // charged at allocation; debited here even if freed on another thread
    };
    static constexpr size_t kHeaderBytes = 64;
    static_assert(sizeof(Header) <= kHeaderBytes, "header must fit before the data");

    static void release(void* data)
    {
        if (!data)
            return;
        auto* header = reinterpret_cast<Header*>(static_cast<char*>(data) - kHeaderBytes);
        const Header copy = *header;
        copy.owner->add(-static_cast<int64_t>(copy.bytes));
        MemoryAccount::add(copy.account, -static_cast<int64_t>(copy.bytes));
        MemoryAccount::release(copy.account);
        if (copy.innerDeleter)
            copy.innerDeleter(copy.innerContext);
    }

    void add(int64_t delta) const
    {
        const int64_t now = m_current.fetch_add(delta) + delta;
        int64_t seen = m_peak.load();
        while (now > seen && !m_peak.compare_exchange_weak(seen, now)) {
        }
    }

    c10::Allocator* m_inner;
    mutable std::atomic<int64_t> m_current { 0 };
    mutable std::atomic<int64_t> m_peak { 0 };
};

class CpuMemoryMeter final : public MemoryMeter {
public:
    CpuMemoryMeter()
        : m_allocator(c10::GetCPUAllocator())
    {
        // High priority so a later default registration cannot silently replace the counter.
        c10::SetCPUAllocator(&m_allocator, /*priority=*/100);
    }
    int64_t currentBytes() const override { return m_allocator.current(); }
    int64_t peakBytes() const override { return m_allocator.peak(); }
    void resetPeak() override { m_allocator.resetPeak(); }
    bool exact() const override { return true; }

private:
    CountingCpuAllocator m_allocator;
};

/// The CUDA caching allocator's statistics; the CUDA calls themselves live in core/device.cpp.
class CudaMemoryMeter final : public MemoryMeter {
public:
    explicit CudaMemoryMeter(int device)
        : m_device(device)
    {
    }
    int64_t currentBytes() const override { return cudaMemoryStats(m_device).current; }
    int64_t peakBytes() const override { return cudaMemoryStats(m_device).peak; }
    void resetPeak() override { cudaResetPeak(m_device); }
    bool exact() const override { return true; }

private:
    int m_device;
};

} // namespace

MemoryMeter& MemoryMeter::forDevice(const c10::Device& device)
{
    if (device.is_cpu()) {
        // Leaked on purpose: LibTorch holds the allocator pointer until the process ends.
        static CpuMemoryMeter* cpu = new CpuMemoryMeter();
        return *cpu;
    }
    if (device.is_cuda() && cudaAvailable()) {
        static std::mutex mutex;
        static std::unique_ptr<CudaMemoryMeter> meters[64];
        const int index = device.has_index() ? device.index() : 0;
        if (index < 0 || index >= 64)
            throw std::invalid_argument("memory meter: CUDA device index out of range: " + device.str());
        std::lock_guard<std::mutex> lock(mutex);
        if (!meters[index])
            meters[index] = std::make_unique<CudaMemoryMeter>(index);
        return *meters[index];
    }
    throw std::invalid_argument("memory meter: no meter for device " + device.str());
}

PeakScope::PeakScope(MemoryMeter& meter)
    : m_meter(meter)
{
    if (dynamic_cast<CpuMemoryMeter*>(&meter)) {
        m_account = new MemoryAccount();
        m_account->parent = t_account;
        MemoryAccount::retain(m_account->parent);
        m_previous = t_account;
        t_account = m_account;
    }
    // Still reset for callers that read meter.peakBytes() after the scope (process-wide, racy with other
    // threads); this scope's own numbers do not depend on it.
    m_meter.resetPeak();
    m_baseline = m_meter.currentBytes();
}

PeakScope::~PeakScope()
{
    if (m_account) {
        t_account = m_previous;
        MemoryAccount::release(m_account);
    }
}

int64_t PeakScope::peakAboveBaseline() const
{
    if (m_account)
        return m_account->peak.load();
    return m_meter.peakBytes() - m_baseline;
}

MemoryCharge MemoryCharge::current()
{
    MemoryCharge charge;
    charge.m_account = t_account;
    MemoryAccount::retain(charge.m_account);
    return charge;
}

MemoryCharge::MemoryCharge(const MemoryCharge& other)
    : m_account(other.m_account)
{
    MemoryAccount::retain(m_account);
}

MemoryCharge& MemoryCharge::operator=(const MemoryCharge& other)
{
    if (this != &other) {
        MemoryAccount::retain(other.m_account);
        MemoryAccount::release(m_account);
        m_account = other.m_account;
    }
    return *this;
}

MemoryCharge::~MemoryCharge()
{
    MemoryAccount::release(m_account);
}

MemoryChargeScope::MemoryChargeScope(const MemoryCharge& charge)
    : m_charge(charge)
    , m_previous(t_account)
{
    t_account = m_charge.m_account;
}

MemoryChargeScope::~MemoryChargeScope()
{
    t_account = m_previous;
}

} // namespace dr2
