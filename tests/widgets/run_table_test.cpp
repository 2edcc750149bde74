// The run table sorts numbers as numbers and filters on any column; Table 2 picks one row per strategy.
#include "tests/widgets/test_support.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"
#include "widgets/table2_view.h"

#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTableWidget>
#include <gtest/gtest.h>

using namespace dr2;

namespace {

constexpr qint64 kMiB = qint64 { 1024 } * 1024;

RunSummary run(qint64 id, const QString& name, const QString& strategy, const QString& status, double top1,
    qint64 peakMiB, double seconds, QStringList tags = {})
{
    RunSummary r;
    r.id = id;
    r.name = name;
    r.strategy = strategy;
    r.status = status;
    r.model = QStringLiteral("vit-ti depth 12, 56²");
    r.bestPrimary = top1;
    r.finalPrimary = top1 - 0.01;
    r.peakBytes = peakMiB * kMiB;
    r.seconds = seconds;
    r.tags = std::move(tags);
    return r;
}

QVector<RunSummary> sampleRuns()
{
    return {
        run(1, QStringLiteral("conv-a"), QStringLiteral("conventional"), QStringLiteral("finished"), 0.912, 1229, 610.0,
            { QStringLiteral("baseline") }),
        run(2, QStringLiteral("dr2-a"), QStringLiteral("dr2net"), QStringLiteral("finished"), 0.905, 300, 820.0,
            { QStringLiteral("ablation"), QStringLiteral("eta=1") }),
        run(3, QStringLiteral("vanilla-a"), QStringLiteral("vanilla"), QStringLiteral("failed"), 0.095, 310, 35.5),
        run(4, QStringLiteral("dr2-b"), QStringLiteral("dr2net"), QStringLiteral("finished"), 0.102, 900, 7300.0),
        run(5, QStringLiteral("frozen-a"), QStringLiteral("frozen"), QStringLiteral("running"), 0.6, 120, 20.0),
    };
}

QStringList column(QSortFilterProxyModel* proxy, int col)
{
    QStringList out;
    for (int row = 0; row < proxy->rowCount(); ++row)
        out << proxy->index(row, col).data().toString();
    return out;
}

} // namespace

TEST(RunTable, SortsNumericColumnsByValue)
{
    RunTableView view;
    view.model()->setRuns(sampleRuns());
    QSortFilterProxyModel* proxy = view.proxy();
    proxy->sort(RunTableModel::BestPrimary, Qt::AscendingOrder);
    // As text "9.50 %" would sort after "10.20 %" and "91.20 %" after "90.50 %" only by luck.
    EXPECT_EQ(
        column(proxy, RunTableModel::Name), (QStringList { "vanilla-a", "dr2-b", "frozen-a", "dr2-a", "conv-a" }));
    proxy->sort(RunTableModel::PeakMemory, Qt::DescendingOrder);
    EXPECT_EQ(column(proxy, RunTableModel::PeakMemory),
        (QStringList { "1.20 GiB", "900.0 MiB", "310.0 MiB", "300.0 MiB", "120.0 MiB" }));
    proxy->sort(RunTableModel::Time, Qt::AscendingOrder);
    EXPECT_EQ(column(proxy, RunTableModel::Time),
        (QStringList { "20.0 s", "35.5 s", "10 min 10 s", "13 min 40 s", "2 h 01 min" }));
    proxy->sort(RunTableModel::Name, Qt::AscendingOrder);
    EXPECT_EQ(column(proxy, RunTableModel::Name).first(), QStringLiteral("conv-a"));
}

TEST(RunTable, FiltersOnAnyColumnIncludingTags)
{
    RunTableView view;
    view.model()->setRuns(sampleRuns());
    view.setFilterText(QStringLiteral("DR2NET"));
    EXPECT_EQ(view.proxy()->rowCount(), 2);
    view.setFilterText(QStringLiteral("ablation"));
    ASSERT_EQ(view.proxy()->rowCount(), 1);
    EXPECT_EQ(view.proxy()->index(0, RunTableModel::Name).data().toString(), QStringLiteral("dr2-a"));
    view.setFilterText(QStringLiteral("failed"));
    EXPECT_EQ(view.proxy()->rowCount(), 1);
    view.setFilterText(QString());
    EXPECT_EQ(view.proxy()->rowCount(), 5);
}

TEST(RunTable, UpsertUpdatesInPlaceAndSelectionGivesRunIds)
{
    RunTableView view;
    view.model()->setRuns(sampleRuns());
    RunSummary updated = sampleRuns()[4];
    updated.status = QStringLiteral("finished");
    view.model()->upsertRun(updated);
    EXPECT_EQ(view.model()->rowCount(), 5);
    EXPECT_EQ(view.model()->index(view.model()->rowOf(5), RunTableModel::Status).data().toString(),
        QStringLiteral("finished"));
    view.model()->upsertRun(
        run(6, QStringLiteral("hard-a"), QStringLiteral("hard-finetune"), QStringLiteral("running"), 0.5, 280, 1.0));
    EXPECT_EQ(view.model()->rowCount(), 6);
    view.model()->removeRun(3);
    EXPECT_EQ(view.model()->rowCount(), 5);
    EXPECT_EQ(view.model()->rowOf(3), -1);

    view.proxy()->sort(RunTableModel::Name, Qt::AscendingOrder); // conv-a, dr2-a, dr2-b, frozen-a, hard-a
    view.table()->selectRow(1);
    view.table()->setSelectionMode(QAbstractItemView::MultiSelection);
    view.table()->selectRow(2);
    EXPECT_EQ(view.selectedRunIds(), (QVector<qint64> { 2, 4 }));
    test::showAt(view, 900, 260);
    test::saveScreenshot(view, QStringLiteral("run_table"));
}

TEST(Table2, OneRowPerStrategyFromFinishedRunsInThePapersOrder)
{
    const QVector<Table2Row> rows = summarizeTable2(sampleRuns());
    ASSERT_EQ(rows.size(), 2); // vanilla failed and frozen is running: not in the table
    EXPECT_EQ(rows[0].strategy, QStringLiteral("conventional"));
    EXPECT_EQ(rows[1].strategy, QStringLiteral("dr2net"));
    EXPECT_EQ(rows[1].finishedRuns, 2);
    EXPECT_EQ(rows[1].runId, 2); // the better final top-1 of the two
    ASSERT_TRUE(rows[1].finalPrimary.has_value());
    EXPECT_NEAR(*rows[1].finalPrimary, 0.895, 1e-12);
    ASSERT_TRUE(rows[1].memoryVsConventional.has_value());
    EXPECT_NEAR(*rows[1].memoryVsConventional, 300.0 / 1229.0, 1e-12);
    EXPECT_NEAR(*rows[0].memoryVsConventional, 1.0, 1e-12);
}

TEST(Table2, ViewShowsAndExportsTheRows)
{
    QVector<RunSummary> runs = sampleRuns();
    runs.append(
        run(7, QStringLiteral("frozen-b"), QStringLiteral("frozen"), QStringLiteral("finished"), 0.71, 110, 300));
    runs.append(run(8, QStringLiteral("scratch"), QStringLiteral("reversible-scratch"), QStringLiteral("finished"),
        0.62, 290, 900));
    runs.append(
        run(9, QStringLiteral("hard"), QStringLiteral("hard-finetune"), QStringLiteral("finished"), 0.85, 290, 800));
    runs.append(
        run(10, QStringLiteral("vanilla-b"), QStringLiteral("vanilla"), QStringLiteral("finished"), 0.83, 301, 800));
    Table2View view;
    view.setRuns(runs);
    ASSERT_EQ(view.table()->rowCount(), 6);
    QStringList strategies;
    for (int r = 0; r < 6; ++r)
        strategies << view.rows()[r].strategy;
    EXPECT_EQ(strategies,
        (QStringList { "conventional", "frozen", "reversible-scratch", "hard-finetune", "vanilla", "dr2net" }));
    EXPECT_EQ(view.table()->item(5, Table2View::Strategy)->text(), QStringLiteral("Dr²Net (dynamic α/β)"));
    EXPECT_EQ(view.table()->item(5, Table2View::FinalPrimary)->text(), QStringLiteral("89.50 %"));
    EXPECT_EQ(view.table()->item(5, Table2View::VsConventional)->text(), QStringLiteral("24.4 %"));

    const QString dir = test::scratchDir(QStringLiteral("table2"));
    QString error;
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/table2.csv"), &error)) << error.toStdString();
    QFile file(dir + QStringLiteral("/table2.csv"));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_EQ(lines.size(), 7);
    EXPECT_EQ(lines[0],
        QStringLiteral("strategy,finished_runs,run_id,final_top1,peak_bytes,memory_vs_conventional,setup"));
    EXPECT_TRUE(lines[6].startsWith(QStringLiteral("dr2net,2,2,0.89"))) << lines[6].toStdString();
    EXPECT_TRUE(view.table()->isColumnHidden(Table2View::Setup)); // one setup: nothing to tell apart
    test::showAt(view, 700, 260);
    test::saveScreenshot(view, QStringLiteral("table2"));
}

TEST(Table2, ComparesStrategiesWithinOneSetupOnly)
{
    // The demo's database: a conventional pretraining at 28² on other classes, a gradient-error sweep (no
    // accuracy), and three finetunes at 40². The pretraining must be neither the finetunes' conventional row nor
    // their memory reference.
    const QString pretrain = QStringLiteral("vit 64d×4, 28² patch 4 · fashion-mnist classes 0,1,2,3,4");
    const QString finetune = QStringLiteral("vit 64d×4, 40² patch 4 · fashion-mnist classes 5,6,7,8,9");
    QVector<RunSummary> runs {
        run(5, QStringLiteral("ft-dr2"), QStringLiteral("dr2net"), QStringLiteral("finished"), 0.42, 27, 10),
        run(4, QStringLiteral("ft-vanilla"), QStringLiteral("vanilla"), QStringLiteral("finished"), 0.43, 27, 10),
        run(3, QStringLiteral("ft-conv"), QStringLiteral("conventional"), QStringLiteral("finished"), 0.42, 81, 10),
        run(2, QStringLiteral("sweep"), QStringLiteral("heatmap"), QStringLiteral("finished"), 0, 0, 5),
        run(1, QStringLiteral("pretrain"), QStringLiteral("conventional"), QStringLiteral("finished"), 0.9, 38, 20),
    };
    for (RunSummary& r : runs)
        r.setup = r.id >= 3 ? finetune : pretrain;
    runs[3].finalPrimary.reset(); // a sweep has no accuracy
    runs[3].peakBytes.reset();

    const QVector<Table2Row> rows = summarizeTable2(runs);
    ASSERT_EQ(rows.size(), 4); // finetune: conventional, vanilla, dr2net; pretrain: conventional; no sweep row
    EXPECT_EQ(rows[0].setup, finetune); // the newest setup first
    EXPECT_EQ(rows[0].strategy, QStringLiteral("conventional"));
    EXPECT_EQ(rows[0].runId, 3);
    EXPECT_EQ(rows[0].finishedRuns, 1);
    EXPECT_EQ(rows[2].strategy, QStringLiteral("dr2net"));
    ASSERT_TRUE(rows[2].memoryVsConventional.has_value());
    EXPECT_NEAR(*rows[2].memoryVsConventional, 27.0 / 81.0, 1e-12); // not 27 / 38 (the pretraining)
    EXPECT_EQ(rows[3].setup, pretrain);
    EXPECT_EQ(rows[3].runId, 1);
    EXPECT_NEAR(rows[3].memoryVsConventional.value_or(0), 1.0, 1e-12);

    Table2View view;
    view.setRuns(runs);
    EXPECT_FALSE(view.table()->isColumnHidden(Table2View::Setup));
    EXPECT_EQ(view.table()->item(3, Table2View::Setup)->text(), pretrain);
    const QString dir = test::scratchDir(QStringLiteral("table2-setups"));
    QString error;
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/table2.csv"), &error)) << error.toStdString();
    QFile file(dir + QStringLiteral("/table2.csv"));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_EQ(lines.size(), 5);
    EXPECT_TRUE(lines[4].endsWith(QStringLiteral(",\"") + pretrain + QStringLiteral("\""))) << lines[4].toStdString();
}

TEST(Table2, GroupsBySetupKeyAndShowsItsLabel)
{
    // Two runs recorded with the same setup JSON are one setup; a third with another data root is another, even
    // though a label might read alike.
    const QString same
        = QStringLiteral(R"({"backbone":"vit 64d×4","classes":[5,6],"dataset":"folder","task":"classification"})");
    const QString other
        = QStringLiteral(R"({"backbone":"vit 64d×4","classes":[5,6],"dataset":"folder2","task":"classification"})");
    QVector<RunSummary> runs {
        run(1, QStringLiteral("conv"), QStringLiteral("conventional"), QStringLiteral("finished"), 0.8, 100, 10),
        run(2, QStringLiteral("dr2"), QStringLiteral("dr2net"), QStringLiteral("finished"), 0.79, 25, 10),
        run(3, QStringLiteral("dr2-other"), QStringLiteral("dr2net"), QStringLiteral("finished"), 0.9, 50, 10),
    };
    runs[0].setupKey = same;
    runs[1].setupKey = same;
    runs[2].setupKey = other;
    for (RunSummary& r : runs)
        r.setup = QStringLiteral("vit 64d×4 · classification · folder classes 5,6");
    const QVector<Table2Row> rows = summarizeTable2(runs);
    ASSERT_EQ(rows.size(), 3);
    EXPECT_EQ(rows[0].setupKey, same);
    EXPECT_EQ(rows[0].strategy, QStringLiteral("conventional"));
    EXPECT_EQ(rows[1].setupKey, same);
    EXPECT_EQ(rows[1].runId, 2);
    EXPECT_NEAR(rows[1].memoryVsConventional.value_or(0), 0.25, 1e-12);
    EXPECT_EQ(rows[2].setupKey, other);
    EXPECT_EQ(rows[2].runId, 3);
    EXPECT_FALSE(rows[2].memoryVsConventional.has_value()); // no conventional run of that setup
    EXPECT_EQ(rows[2].setup, runs[2].setup); // the label is shown, the key only groups
    EXPECT_EQ(table2Setups(rows).size(), 2);
}

TEST(Table2, RanksALowerIsBetterPrimaryMetricAscending)
{
    auto lossRun = [](qint64 id, const QString& strategy, double loss, qint64 peakMiB) {
        RunSummary r = run(id, QStringLiteral("loss-%1").arg(id), strategy, QStringLiteral("finished"), 0, peakMiB, 10);
        r.primaryMetric = QStringLiteral("loss");
        r.primaryLabel = QStringLiteral("loss");
        r.higherIsBetter = false;
        r.primaryIsFraction = false;
        r.bestPrimary = loss;
        r.finalPrimary = loss;
        r.setupKey = QStringLiteral(R"({"task":"regression"})");
        return r;
    };
    QVector<RunSummary> runs { lossRun(1, QStringLiteral("dr2net"), 0.40, 30),
        lossRun(2, QStringLiteral("dr2net"), 0.25, 31), lossRun(3, QStringLiteral("dr2net"), 0.90, 29),
        lossRun(4, QStringLiteral("conventional"), 0.30, 90) };
    runs[2].finalPrimary.reset(); // no final evaluation: not a candidate
    runs[2].status = QStringLiteral("finished");
    const QVector<Table2Row> rows = summarizeTable2(runs);
    ASSERT_EQ(rows.size(), 2);
    EXPECT_EQ(rows[1].strategy, QStringLiteral("dr2net"));
    EXPECT_EQ(rows[1].finishedRuns, 2);
    EXPECT_EQ(rows[1].runId, 2); // the lowest loss, not the highest
    EXPECT_NEAR(rows[1].finalPrimary.value_or(0), 0.25, 1e-12);
    EXPECT_FALSE(rows[1].higherIsBetter);

    Table2View view;
    view.setRuns(runs);
    EXPECT_EQ(view.table()->horizontalHeaderItem(Table2View::FinalPrimary)->text(), QStringLiteral("Final loss"));
    EXPECT_EQ(view.table()->item(1, Table2View::FinalPrimary)->text(), QStringLiteral("0.25"));
    const QString dir = test::scratchDir(QStringLiteral("table2-loss"));
    QString error;
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/table2.csv"), &error)) << error.toStdString();
    QFile file(dir + QStringLiteral("/table2.csv"));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_EQ(lines.size(), 3);
    EXPECT_EQ(
        lines[0], QStringLiteral("strategy,finished_runs,run_id,final_loss,peak_bytes,memory_vs_conventional,setup"));

    // Mixed with top-1 runs of another setup: one column of each run's own metric, named per row.
    runs.append(run(9, QStringLiteral("cls"), QStringLiteral("conventional"), QStringLiteral("finished"), 0.5, 10, 10));
    view.setRuns(runs);
    EXPECT_EQ(
        view.table()->horizontalHeaderItem(Table2View::FinalPrimary)->text(), QStringLiteral("Final (primary metric)"));
    EXPECT_EQ(view.table()->item(2, Table2View::FinalPrimary)->text(), QStringLiteral("49.00 % top-1"));
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/mixed.csv"), &error)) << error.toStdString();
    QFile mixed(dir + QStringLiteral("/mixed.csv"));
    ASSERT_TRUE(mixed.open(QIODevice::ReadOnly));
    const QStringList mixedLines = QString::fromUtf8(mixed.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_EQ(mixedLines.size(), 4);
    EXPECT_EQ(mixedLines[0],
        QStringLiteral("strategy,finished_runs,run_id,final_primary,peak_bytes,"
                       "memory_vs_conventional,setup,primary_metric"));
    EXPECT_TRUE(mixedLines[1].endsWith(QStringLiteral(",loss"))) << mixedLines[1].toStdString();
    EXPECT_TRUE(mixedLines[3].endsWith(QStringLiteral(",top1"))) << mixedLines[3].toStdString();

    RunTableModel model;
    model.setRuns(runs);
    EXPECT_EQ(model.headerData(RunTableModel::BestPrimary, Qt::Horizontal).toString(), QStringLiteral("Best"));
    EXPECT_EQ(model.index(1, RunTableModel::BestPrimary).data().toString(), QStringLiteral("0.25 loss"));
    EXPECT_EQ(model.index(4, RunTableModel::BestPrimary).data().toString(), QStringLiteral("50.00 % top-1"));
}

TEST(Table2View, NamesTheListedRunsMetricBeforeAnyOfThemFinished)
{
    // Segmentation runs still running: no Table 2 row yet, but the column says mIoU, not the classifier's top-1.
    RunSummary run;
    run.id = 1;
    run.name = QStringLiteral("seg");
    run.strategy = QStringLiteral("dr2net");
    run.status = QStringLiteral("running");
    run.primaryMetric = QStringLiteral("miou");
    run.primaryLabel = QStringLiteral("mIoU");
    Table2View view;
    view.setRuns({ run });
    EXPECT_EQ(view.table()->rowCount(), 0);
    EXPECT_EQ(view.table()->horizontalHeaderItem(Table2View::FinalPrimary)->text(), QStringLiteral("Final mIoU"));
    RunSummary classifier = run;
    classifier.id = 2;
    classifier.primaryMetric = QStringLiteral("top1");
    classifier.primaryLabel = QStringLiteral("top-1");
    view.setRuns({ run, classifier });
    EXPECT_EQ(
        view.table()->horizontalHeaderItem(Table2View::FinalPrimary)->text(), QStringLiteral("Final (primary metric)"));
    view.setRuns({});
    EXPECT_EQ(view.table()->horizontalHeaderItem(Table2View::FinalPrimary)->text(), QStringLiteral("Final top-1"));
}
