#pragma once

#include <QString>

#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace dr2 {

/// One point of a scalar series: the value at an iteration (iterations count from 0).
struct SeriesSample {
    double iteration = 0.0; ///< x: the iteration (or any ascending key)
    double value = 0.0; ///< y: in the series' own unit (bytes for memory, fraction for accuracy)
};

/// Samples appended since the last drain, grouped per named series in order of first appearance.
using SeriesBatch = std::vector<std::pair<QString, std::vector<SeriesSample>>>;

/// A thread-safe append buffer of (iteration, value) samples per named series. A worker thread appends;
/// the GUI thread drains everything at once on a timer (see SeriesFeed). No signal per data point: the
/// wake-up callback runs once when the buffer goes from empty to non-empty, not once per sample.
class SeriesBuffer {
public:
    /// Appends one sample to `series`. Safe from any thread.
    void append(const QString& series, double iteration, double value);
    /// Appends several samples to `series` at once. Safe from any thread.
    void append(const QString& series, const std::vector<SeriesSample>& samples);
    /// Takes every pending sample out of the buffer; the next append wakes the consumer again.
    SeriesBatch drain();
    /// Number of samples waiting to be drained.
    size_t pendingCount() const;
    /// Total samples ever appended.
    size_t appendedCount() const;
    /// Called (under the buffer's lock, so keep it short: post an event) on the first append after a drain.
    /// Pass an empty function to stop wake-ups (before the consumer goes away).
    void setWakeUp(std::function<void()> wakeUp);

private:
    std::vector<SeriesSample>& seriesLocked(const QString& series);
    void wakeLocked();

    mutable std::mutex m_mutex;
    SeriesBatch m_pending;
    size_t m_pendingCount = 0;
    size_t m_appendedCount = 0;
    bool m_woken = false;
    std::function<void()> m_wakeUp;
};

} // namespace dr2
