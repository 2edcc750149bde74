#pragma once

// Where a step's time goes: wall time per named scope (the dr2:: user scopes of Dr2Stack, ATen's operators),
// per thread kind, from LibTorch's RecordFunction callbacks (the same events its profiler records). For `bench
// --profile`; the callbacks cost about a microsecond per operator while a ScopeTimes is alive.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace dr2 {

/// Inclusive wall time of every scope entered while it is alive, by name and by whether it ran on the thread that
/// created it (the caller) or on another (Dr2Stack's helper, intra-op workers). Nested scopes each count their
/// whole time: aten::linear includes its aten::addmm. One ScopeTimes at a time per process (the callbacks are
/// process-wide); a second throws std::logic_error.
class ScopeTimes {
public:
    struct Total {
        int64_t calls = 0;
        double seconds = 0.0;
    };
    /// (name, on the caller's thread) → totals.
    using Table = std::map<std::pair<std::string, bool>, Total>;

    ScopeTimes();
    ~ScopeTimes();
    ScopeTimes(const ScopeTimes&) = delete;
    ScopeTimes& operator=(const ScopeTimes&) = delete;

    /// What has been recorded so far.
    Table table() const;

    /// Called by the RecordFunction callbacks.
    void add(const char* name, double seconds);

private:
    std::thread::id m_caller;
    uint64_t m_handle = 0;
    mutable std::mutex m_mutex;
    Table m_table;
};

} // namespace dr2
