#include "core/scope_times.h"

#include <ATen/record_function.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>

namespace dr2 {

namespace {

// RecordFunction takes plain function pointers: they find the live ScopeTimes here.
std::atomic<ScopeTimes*> g_active { nullptr };

struct Started : at::ObserverContext {
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
};

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction& /*fn*/)
{
    return std::make_unique<Started>();
}

void onEnd(const at::RecordFunction& fn, at::ObserverContext* context)
{
    ScopeTimes* times = g_active.load();
    if (times == nullptr || context == nullptr)
        return;
    const auto elapsed = std::chrono::steady_clock::now() - static_cast<Started*>(context)->at;
    times->add(fn.name(), std::chrono::duration<double>(elapsed).count());
}

} // namespace

ScopeTimes::ScopeTimes()
    : m_caller(std::this_thread::get_id())
{
    ScopeTimes* expected = nullptr;
    if (!g_active.compare_exchange_strong(expected, this))
        throw std::logic_error("ScopeTimes: another one is recording in this process");
    m_handle = at::addGlobalCallback(at::RecordFunctionCallback(onStart, onEnd)
                                         .needsInputs(false)
                                         .scopes({ at::RecordScope::FUNCTION, at::RecordScope::USER_SCOPE }));
}

ScopeTimes::~ScopeTimes()
{
    at::removeCallback(m_handle);
    g_active.store(nullptr);
}

ScopeTimes::Table ScopeTimes::table() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_table;
}

void ScopeTimes::add(const char* name, double seconds)
{
    const bool caller = std::this_thread::get_id() == m_caller;
    std::lock_guard<std::mutex> lock(m_mutex);
    Total& total = m_table[{ name, caller }];
    ++total.calls;
    total.seconds += seconds;
}

} // namespace dr2
