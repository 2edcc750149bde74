// The runs page with 500 recorded runs in 5 setups and one run with a 10^6-point loss series: groups, the metric
// plot (decimated: a bounded number of points however long the series), the linked selection of the table and the
// parallel coordinates, the config diff, and the exports. The longest event-loop stall is measured and printed,
// never asserted (timings belong to `bench`).
#include "app/gui/runs_page.h"
#include "app/recording/run_metrics.h"
#include "storage/run_store.h"
#include "tests/gui/gui_test_support.h"
#include "widgets/config_diff_view.h"
#include "widgets/metric_compare_panel.h"
#include "widgets/metric_compare_view.h"
#include "widgets/parallel_coordinates_view.h"
#include "widgets/run_group_model.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QTabWidget>
#include <QTemporaryDir>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include <cmath>
#include <iostream>

namespace dr2 {
namespace {

    constexpr int kRuns = 500;
    constexpr int kSetups = 5;
    constexpr int64_t kLongSeries = 1000000;

    /// A run of setup `setup` with `points` loss values and an evaluation (ending an epoch) every 50 iterations.
    int64_t addRun(RunStore& store, int i, int64_t points)
    {
        RunRecord record;
        record.name = "run-" + std::to_string(i);
        record.strategy = i % 2 ? "dr2net" : "conventional";
        record.configJson = R"({"strategy": ")" + record.strategy + R"(", "optim": {"lr": )"
            + std::to_string(0.001 * (1 + i % 7)) + R"(, "batch_size": )" + std::to_string(32 << (i % 3)) + "}}";
        RunSetupInfo setup;
        setup.backbone = "vit 64d×" + std::to_string(2 + i % kSetups);
        setup.task = "classification";
        setup.dataset = "fashion-mnist";
        record.setupJson = runSetupJson(setup);
        const int64_t id = store.createRun(record);
        RunBatch batch;
        batch.scalars.reserve(size_t(points) * 2);
        for (int64_t it = 0; it < points; ++it) {
            batch.scalars.push_back({ it, "loss", 2.0 * std::exp(-double(it) / double(points)) + 0.1 * std::sin(double(it)) });
            if (points <= 1000)
                batch.scalars.push_back({ it, "step_s", 0.05 });
        }
        for (int64_t it = 50; it <= points; it += points > 1000 ? points / 10 : 50)
            batch.evaluations.push_back({ it, "val", { { "top1", 0.5 + 0.001 * double(i % 100) }, { "epoch", double(it / 50 - 1) } } });
        store.writeBatch(id, batch);
        const std::string results = R"({"final_top1": )" + std::to_string(0.5 + 0.001 * (i % 100)) + "}";
        store.finishRun(id, RunStatus::Finished, results, int64_t(100 + i) << 20);
        return id;
    }

    QVector<qint64> idsOf(const RunTableView* table)
    {
        QVector<qint64> ids;
        for (const RunSummary& run : table->model()->runs())
            ids << run.id;
        return ids;
    }

    /// Waits until the page shows the curves of its newest read.
    bool waitForCurves(RunsPage& page)
    {
        const quint64 wanted = page.curveGeneration();
        quint64 shown = 0;
        const auto connection = QObject::connect(&page, &RunsPage::curvesLoaded, [&shown](quint64 g) { shown = g; });
        const bool ok = test::waitUntil([&] { return shown == wanted; }, 60000);
        QObject::disconnect(connection);
        return ok;
    }

} // namespace

TEST(RunsPage, FiveHundredRunsAndAMillionPointsStayResponsive)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    int64_t longRun = 0;
    {
        RunStore store(database.toStdString());
        longRun = addRun(store, 0, kLongSeries);
        for (int i = 1; i < kRuns; ++i)
            addRun(store, i, 100);
    }

    RunsPage page(QString(), nullptr);
    page.resize(1400, 900);
    page.show();
    test::GapMonitor gaps;
    QElapsedTimer clock;
    clock.start();
    page.setDatabasePath(database); // synchronous read of the 500 summaries, as "Refresh" does
    const qint64 readMs = clock.restart();
    RunTableView* table = page.runTable();
    ASSERT_EQ(table->model()->rowCount(), kRuns) << page.errorText().toStdString();
    EXPECT_EQ(table->groups()->groupCount(), kSetups);
    EXPECT_EQ(page.parallelCoordinates()->lineCount(), kRuns);
    EXPECT_TRUE(page.comparison()->showsEmptyText());
    EXPECT_EQ(page.comparison()->emptyText(), QStringLiteral("Select runs to compare"));

    // The long run and four others: the metric plot draws a bounded number of points.
    QVector<qint64> five = { longRun };
    for (qint64 id : idsOf(table))
        if (five.size() < 5 && id != longRun)
            five << id;
    table->selectRuns(five);
    ASSERT_TRUE(waitForCurves(page));
    test::waitUntil([] { return false; }, 100); // the queued replot
    const qint64 firstPlotMs = clock.restart();
    MetricCompareView* plot = page.comparison();
    EXPECT_EQ(page.metricPanel()->metric(), QStringLiteral("loss"));
    EXPECT_FALSE(plot->showsEmptyText());
    EXPECT_EQ(plot->overlayNames().size(), 5);
    EXPECT_EQ(plot->legendEntryCount(), 5); // the selected runs, not series names
    EXPECT_TRUE(plot->overlayNames().first().startsWith(QStringLiteral("run-0 (#")));
    const int width = plot->plot()->axisRect()->width();
    EXPECT_LE(plot->plottedPointCount(), 10 * (3 * std::max(width, 64) + 2)) << "decimated to the plot's width";
    EXPECT_EQ(plot->seriesSamples(plot->overlayNames().first()).size(), size_t(kLongSeries));
    EXPECT_TRUE(page.metricPanel()->metrics().contains(QStringLiteral("eval.top1")));

    // Smoothing is recomputed on the GUI thread at full resolution; the x axis reads the curves again.
    page.metricPanel()->setSmoothing(Smoothing::Gaussian, 0.95);
    test::waitUntil([] { return false; }, 100);
    page.metricPanel()->setXAxis(MetricXAxis::Epoch);
    ASSERT_TRUE(waitForCurves(page));
    EXPECT_EQ(plot->overlayNames().size(), 5);
    page.metricPanel()->setXAxis(MetricXAxis::WallTime);
    ASSERT_TRUE(waitForCurves(page));
    const qint64 axesMs = clock.restart();

    // Every run: the legend stays readable, the points bounded.
    table->selectRuns(idsOf(table));
    ASSERT_TRUE(waitForCurves(page));
    test::waitUntil([] { return false; }, 100);
    const qint64 allMs = clock.restart();
    EXPECT_EQ(table->selectedRunIds().size(), kRuns);
    EXPECT_EQ(plot->legendEntryCount(), MetricCompareView::kMaxLegendEntries);
    EXPECT_EQ(page.parallelCoordinates()->selectedRuns().size(), kRuns);

    // Linked selection: a click on a line selects its run in the table, the table's selection highlights lines.
    const qint64 picked = five[2];
    page.viewTabs()->setCurrentWidget(page.parallelCoordinates());
    page.parallelCoordinates()->clickRun(picked, /*additive=*/false);
    EXPECT_EQ(table->selectedRunIds(), (QVector<qint64> { picked }));
    EXPECT_EQ(page.parallelCoordinates()->selectedRuns(), (QVector<qint64> { picked }));
    page.parallelCoordinates()->clickRun(five[3], /*additive=*/true);
    EXPECT_EQ(table->selectedRunIds().size(), 2);
    ASSERT_TRUE(waitForCurves(page));

    // The config diff of the two: only keys that differ (their learning rates and strategies do).
    page.viewTabs()->setCurrentWidget(page.configDiff());
    EXPECT_TRUE(page.configDiff()->emptyText().isEmpty());
    EXPECT_TRUE(page.configDiff()->diff().keys.contains(QStringLiteral("optim.lr")));
    EXPECT_FALSE(page.configDiff()->diff().keys.contains(QStringLiteral("model.depth")));

    QStringList written;
    QString error;
    gaps.excluding([&] {
        EXPECT_TRUE(page.exportViewsTo(dir.filePath(QStringLiteral("views")), QSize(1000, 600), PlotView::CsvRange::Full,
            &written, &error))
            << error.toStdString();
    });
    EXPECT_EQ(written.size(), 12);
    for (const QString& file : written)
        EXPECT_GT(QFileInfo(file).size(), 0) << file.toStdString();
    gaps.excluding([&] { test::saveScreenshot(&page, QStringLiteral("gui_runs_compare")); });

    std::cout << "[ gui ] runs page, " << kRuns << " runs, one of " << kLongSeries
              << " points: longest event-loop stall " << gaps.longestMs() << " ms (GUI thread on CPU "
              << gaps.longestCpuMs() << " ms of it, waiting for a core " << gaps.longestRunQueueWaitMs()
              << " ms), ended " << gaps.longestEndMs() << " ms after the start; reading the runs " << readMs
              << " ms, 5 runs plotted after " << firstPlotMs << " ms, smoothing and two axes " << axesMs
              << " ms, all runs " << allMs << " ms; " << plot->plottedPointCount() << " points drawn" << std::endl;
}

} // namespace dr2
