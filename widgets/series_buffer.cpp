#include "widgets/series_buffer.h"

namespace dr2 {

std::vector<SeriesSample>& SeriesBuffer::seriesLocked(const QString& series)
{
    for (auto& entry : m_pending) {
        if (entry.first == series)
            return entry.second;
    }
    m_pending.emplace_back(series, std::vector<SeriesSample> {});
    return m_pending.back().second;
}

void SeriesBuffer::wakeLocked()
{
    if (m_woken)
        return;
    m_woken = true;
    if (m_wakeUp)
        m_wakeUp();
}

void SeriesBuffer::append(const QString& series, double iteration, double value)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    seriesLocked(series).push_back({ iteration, value });
    ++m_pendingCount;
    ++m_appendedCount;
    wakeLocked();
}

void SeriesBuffer::append(const QString& series, const std::vector<SeriesSample>& samples)
{
    if (samples.empty())
        return;
    std::lock_guard<std::mutex> lock(m_mutex);
    auto& target = seriesLocked(series);
    target.insert(target.end(), samples.begin(), samples.end());
    m_pendingCount += samples.size();
    m_appendedCount += samples.size();
    wakeLocked();
}

SeriesBatch SeriesBuffer::drain()
{
    SeriesBatch out;
    std::lock_guard<std::mutex> lock(m_mutex);
    out.swap(m_pending);
    m_pendingCount = 0;
    m_woken = false;
    return out;
}

size_t SeriesBuffer::pendingCount() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_pendingCount;
}

size_t SeriesBuffer::appendedCount() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_appendedCount;
}

void SeriesBuffer::setWakeUp(std::function<void()> wakeUp)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_wakeUp = std::move(wakeUp);
    // Data that arrived before the consumer was attached must still be delivered.
    if (m_wakeUp && m_pendingCount > 0) {
        m_woken = true;
        m_wakeUp();
    }
}

} // namespace dr2
