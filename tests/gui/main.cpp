// Test main: the GUI needs a QApplication (offscreen platform from ctest; also when run by hand). QSettings go
// to a test location so a developer's window layout and recent files are never touched.
//
// Set DR2_GUI_SLOW_EVENT_MS=N to print every event whose delivery on the GUI thread took N ms or more
// (receiver class and name, event type, nesting depth): the way to find what stalls the event loop.
#include "app/gui/session_types.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QStandardPaths>
#include <QTime>

#include <gtest/gtest.h>

#include <cstdio>

namespace {

class TimingApplication : public QApplication {
public:
    TimingApplication(int& argc, char** argv)
        : QApplication(argc, argv)
    {
        bool ok = false;
        const int threshold = qEnvironmentVariableIntValue("DR2_GUI_SLOW_EVENT_MS", &ok);
        m_thresholdMs = ok && threshold > 0 ? threshold : 0;
    }

    bool notify(QObject* receiver, QEvent* event) override
    {
        if (m_thresholdMs == 0)
            return QApplication::notify(receiver, event);
        const int type = event->type();
        QElapsedTimer clock;
        clock.start();
        ++m_depth;
        const bool result = QApplication::notify(receiver, event);
        --m_depth;
        const qint64 ms = clock.elapsed();
        if (ms >= m_thresholdMs)
            std::fprintf(stderr, "[ slow event ] %s: %lld ms depth %d type %d receiver %s '%s'\n",
                qPrintable(QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz"))),
                static_cast<long long>(ms), m_depth, type, receiver->metaObject()->className(),
                qPrintable(receiver->objectName()));
        return result;
    }

private:
    int m_thresholdMs = 0;
    int m_depth = 0;
};

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QStandardPaths::setTestModeEnabled(true);
    TimingApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("dr2net-tests"));
    QApplication::setApplicationName(QStringLiteral("dr2net-gui-tests"));
    dr2::registerSessionTypes();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
