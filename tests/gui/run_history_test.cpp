// RunHistory's conventional-peak reference: which recorded run a live run's memory is compared against; what the
// run table and Table 2 read of recorded runs (setup, primary metric, results: app/recording/run_metrics.h).
#include "app/gui/run_history.h"
#include "app/recording/run_metrics.h"
#include "storage/run_store.h"
#include "widgets/loss_view.h"
#include "widgets/table2_summary.h"

#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

namespace dr2 {
namespace {

std::string config(const std::string& strategy, int batch, int imageSize, const std::string& extra = {})
{
    return R"({"strategy": ")" + strategy + R"(", "model": {"embed_dim": 64, "depth": 2, "heads": 4, "image_size": )"
        + std::to_string(imageSize) + R"(, "patch_size": 4)" + extra + R"(}, "optim": {"batch_size": )"
        + std::to_string(batch) + "}}";
}

int64_t addRun(RunStore& store, const std::string& name, const std::string& strategy, const std::string& json,
    RunStatus status, std::optional<int64_t> peak)
{
    RunRecord record;
    record.name = name;
    record.strategy = strategy;
    record.configJson = json;
    const int64_t id = store.createRun(record);
    if (status != RunStatus::Running)
        store.finishRun(id, status, "{}", peak);
    return id;
}

TEST(RunHistory, MemoryKeyIgnoresWhatDoesNotChangeMemory)
{
    // Defaults spelled out or left out, and the strategy, schedule or epochs, do not change the key.
    const std::string a = RunHistory::memoryKey(config("dr2net", 64, 28));
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, RunHistory::memoryKey(config("conventional", 64, 28, R"(, "in_channels": 1, "drop_path": 0.3)")));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 32, 28)));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 64, 32)));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 64, 28, R"(, "in_channels": 3)")));
    EXPECT_TRUE(RunHistory::memoryKey("not json").empty());
    EXPECT_TRUE(RunHistory::memoryKey(R"({"optim": {"batch_size": 0}})").empty());
}

TEST(RunHistory, FindsTheNewestFinishedConventionalRunOfTheSameShape)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    RunStore store(dir.filePath(QStringLiteral("runs.sqlite")).toStdString());
    const std::string live = config("dr2net", 64, 28);
    EXPECT_FALSE(RunHistory::conventionalReference(store, live).has_value());

    const int64_t older = addRun(store, "conv-old", "conventional", config("conventional", 64, 28), RunStatus::Finished,
        40'000'000);
    addRun(store, "conv-batch32", "conventional", config("conventional", 32, 28), RunStatus::Finished, 20'000'000);
    addRun(store, "conv-56px", "conventional", config("conventional", 64, 56), RunStatus::Finished, 90'000'000);
    addRun(store, "dr2-same", "dr2net", config("dr2net", 64, 28), RunStatus::Finished, 10'000'000);
    addRun(store, "conv-failed", "conventional", config("conventional", 64, 28), RunStatus::Failed, 45'000'000);
    addRun(store, "conv-running", "conventional", config("conventional", 64, 28), RunStatus::Running, std::nullopt);
    addRun(store, "conv-invalid", "conventional", R"({"optim": {"batch_size": 0}})", RunStatus::Finished, 50'000'000);
    auto found = RunHistory::conventionalReference(store, live);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->runId, older);
    EXPECT_EQ(found->peakBytes, 40'000'000);
    EXPECT_EQ(found->name, QStringLiteral("conv-old"));

    const int64_t newer = addRun(store, "conv-new", "conventional", config("conventional", 64, 28),
        RunStatus::Finished, 41'000'000);
    found = RunHistory::conventionalReference(store, live);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->runId, newer);
    EXPECT_EQ(found->peakBytes, 41'000'000);
    EXPECT_FALSE(RunHistory::conventionalReference(store, config("dr2net", 16, 28)).has_value());
}

TEST(RunMetrics, ReadsFinalMetricsOfOldAndNewRuns)
{
    // A run recorded before the primary metric was: top-1 decides.
    const RunResults old = parseRunResults(R"({"iterations": 300, "best_top1": 0.7, "final_top1": 0.65,
        "final_loss": 0.31, "seconds": 95.5, "seconds_per_iteration": 0.3, "peak_bytes": 1000, "peak_step_bytes": 600})");
    EXPECT_EQ(old.primaryMetric, "top1");
    EXPECT_EQ(old.iterations.value_or(0), 300);
    EXPECT_DOUBLE_EQ(old.bestPrimary.value_or(0), 0.7);
    EXPECT_DOUBLE_EQ(old.finalPrimary().value_or(0), 0.65);
    EXPECT_DOUBLE_EQ(old.finalLoss.value_or(0), 0.31); // the training loss, not an evaluation metric
    EXPECT_EQ(old.finalMetrics.count("loss"), 0u);
    EXPECT_EQ(old.peakStepBytes.value_or(0), 600);

    RunResults results;
    results.iterations = 40;
    results.primaryMetric = "loss";
    results.bestPrimary = 0.2;
    results.finalMetrics = { { "loss", 0.25 }, { "top1", 0.5 }, { "top5", std::nan("") } };
    results.finalLoss = 0.3;
    results.peakBytes = 123;
    const std::string json = runResultsJson(results);
    EXPECT_NE(json.find(R"("final_val_loss":0.25)"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("best_loss":0.2)"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("final_top5":null)"), std::string::npos) << json;
    const RunResults read = parseRunResults(json);
    EXPECT_EQ(read.primaryMetric, "loss");
    EXPECT_DOUBLE_EQ(read.bestPrimary.value_or(0), 0.2);
    EXPECT_DOUBLE_EQ(read.finalPrimary().value_or(0), 0.25); // the validation loss
    EXPECT_DOUBLE_EQ(read.finalMetrics.at("top1"), 0.5);
    EXPECT_EQ(read.finalMetrics.count("top5"), 0u); // non-finite: missing
    EXPECT_DOUBLE_EQ(read.finalLoss.value_or(0), 0.3);
    EXPECT_EQ(read.peakBytes.value_or(0), 123);
    EXPECT_FALSE(read.seconds.has_value());

    EXPECT_EQ(parseRunResults("not json").primaryMetric, "top1");
    EXPECT_FALSE(parseRunResults(R"({"best_top1": "high"})").bestPrimary.has_value());
}

TEST(RunMetrics, SetupAndMetricListRoundTrip)
{
    RunSetupInfo setup;
    setup.backbone = "vit 64d×4 (8 branches, 4 heads), 40² patch 4";
    setup.task = "classification";
    setup.dataset = "image-folder";
    setup.dataRoot = "/data/flowers";
    setup.classes = { 5, 6, 7 };
    const auto read = parseRunSetup(runSetupJson(setup));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->backbone, setup.backbone);
    EXPECT_EQ(read->task, setup.task);
    EXPECT_EQ(read->dataset, setup.dataset);
    EXPECT_EQ(read->dataRoot, setup.dataRoot);
    EXPECT_EQ(read->classes, setup.classes);
    EXPECT_EQ(runSetupLabel(setup),
        "vit 64d×4 (8 branches, 4 heads), 40² patch 4 · classification · image-folder /data/flowers classes 5,6,7");
    setup.dataset = "fashion-mnist"; // its root only says where Debian keeps the files
    setup.classes.clear();
    EXPECT_EQ(runSetupLabel(setup), "vit 64d×4 (8 branches, 4 heads), 40² patch 4 · classification · fashion-mnist");
    EXPECT_FALSE(parseRunSetup("").has_value());
    EXPECT_FALSE(parseRunSetup("[1]").has_value());

    const std::vector<RunMetricInfo> metrics
        = { { "loss", "validation loss", false, false }, { "top1", "top-1", true, true } };
    const auto list = parseRunMetrics(runMetricsJson(metrics));
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].name, "loss");
    EXPECT_EQ(list[0].label, "validation loss");
    EXPECT_FALSE(list[0].higherIsBetter);
    EXPECT_FALSE(list[0].fraction);
    EXPECT_TRUE(list[1].higherIsBetter);
    EXPECT_TRUE(parseRunMetrics("").empty());
    EXPECT_FALSE(knownMetricInfo("loss").higherIsBetter);
    EXPECT_TRUE(knownMetricInfo("top5").fraction);
    EXPECT_TRUE(knownMetricInfo("miou").higherIsBetter);
}

TEST(RunHistory, GroupsRunsByRecordedSetupAndFallsBackForOldRuns)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    RunStore store(dir.filePath(QStringLiteral("runs.sqlite")).toStdString());
    RunSetupInfo setup;
    setup.backbone = "vit 64d×4 (8 branches, 4 heads), 40² patch 4";
    setup.task = "classification";
    setup.dataset = "fashion-mnist";
    setup.classes = { 5, 6, 7, 8, 9 };
    auto add = [&store](const std::string& name, const std::string& strategy, const std::string& setupJson,
                   const std::string& finals, int64_t peak) {
        RunRecord record;
        record.name = name;
        record.strategy = strategy;
        record.modelSummary = "vit 64d×4, 40² patch 4, 5 classes";
        record.configJson = R"({"data": {"dataset": "fashion-mnist", "classes": [5, 6, 7, 8, 9]}})";
        record.setupJson = setupJson;
        record.primaryMetric = setupJson.empty() ? "" : "top1";
        const int64_t id = store.createRun(record);
        store.finishRun(id, RunStatus::Finished, finals, peak);
        return id;
    };
    const std::string json = runSetupJson(setup);
    // The same setup written with other spacing and key order is the same setup.
    const std::string respaced = R"({"task": "classification", "dataset": "fashion-mnist", "data_root": "",
        "classes": [5, 6, 7, 8, 9], "backbone": "vit 64d×4 (8 branches, 4 heads), 40² patch 4"})";
    RunSetupInfo other = setup;
    other.classes = { 0, 1, 2, 3, 4 };
    const int64_t conv = add("conv", "conventional", json, R"({"primary_metric": "top1", "final_top1": 0.8})", 100);
    const int64_t dr2 = add("dr2", "dr2net", respaced, R"({"primary_metric": "top1", "final_top1": 0.79})", 25);
    const int64_t pretrain
        = add("pretrain", "conventional", runSetupJson(other), R"({"primary_metric": "top1", "final_top1": 0.9})", 80);
    const int64_t old = add("old", "vanilla", "", R"({"best_top1": 0.7, "final_top1": 0.6})", 30);

    const QVector<RunSummary> runs = RunHistory::summaries(store);
    ASSERT_EQ(runs.size(), 4);
    std::map<qint64, RunSummary> byId;
    for (const RunSummary& run : runs)
        byId[run.id] = run;
    EXPECT_EQ(byId[conv].setupKey, byId[dr2].setupKey);
    EXPECT_NE(byId[conv].setupKey, byId[pretrain].setupKey);
    EXPECT_EQ(byId[conv].setup,
        QStringLiteral(
            "vit 64d×4 (8 branches, 4 heads), 40² patch 4 · classification · fashion-mnist classes 5,6,7,8,9"));
    // Recorded before setups were: today's derived label, which is also its key.
    EXPECT_EQ(byId[old].setup, QStringLiteral("vit 64d×4, 40² patch 4, 5 classes · fashion-mnist classes 5,6,7,8,9"));
    EXPECT_EQ(byId[old].setupKey, byId[old].setup);
    EXPECT_EQ(byId[old].primaryMetric, QStringLiteral("top1"));
    EXPECT_NEAR(byId[old].bestPrimary.value_or(0), 0.7, 1e-12);
    EXPECT_NEAR(byId[old].finalPrimary.value_or(0), 0.6, 1e-12);

    const QVector<Table2Row> rows = summarizeTable2(runs);
    ASSERT_EQ(rows.size(), 4); // (old: vanilla), (pretrain: conventional), (conv, dr2) — newest setup first
    EXPECT_EQ(rows[0].runId, old);
    EXPECT_EQ(rows[1].runId, pretrain);
    EXPECT_EQ(rows[2].runId, conv);
    EXPECT_EQ(rows[3].runId, dr2);
    EXPECT_NEAR(rows[3].memoryVsConventional.value_or(0), 0.25, 1e-12); // against conv, not the pretraining
    EXPECT_EQ(table2Setups(rows).size(), 3);
}

TEST(RunHistory, ReadsALowerIsBetterPrimaryMetricAndEveryEvaluationSeries)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    RunStore store(dir.filePath(QStringLiteral("runs.sqlite")).toStdString());
    RunRecord record;
    record.name = "regression";
    record.strategy = "dr2net";
    record.primaryMetric = "loss";
    record.metricsJson
        = runMetricsJson({ { "loss", "validation loss", false, false }, { "mae", "MAE", false, false } });
    const int64_t id = store.createRun(record);
    RunBatch batch;
    batch.evaluations.push_back({ 10, "val", { { "loss", 0.5 }, { "mae", 0.4 }, { "samples", 64 } } });
    batch.evaluations.push_back({ 20, "val", { { "loss", 0.3 }, { "mae", 0.35 }, { "samples", 64 } } });
    store.writeBatch(id, batch);
    // Running: the primary metric comes from the column written at creation.
    RunSummary running = RunHistory::summaries(store).front();
    EXPECT_EQ(running.primaryMetric, QStringLiteral("loss"));
    EXPECT_FALSE(running.higherIsBetter);
    EXPECT_FALSE(running.primaryIsFraction);
    EXPECT_EQ(running.primaryLabel, QStringLiteral("validation loss"));
    RunResults results;
    results.primaryMetric = "loss";
    results.bestPrimary = 0.3;
    results.finalMetrics = { { "loss", 0.3 }, { "mae", 0.35 } };
    store.finishRun(id, RunStatus::Finished, runResultsJson(results));
    const RunSummary finished = RunHistory::summaries(store).front();
    EXPECT_NEAR(finished.bestPrimary.value_or(0), 0.3, 1e-12);
    EXPECT_NEAR(finished.finalPrimary.value_or(0), 0.3, 1e-12);

    std::map<QString, size_t> series;
    for (const auto& [name, samples] : RunHistory::series(store, id))
        series[name] = samples.size();
    EXPECT_EQ(series[RunHistory::evaluationSeries("loss")], 2u);
    EXPECT_EQ(series[RunHistory::evaluationSeries("mae")], 2u);
    EXPECT_EQ(series.count(RunHistory::evaluationSeries("samples")), 0u); // bookkeeping, not a metric
    EXPECT_EQ(series[LossView::kSeriesTop1], 2u); // the loss plot's evaluation trace: the primary metric, loss
}

} // namespace
} // namespace dr2

namespace dr2 {
namespace {

TEST(RunHistory, ListsEveryRecordedMetricAndPutsCurvesOnEpochAndWallTimeAxes)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    RunStore store(dir.filePath(QStringLiteral("runs.sqlite")).toStdString());
    const int64_t id = addRun(store, "a", "dr2net", config("dr2net", 64, 28), RunStatus::Finished, 1000);
    RunBatch batch;
    for (int64_t it = 0; it < 200; ++it) {
        batch.scalars.push_back({ it, "loss", 1.0 / double(it + 1) });
        batch.scalars.push_back({ it, "step_s", 0.5 });
    }
    batch.evaluations.push_back({ 100, "val", { { "top1", 0.5 }, { "epoch", 0.0 }, { "samples", 10.0 } } });
    batch.evaluations.push_back({ 200, "val", { { "top1", 0.6 }, { "epoch", 1.0 }, { "samples", 10.0 } } });
    store.writeBatch(id, batch);

    const QStringList names = RunHistory::metricNames(store, { id });
    EXPECT_EQ(names, (QStringList { QStringLiteral("eval.top1"), QStringLiteral("loss"), QStringLiteral("step_s") }));
    const MetricCurve byIteration
        = RunHistory::metricCurve(store, id, QStringLiteral("loss"), MetricXAxis::Iteration, QStringLiteral("a (#1)"));
    ASSERT_EQ(byIteration.xs.size(), 200u);
    EXPECT_EQ(byIteration.name, QStringLiteral("a (#1)"));
    EXPECT_DOUBLE_EQ(byIteration.xs[150], 150.0);
    const MetricCurve byEpoch
        = RunHistory::metricCurve(store, id, QStringLiteral("loss"), MetricXAxis::Epoch, QStringLiteral("a"));
    ASSERT_EQ(byEpoch.xs.size(), 200u);
    EXPECT_DOUBLE_EQ(byEpoch.xs[50], 0.5); // half of the first epoch (100 iterations)
    EXPECT_DOUBLE_EQ(byEpoch.xs[150], 1.5);
    const MetricCurve byTime
        = RunHistory::metricCurve(store, id, QStringLiteral("loss"), MetricXAxis::WallTime, QStringLiteral("a"));
    ASSERT_EQ(byTime.xs.size(), 200u);
    EXPECT_NEAR(byTime.xs[99], 50.0, 1e-9); // 100 steps of 0.5 s done
    const MetricCurve top1
        = RunHistory::metricCurve(store, id, QStringLiteral("eval.top1"), MetricXAxis::Epoch, QStringLiteral("a"));
    EXPECT_EQ(top1.xs, (std::vector<double> { 1.0, 2.0 }));
    EXPECT_EQ(top1.ys, (std::vector<double> { 0.5, 0.6 }));
    // A run without evaluations has no epoch axis: no points rather than iterations mislabelled as epochs.
    const int64_t bare = addRun(store, "b", "dr2net", config("dr2net", 64, 28), RunStatus::Finished, 1000);
    store.writeBatch(bare, RunBatch { { { 0, "loss", 1.0 } }, {}, {}, {}, {}, {} });
    EXPECT_TRUE(RunHistory::metricCurve(store, bare, QStringLiteral("loss"), MetricXAxis::Epoch, {}).xs.empty());
    // The run table's summaries carry the config for the diff and the parallel coordinates.
    for (const RunSummary& summary : RunHistory::summaries(store))
        EXPECT_EQ(summary.configJson.toStdString(), config("dr2net", 64, 28));
}

} // namespace
} // namespace dr2
