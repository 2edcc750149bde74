#pragma once
// Helpers of the GUI tests: wait in a running event loop, watch event-loop gaps, save screenshots.

#include <QDir>
#include <QFile>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>
#include <QWidget>

#include <ctime>
#include <functional>

namespace dr2::test {

/// Runs the event loop until `done` holds or `timeoutMs` passed; returns `done()`.
inline bool waitUntil(const std::function<bool()>& done, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    while (!done()) {
        if (clock.elapsed() > timeoutMs)
            return done();
        QEventLoop loop;
        QTimer::singleShot(10, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

/// CPU time the calling thread has used, in milliseconds (POSIX thread clock).
inline double threadCpuMs()
{
    timespec now {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return double(now.tv_sec) * 1e3 + double(now.tv_nsec) * 1e-6;
}

/// Time the calling thread has spent runnable but waiting for a core, in milliseconds (Linux
/// /proc/thread-self/schedstat, second field); 0 where the kernel does not say.
inline double threadRunQueueWaitMs()
{
    QFile file(QStringLiteral("/proc/thread-self/schedstat"));
    if (!file.open(QIODevice::ReadOnly))
        return 0.0;
    const QList<QByteArray> fields = file.readAll().simplified().split(' ');
    return fields.size() >= 2 ? fields[1].toDouble() * 1e-6 : 0.0;
}

/// Records the longest gap between ticks of a 10 ms timer on the GUI thread (a stalled event loop), and how
/// much of that gap the GUI thread spent on the CPU: a long gap with little CPU is the thread waiting (for a
/// lock, or for a core on a loaded machine), a long gap with as much CPU is work done on the GUI thread.
class GapMonitor {
public:
    GapMonitor()
    {
        m_timer.setInterval(10);
        m_since.start();
        QObject::connect(&m_timer, &QTimer::timeout, [this] {
            const double cpu = threadCpuMs();
            const double wait = threadRunQueueWaitMs();
            if (m_clock.isValid()) {
                const qint64 gap = m_clock.restart();
                if (gap > m_longest) {
                    m_longest = gap;
                    m_longestEndMs = m_since.elapsed();
                    m_longestCpuMs = cpu - m_lastCpuMs;
                    m_longestWaitMs = wait - m_lastWaitMs;
                }
            } else {
                m_clock.start();
            }
            m_lastCpuMs = cpu;
            m_lastWaitMs = wait;
        });
        m_timer.start();
    }
    /// Runs `step`, a synchronous step of the test itself (a window screenshot takes ~100 ms), without
    /// counting it as a stall of the application: the next gap is measured from the step's end.
    template <typename F>
    void excluding(F step)
    {
        step();
        if (m_clock.isValid())
            m_clock.restart();
        m_lastCpuMs = threadCpuMs();
        m_lastWaitMs = threadRunQueueWaitMs();
    }
    /// Longest gap between ticks so far, in milliseconds.
    qint64 longestMs() const { return m_longest; }
    /// CPU time the GUI thread used during the longest gap, in milliseconds.
    double longestCpuMs() const { return m_longestCpuMs; }
    /// Time the GUI thread waited for a core during the longest gap (a loaded machine), in milliseconds.
    double longestRunQueueWaitMs() const { return m_longestWaitMs; }
    /// When the longest gap ended, in milliseconds since the monitor started.
    qint64 longestEndMs() const { return m_longestEndMs; }
    /// Milliseconds since the monitor started (to place test steps next to the gap).
    qint64 elapsedMs() const { return m_since.elapsed(); }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    QElapsedTimer m_since;
    qint64 m_longest = 0;
    qint64 m_longestEndMs = 0;
    double m_lastCpuMs = 0.0;
    double m_longestCpuMs = 0.0;
    double m_lastWaitMs = 0.0;
    double m_longestWaitMs = 0.0;
};

/// Saves `widget` as DR2_SCREENSHOT_DIR/name.png; returns the path.
inline QString saveScreenshot(QWidget* widget, const QString& name)
{
    QDir().mkpath(QStringLiteral(DR2_SCREENSHOT_DIR));
    QString path = QDir(QStringLiteral(DR2_SCREENSHOT_DIR)).filePath(name + QStringLiteral(".png"));
    widget->grab().save(path);
    return path;
}

} // namespace dr2::test
