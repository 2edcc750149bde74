// The first-run path as a person takes it, on a real X server (run under xvfb-run with QT_QPA_PLATFORM=xcb by
// tests/gui/run_under_xvfb.sh): the real MainWindow, clicks on its buttons with QTest, the quick starter
// pretraining, a short Dr²Net finetune of the starter checkpoint, a heatmap sweep of the finetuned weights on
// validation images, and the Runs page. Screenshots of each step go to <build>/screenshots/first_run_*.png.
#include "tests/gui/gui_test_support.h"

#include "app/gui/checkpoint_panel.h"
#include "app/gui/live_page.h"
#include "app/gui/log_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/run_config_panel.h"
#include "app/gui/runs_page.h"
#include "app/gui/sweep_session.h"
#include "app/gui/training_session.h"
#include "widgets/heatmap_view.h"
#include "widgets/memory_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"

#include <QGuiApplication>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolBar>

#include <gtest/gtest.h>

#include <iostream>

namespace dr2 {
namespace {

/// Shows the page and lets it lay out and replot before the screenshot.
void shoot(MainWindow& window, QWidget* page, const QString& name)
{
    window.tabs()->setCurrentWidget(page);
    test::waitUntil([] { return false; }, 300);
    std::cout << "screenshot: " << test::saveScreenshot(&window, name).toStdString() << std::endl;
}

/// The run toolbar's button of the action labelled `text` (what a person clicks).
QWidget* toolbarButton(MainWindow& window, const QString& text)
{
    auto* toolbar = window.findChild<QToolBar*>(QStringLiteral("runToolbar"));
    EXPECT_NE(toolbar, nullptr);
    for (QAction* action : toolbar->actions())
        if (action->text() == text)
            return toolbar->widgetForAction(action);
    ADD_FAILURE() << "no toolbar button " << text.toStdString();
    return toolbar;
}

TEST(FirstRunOnX, StarterPretrainFinetuneSweepAndRuns)
{
    if (QGuiApplication::platformName() != QLatin1String("xcb"))
        GTEST_SKIP() << "needs a real X server (platform " << QGuiApplication::platformName().toStdString()
                     << "); ctest runs it under xvfb-run";
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.sqlite")));
    window.setQuickStarter(true);
    window.setConfirmFunction([](const QString& title, const QString&) {
        ADD_FAILURE() << "asked to confirm: " << title.toStdString();
        return false;
    });
    window.resize(1600, 1000);
    window.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&window));
    CheckpointPanel* checkpoint = window.checkpointPanel();
    ASSERT_TRUE(checkpoint->showsEmptyState());
    shoot(window, checkpoint, QStringLiteral("first_run_1_checkpoint_empty"));

    // (b) of the empty state: the starter pretraining, recorded, then opened on the Checkpoint page.
    QTest::mouseClick(checkpoint->starterButton(), Qt::LeftButton);
    ASSERT_TRUE(window.session()->isRunning()) << window.lastNotification().toStdString();
    test::waitUntil([&] { return window.livePage()->memoryView()->seriesSamples(MemoryView::kSeriesRss).size() >= 3; },
        60000);
    shoot(window, window.livePage(), QStringLiteral("first_run_2_starter_live"));
    ASSERT_TRUE(test::waitUntil([&] { return checkpoint->inspection().ok && !checkpoint->isBusy(); }, 150000))
        << "starter: " << checkpoint->starterStatus().toStdString() << "\nlog:\n"
        << window.logPanel()->text().toStdString();
    EXPECT_FALSE(checkpoint->showsEmptyState());
    EXPECT_TRUE(window.configPanel()->configJson().contains(checkpoint->inspection().path));
    shoot(window, checkpoint, QStringLiteral("first_run_3_starter_opened"));

    // A short Dr²Net finetune of it: Start does not ask, a checkpoint is set.
    RunConfigPanel* config = window.configPanel();
    config->setValue(QStringLiteral("data.train_limit"), 256);
    config->setValue(QStringLiteral("data.val_limit"), 128);
    config->setValue(QStringLiteral("optim.epochs"), 1);
    config->setValue(QStringLiteral("probe.every"), 2);
    ASSERT_TRUE(config->isValid()) << config->validationMessage().toStdString();
    shoot(window, config, QStringLiteral("first_run_4_configure"));
    QSignalSpy finished(window.session(), &TrainingSession::finished);
    QTest::mouseClick(toolbarButton(window, QStringLiteral("&Start")), Qt::LeftButton);
    ASSERT_TRUE(window.session()->isRunning()) << window.lastNotification().toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() && !window.session()->isRunning(); }, 120000))
        << window.logPanel()->text().toStdString();
    const auto info = finished.first().first().value<RunFinishedInfo>();
    EXPECT_EQ(info.status, QStringLiteral("finished")) << info.message.toStdString();
    shoot(window, window.livePage(), QStringLiteral("first_run_5_finetune_live"));

    // The heatmap sweep probes the finetuned weights on validation images of the configured data.
    LivePage* live = window.livePage();
    EXPECT_EQ(live->sweepWeights(), info.finalWeightsPath);
    live->setSweepGrid(QStringLiteral("0,0.5,1"), QStringLiteral("0.25,1"));
    QSignalSpy swept(window.sweeps(), &SweepSession::finished);
    QSignalSpy sweepFailed(window.sweeps(), &SweepSession::failed);
    QString error;
    ASSERT_TRUE(live->startSweep(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !swept.isEmpty() || !sweepFailed.isEmpty(); }, 120000));
    ASSERT_TRUE(sweepFailed.isEmpty()) << sweepFailed.first().first().toString().toStdString();
    EXPECT_TRUE(live->sweepStatus().contains(QStringLiteral("validation images"))) << live->sweepStatus().toStdString();
    EXPECT_FALSE(live->heatmapView()->showsEmptyText());
    shoot(window, live, QStringLiteral("first_run_6_heatmap"));

    // The Runs page lists both recorded runs.
    RunsPage* runs = window.runsPage();
    window.tabs()->setCurrentWidget(runs);
    ASSERT_TRUE(runs->reload()) << runs->errorText().toStdString();
    EXPECT_EQ(runs->runTable()->model()->rowCount(), 2);
    runs->runTable()->table()->selectAll();
    shoot(window, runs, QStringLiteral("first_run_7_runs"));
}

} // namespace
} // namespace dr2
