// Test main: the GUI needs a QApplication (offscreen platform from ctest; also when run by hand). QSettings go
// to a test location so a developer's window layout and recent files are never touched.
#include "app/gui/session_types.h"

#include <QApplication>
#include <QStandardPaths>

#include <gtest/gtest.h>

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QStandardPaths::setTestModeEnabled(true);
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("dr2net-tests"));
    QApplication::setApplicationName(QStringLiteral("dr2net-gui-tests"));
    dr2::registerSessionTypes();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
