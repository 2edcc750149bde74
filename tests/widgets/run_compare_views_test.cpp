// The runs page's comparison views: the metric plot (legend = runs, raw faint behind the smoothed curve, bounded
// points however long the series), the config diff (only differing dotted keys), parallel coordinates (axes
// from differing config values, linked selection) and the run table grouped by setup (shared selection).
#include "tests/widgets/test_support.h"
#include "widgets/config_diff.h"
#include "widgets/config_diff_view.h"
#include "widgets/metric_compare_panel.h"
#include "widgets/metric_compare_view.h"
#include "widgets/parallel_coordinates.h"
#include "widgets/parallel_coordinates_view.h"
#include "widgets/run_group_model.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"

#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QSlider>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeView>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include <cmath>
#include <iostream>

using namespace dr2;

namespace {

MetricCurve curve(const QString& name, size_t n, double offset)
{
    MetricCurve c;
    c.name = name;
    for (size_t i = 0; i < n; ++i) {
        c.xs.push_back(double(i));
        c.ys.push_back(offset + std::sin(double(i) * 0.01) + ((i * 7919) % 13) * 0.05);
    }
    return c;
}

RunSummary configRun(qint64 id, const QString& name, const QString& config, double final, qint64 peak,
    const QString& setup = QStringLiteral("vit · classification"))
{
    RunSummary run;
    run.id = id;
    run.name = name;
    run.configJson = config;
    run.finalPrimary = final;
    run.peakBytes = peak;
    run.setup = setup;
    return run;
}

QVector<RunSummary> threeRuns()
{
    return {
        configRun(1, QStringLiteral("a"),
            QStringLiteral(R"({"strategy": "dr2net", "optim": {"lr": 0.001, "batch_size": 64}, "model": {"depth": 4}})"),
            0.8, 100 << 20),
        configRun(2, QStringLiteral("b"),
            QStringLiteral(R"({"strategy": "conventional", "optim": {"lr": 0.01, "batch_size": 64}, "model": {"depth": 4}})"),
            0.7, 300 << 20),
        configRun(3, QStringLiteral("c"),
            QStringLiteral(R"({"strategy": "dr2net", "optim": {"lr": 0.0001, "batch_size": 64}, "model": {"depth": 4}})"),
            0.9, 120 << 20, QStringLiteral("swin · segmentation")),
    };
}

} // namespace

TEST(MetricCompareView, LegendListsTheRunsAndTheRawCurveIsFaintBehind)
{
    MetricCompareView view;
    test::showAt(view, 900, 500);
    EXPECT_EQ(view.emptyText(), QStringLiteral("Select runs to compare"));
    EXPECT_TRUE(view.showsEmptyText());
    view.setCurves({ curve(QStringLiteral("a (#1)"), 500, 0.0), curve(QStringLiteral("b (#2)"), 500, 1.0) });
    view.setSmoothing(Smoothing::Ema, 0.9);
    test::settle();
    EXPECT_FALSE(view.showsEmptyText());
    EXPECT_EQ(view.overlayNames(), (QStringList { QStringLiteral("a (#1)"), QStringLiteral("b (#2)") }));
    ASSERT_EQ(view.legendEntryCount(), 2); // the runs, not their raw and smoothed curves
    QCPGraph* raw = nullptr;
    QCPGraph* smoothed = nullptr;
    for (int i = 0; i < view.plot()->graphCount(); ++i) {
        QCPGraph* graph = view.plot()->graph(i);
        if (graph->name() == QStringLiteral("a (#1)") + MetricCompareView::kRawSuffix)
            raw = graph;
        if (graph->name() == QStringLiteral("a (#1)"))
            smoothed = graph;
    }
    ASSERT_TRUE(raw && smoothed);
    // Faint: the run's colour mixed three parts to one with the background (opaque, for the raster fast path).
    const QColor back = view.palette().color(QPalette::Base);
    auto distance = [&back](const QColor& c) {
        return std::abs(c.red() - back.red()) + std::abs(c.green() - back.green()) + std::abs(c.blue() - back.blue());
    };
    EXPECT_LT(distance(raw->pen().color()), 0.4 * distance(smoothed->pen().color()));
    EXPECT_GT(distance(raw->pen().color()), 0);
    // The smoothed curve differs from the raw one; without smoothing only the raw curve remains.
    EXPECT_NE(view.seriesSamples(QStringLiteral("a (#1)"))[100].value,
        view.seriesSamples(QStringLiteral("a (#1)") + MetricCompareView::kRawSuffix)[100].value);
    view.setSmoothing(Smoothing::None, 0.9);
    EXPECT_EQ(view.seriesNames().size(), 2);
    view.setCurves({});
    EXPECT_EQ(view.legendEntryCount(), 0);
    EXPECT_TRUE(view.showsEmptyText());
}

TEST(MetricCompareView, AMillionPointsAreDrawnDecimatedToTheWidth)
{
    MetricCompareView view;
    test::showAt(view, 800, 400);
    view.setSmoothing(Smoothing::Gaussian, 0.9);
    const MetricCurve longCurve = curve(QStringLiteral("long (#1)"), 1000000, 0.0);
    QElapsedTimer timer;
    timer.start();
    view.setCurves({ longCurve });
    const qint64 setMs = timer.restart();
    test::settle();
    std::cout << "[ widgets ] 10^6 points: setCurves " << setMs << " ms, first replot " << timer.elapsed() << " ms"
              << std::endl;
    ASSERT_GT(view.replotCount(), 0);
    // Two curves (raw and smoothed), each at most ~3 points per pixel column of an 800-pixel plot.
    EXPECT_LE(view.plottedPointCount(), 2 * (3 * 800 + 2));
    EXPECT_GT(view.plottedPointCount(), 200);
    EXPECT_EQ(view.seriesSamples(QStringLiteral("long (#1)")).size(), 1000000u); // full resolution kept
}

TEST(MetricComparePanel, PickerKeepsTheChoiceAndSmoothingReachesThePlot)
{
    MetricComparePanel panel;
    int picked = 0;
    QObject::connect(&panel, &MetricComparePanel::metricChanged, [&picked] { ++picked; });
    panel.setMetrics({ QStringLiteral("eval.top1"), QStringLiteral("loss"), QStringLiteral("lr") }, QStringLiteral("loss"));
    EXPECT_EQ(panel.metric(), QStringLiteral("loss"));
    EXPECT_EQ(picked, 1);
    panel.setMetric(QStringLiteral("lr"));
    panel.setMetrics({ QStringLiteral("lr"), QStringLiteral("loss") }, QStringLiteral("loss"));
    EXPECT_EQ(panel.metric(), QStringLiteral("lr")); // the user's pick survives a new selection
    panel.smoothingBox()->setCurrentIndex(panel.smoothingBox()->findData(int(Smoothing::RunningAverage)));
    panel.strengthSlider()->setValue(80);
    EXPECT_EQ(panel.view()->smoothing(), Smoothing::RunningAverage);
    EXPECT_DOUBLE_EQ(panel.view()->smoothingStrength(), 0.8);
    int axis = 0;
    QObject::connect(&panel, &MetricComparePanel::axisChanged, [&axis] { ++axis; });
    panel.setXAxis(MetricXAxis::WallTime);
    EXPECT_EQ(axis, 1);
    EXPECT_EQ(panel.view()->plot()->xAxis->label(), MetricComparePanel::axisLabel(MetricXAxis::WallTime));
}

TEST(ConfigDiff, KeepsOnlyTheDottedKeysThatDiffer)
{
    const ConfigDiff diff = ConfigDiff::of({ QStringLiteral("a"), QStringLiteral("b") },
        { QStringLiteral(R"({"optim": {"lr": 0.001, "batch_size": 64}, "model": {"depth": 4, "dims": [1, 2]}})"),
            QStringLiteral(R"({"optim": {"lr": 0.01, "batch_size": 64}, "model": {"depth": 4, "dims": [1, 3]}, "tag": "x"})") });
    EXPECT_EQ(diff.keys, (QStringList { QStringLiteral("model.dims"), QStringLiteral("optim.lr"), QStringLiteral("tag") }));
    EXPECT_EQ(diff.text(1, 0), QStringLiteral("0.001"));
    EXPECT_EQ(diff.text(1, 1), QStringLiteral("0.01"));
    EXPECT_EQ(diff.text(2, 0), QStringLiteral("–")); // missing counts as a difference
    EXPECT_EQ(diff.text(0, 1), QStringLiteral("[1,3]"));
    const QString csv = diff.toCsv();
    EXPECT_TRUE(csv.startsWith(QStringLiteral("key,a,b\n"))) << csv.toStdString();
    EXPECT_TRUE(csv.contains(QStringLiteral("model.dims,\"[1,2]\",\"[1,3]\"\n"))) << csv.toStdString();
    EXPECT_TRUE(ConfigDiff::of({ QStringLiteral("a"), QStringLiteral("b") }, { QStringLiteral(R"({"x": 1})"), QStringLiteral(R"({"x": 1})") })
                    .keys.isEmpty());
}

TEST(ConfigDiffView, EmptyStatesTableAndExports)
{
    ConfigDiffView view;
    view.resize(600, 300);
    EXPECT_EQ(view.emptyText(), QStringLiteral("Select two or more runs to compare their configs"));
    view.setRuns({ QStringLiteral("a"), QStringLiteral("b") }, { QStringLiteral(R"({"x": 1})"), QStringLiteral(R"({"x": 1})") });
    EXPECT_EQ(view.emptyText(), QStringLiteral("The selected runs have identical configs"));
    view.setRuns({ QStringLiteral("a"), QStringLiteral("b") }, { QStringLiteral(R"({"x": 1, "y": 2})"), QStringLiteral(R"({"x": 2, "y": 2})") });
    EXPECT_TRUE(view.emptyText().isEmpty());
    EXPECT_EQ(view.table()->rowCount(), 1);
    EXPECT_EQ(view.table()->verticalHeaderItem(0)->text(), QStringLiteral("x"));
    QTemporaryDir dir;
    for (const char* suffix : { "png", "pdf", "svg" }) {
        const QString path = dir.filePath(QStringLiteral("diff.") + QLatin1String(suffix));
        QString error;
        EXPECT_TRUE(view.exportImage(path, QSize(640, 320), &error)) << error.toStdString();
        EXPECT_GT(QFileInfo(path).size(), 100);
    }
    const QString csv = dir.filePath(QStringLiteral("diff.csv"));
    ASSERT_TRUE(view.exportCsv(csv));
    QFile file(csv);
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    EXPECT_EQ(QString::fromUtf8(file.readAll()), QStringLiteral("key,a,b\nx,1,2\n"));
}

TEST(ParallelCoordinates, AxesComeFromDifferingConfigValuesThenMetricAndMemory)
{
    QVector<RunSummary> runs = threeRuns();
    const QVector<ParallelAxis> axes = parallelAxes(runs);
    QStringList names;
    for (const ParallelAxis& axis : axes)
        names << axis.name;
    EXPECT_EQ(names,
        (QStringList { QStringLiteral("optim.lr"), QStringLiteral("strategy"), QStringLiteral("final top-1"),
            QStringLiteral("peak memory (MiB)") }));
    const ParallelAxis& lr = axes[0];
    EXPECT_FALSE(lr.categorical);
    EXPECT_DOUBLE_EQ(lr.positions[1], 1.0); // the largest learning rate on top
    EXPECT_DOUBLE_EQ(lr.positions[2], 0.0);
    const ParallelAxis& strategy = axes[1];
    EXPECT_TRUE(strategy.categorical);
    EXPECT_EQ(strategy.categories, (QStringList { QStringLiteral("conventional"), QStringLiteral("dr2net") }));
    EXPECT_DOUBLE_EQ(strategy.positions[0], strategy.positions[2]);
    EXPECT_DOUBLE_EQ(axes[2].positions[2], 1.0); // best final metric
    EXPECT_DOUBLE_EQ(axes[3].positions[1], 1.0); // most memory
    // A key unique to every run (a name, an output folder) has too many values for an axis.
    QVector<RunSummary> many;
    for (int i = 0; i < kMaxCategories + 3; ++i)
        many << configRun(i + 1, QStringLiteral("r%1").arg(i), QStringLiteral(R"({"out": "dir%1"})").arg(i), 0.5, 1);
    EXPECT_EQ(parallelAxes(many).size(), 2);
}

TEST(ParallelCoordinatesView, HighlightsTheSelectionAndAsksToSelectClickedLines)
{
    ParallelCoordinatesView view;
    test::showAt(view, 900, 400);
    EXPECT_TRUE(view.showsEmptyText());
    view.setRuns(threeRuns());
    test::settle();
    EXPECT_FALSE(view.showsEmptyText());
    EXPECT_EQ(view.lineCount(), 3);
    view.setSelectedRuns({ 2 });
    EXPECT_EQ(view.selectedRuns(), (QVector<qint64> { 2 }));
    EXPECT_GT(view.lineOf(2)->pen().widthF(), view.lineOf(1)->pen().widthF());
    QVector<qint64> clicked;
    QObject::connect(&view, &ParallelCoordinatesView::runClicked, [&clicked](qint64 id, bool) { clicked << id; });
    view.clickRun(3, /*additive=*/true);
    EXPECT_EQ(clicked, (QVector<qint64> { 3 }));
    EXPECT_EQ(view.runOf(view.lineOf(1)), 1);
    QTemporaryDir dir;
    const QString csv = dir.filePath(QStringLiteral("parallel.csv"));
    ASSERT_TRUE(view.exportCsv(csv, PlotView::CsvRange::Full));
    QFile file(csv);
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_EQ(lines.size(), 4);
    EXPECT_EQ(lines[0], QStringLiteral("run_id,run,optim.lr,strategy,final top-1,peak memory (MiB)"));
    EXPECT_EQ(lines[2], QStringLiteral("2,b,0.01,conventional,70.00 %,300.0"));
    QString error;
    EXPECT_TRUE(view.exportImage(dir.filePath(QStringLiteral("parallel.svg")), QSize(800, 400), &error))
        << error.toStdString();
}

TEST(RunTableGroups, RunsAreGroupedBySetupAndBothViewsShareTheSelection)
{
    RunTableView view;
    test::showAt(view, 900, 400);
    view.model()->setRuns(threeRuns());
    EXPECT_TRUE(view.isGrouped());
    EXPECT_EQ(view.groups()->groupCount(), 2);
    const QModelIndex first = view.groupProxy()->index(0, 0);
    EXPECT_TRUE(view.tree()->isExpanded(first));
    int changed = 0;
    QObject::connect(&view, &RunTableView::selectionChanged, [&changed] { ++changed; });
    view.selectRuns({ 1, 3 });
    EXPECT_EQ(changed, 1);
    QVector<qint64> ids = view.selectedRunIds();
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (QVector<qint64> { 1, 3 }));
    EXPECT_EQ(view.tree()->selectionModel()->selectedRows().size(), 2); // the tree shows the same selection
    // Selecting in the tree selects in the table.
    const QModelIndex run2 = view.groupProxy()->mapFromSource(view.groups()->indexOfRun(2));
    view.tree()->selectionModel()->select(run2, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    EXPECT_EQ(view.selectedRunIds(), (QVector<qint64> { 2 }));
    // A collapsed group stays collapsed when the runs are read again.
    view.tree()->collapse(first);
    const QString key = first.data(RunGroupModel::kGroupKeyRole).toString();
    view.model()->setRuns(threeRuns());
    for (int g = 0; g < view.groupProxy()->rowCount(); ++g) {
        const QModelIndex group = view.groupProxy()->index(g, 0);
        EXPECT_EQ(view.tree()->isExpanded(group), group.data(RunGroupModel::kGroupKeyRole).toString() != key);
    }
    view.setGrouped(false);
    EXPECT_TRUE(view.table()->isVisible());
    EXPECT_FALSE(view.tree()->isVisible());
}
