#pragma once
// Helpers shared by the widget tests: event-loop waiting, screenshots into the build tree.

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QString>
#include <QWidget>

#include <functional>

namespace dr2::test {

/// Runs the event loop until `done()` or `limitMs` passed (a hang guard, not a timing assertion).
inline bool waitUntil(const std::function<bool()>& done, int limitMs = 10000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > limitMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    }
    return true;
}

/// Processes pending events (queued replots, posted wake-ups) a few times.
inline void settle()
{
    for (int i = 0; i < 5; ++i)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
}

/// Shows `widget` at `width` x `height` on the (offscreen) screen and lets it lay out and replot.
inline void showAt(QWidget& widget, int width, int height)
{
    widget.resize(width, height);
    widget.show();
    settle();
}

/// Saves a screenshot of `widget` as <build>/screenshots/<name>.png for a reviewer; returns the path.
inline QString saveScreenshot(QWidget& widget, const QString& name)
{
    const QString dir = QStringLiteral(DR2_SCREENSHOT_DIR);
    QDir().mkpath(dir);
    QString path = dir + QLatin1Char('/') + name + QStringLiteral(".png");
    widget.grab().save(path);
    return path;
}

/// A fresh empty folder under the build tree for files written by a test.
inline QString scratchDir(const QString& name)
{
    QString dir = QStringLiteral(DR2_TEST_OUTPUT_DIR) + QLatin1Char('/') + name;
    QDir(dir).removeRecursively();
    QDir().mkpath(dir);
    return dir;
}

} // namespace dr2::test
