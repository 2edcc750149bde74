#pragma once
// Helpers of the GUI tests: wait in a running event loop, watch event-loop gaps, save screenshots.

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>
#include <QWidget>

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

/// Records the longest gap between ticks of a 10 ms timer on the GUI thread (a stalled event loop).
class GapMonitor {
public:
    GapMonitor()
    {
        m_timer.setInterval(10);
        QObject::connect(&m_timer, &QTimer::timeout, [this] {
            if (m_clock.isValid())
                m_longest = std::max(m_longest, m_clock.restart());
            else
                m_clock.start();
        });
        m_timer.start();
    }
    /// Longest gap between ticks so far, in milliseconds.
    qint64 longestMs() const { return m_longest; }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_longest = 0;
};

/// Saves `widget` as DR2_SCREENSHOT_DIR/name.png; returns the path.
inline QString saveScreenshot(QWidget* widget, const QString& name)
{
    QDir().mkpath(QStringLiteral(DR2_SCREENSHOT_DIR));
    const QString path = QDir(QStringLiteral(DR2_SCREENSHOT_DIR)).filePath(name + QStringLiteral(".png"));
    widget->grab().save(path);
    return path;
}

} // namespace dr2::test
