#include "app/gui/run_history.h"

#include "app/recording/run_metrics.h"
#include "storage/run_store.h"
#include "training/train_config.h"
#include "widgets/coefficient_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace dr2 {

QString RunHistory::setupOf(const RunRecord& record)
{
    return QString::fromStdString(runSetupLabel(record));
}

QVector<RunSummary> RunHistory::summaries(RunStore& store)
{
    QVector<RunSummary> out;
    for (const RunRecord& record : store.listRuns()) {
        RunSummary run;
        run.id = record.id;
        run.name = QString::fromStdString(record.name);
        run.strategy = QString::fromStdString(record.strategy);
        run.status = QString::fromStdString(toString(record.status));
        run.model = QString::fromStdString(record.modelSummary);
        if (record.peakMemoryBytes)
            run.peakBytes = *record.peakMemoryBytes;
        for (const auto& tag : record.tags)
            run.tags << QString::fromStdString(tag);
        // Final metrics are written by the recorder at the end; a malformed field is shown as missing.
        const RunResults results = readRunResults(record);
        const RunMetricInfo primary = runMetricInfo(record, results.primaryMetric);
        run.primaryMetric = QString::fromStdString(primary.name);
        run.primaryLabel = QString::fromStdString(primary.label);
        run.higherIsBetter = primary.higherIsBetter;
        run.primaryIsFraction = primary.fraction;
        run.bestPrimary = results.bestPrimary;
        run.finalPrimary = results.finalPrimary();
        run.seconds = results.seconds;
        run.setup = setupOf(record);
        run.setupKey = QString::fromStdString(runSetupKey(record));
        run.configJson = QString::fromStdString(record.configJson);
        const auto config = nlohmann::json::parse(record.configJson, nullptr, /*allow_exceptions=*/false);
        if (config.is_object() && config.contains("world_size") && config["world_size"].is_number_integer())
            run.worldSize = std::max(1, config["world_size"].get<int>());
        out.push_back(run);
    }
    return out;
}

QString RunHistory::evaluationSeries(const std::string& metric)
{
    return QStringLiteral("eval.%1").arg(QString::fromStdString(metric));
}

SeriesBatch RunHistory::series(RunStore& store, qint64 runId)
{
    static const std::map<std::string, QString> kNames = {
        { "loss", LossView::kSeriesLoss },
        { "lr", LossView::kSeriesLearningRate },
        { "alpha", CoefficientView::kSeriesAlpha },
        { "beta", CoefficientView::kSeriesBeta },
        { "current_bytes", MemoryView::kSeriesCurrent },
        { "peak_bytes", MemoryView::kSeriesPeak },
    };
    std::map<QString, std::vector<SeriesSample>> grouped;
    for (const ScalarPoint& point : store.scalars(runId)) {
        const auto it = kNames.find(point.name);
        if (it != kNames.end())
            grouped[it->second].push_back({ double(point.iteration), point.value });
    }
    // LossView's evaluation trace is the run's primary metric (top-1 for classification).
    const auto record = store.findRun(runId);
    const std::string primary = record ? readRunResults(*record).primaryMetric : std::string("top1");
    for (const EvaluationRecord& evaluation : store.evaluations(runId)) {
        for (const auto& [metric, value] : evaluation.metrics) {
            if (isEvaluationBookkeeping(metric))
                continue;
            grouped[evaluationSeries(metric)].push_back({ double(evaluation.iteration), value });
            if (metric == primary)
                grouped[LossView::kSeriesTop1].push_back({ double(evaluation.iteration), value });
        }
    }
    SeriesBatch batch;
    for (auto& [name, samples] : grouped)
        batch.emplace_back(name, std::move(samples));
    return batch;
}

QStringList RunHistory::metricNames(RunStore& store, const QVector<qint64>& runIds)
{
    std::set<QString> names;
    for (qint64 id : runIds) {
        for (const ScalarSeriesInfo& info : store.scalarSeries(id))
            names.insert(QString::fromStdString(info.name));
        for (const EvaluationRecord& evaluation : store.evaluations(id)) {
            for (const auto& entry : evaluation.metrics) {
                if (!isEvaluationBookkeeping(entry.first))
                    names.insert(evaluationSeries(entry.first));
            }
        }
    }
    return QStringList(names.begin(), names.end());
}

namespace {

    /// Iteration -> x-axis knots of a run: (0, 0) and (iteration, epochs done) per evaluation, or (iteration,
    /// seconds so far) per step time. Empty when the run recorded neither.
    void axisKnots(RunStore& store, qint64 runId, MetricXAxis axis, std::vector<double>& xs, std::vector<double>& ys)
    {
        if (axis == MetricXAxis::Epoch) {
            for (const EvaluationRecord& evaluation : store.evaluations(runId)) {
                const auto epoch = evaluation.metrics.find("epoch");
                if (epoch == evaluation.metrics.end() || (!xs.empty() && double(evaluation.iteration) <= xs.back()))
                    continue;
                if (xs.empty() && evaluation.iteration > 0) {
                    xs.push_back(0.0);
                    ys.push_back(0.0);
                }
                xs.push_back(double(evaluation.iteration));
                ys.push_back(epoch->second + 1.0); // evaluated after epoch `epoch` (0-based) ended
            }
            return;
        }
        double seconds = 0.0;
        for (const ScalarPoint& point : store.scalars(runId, "step_s")) {
            seconds += point.value;
            xs.push_back(double(point.iteration)); // the step's values are recorded when it is done
            ys.push_back(seconds);
        }
    }

} // namespace

MetricCurve RunHistory::metricCurve(
    RunStore& store, qint64 runId, const QString& metric, MetricXAxis axis, const QString& name)
{
    MetricCurve curve;
    curve.name = name;
    const QString prefix = evaluationSeries("");
    if (metric.startsWith(prefix)) {
        const std::string wanted = metric.mid(prefix.size()).toStdString();
        for (const EvaluationRecord& evaluation : store.evaluations(runId)) {
            const auto it = evaluation.metrics.find(wanted);
            if (it != evaluation.metrics.end()) {
                curve.xs.push_back(double(evaluation.iteration));
                curve.ys.push_back(it->second);
            }
        }
    } else {
        const std::vector<ScalarPoint> points = store.scalars(runId, metric.toStdString());
        curve.xs.reserve(points.size());
        curve.ys.reserve(points.size());
        for (const ScalarPoint& point : points) {
            curve.xs.push_back(double(point.iteration));
            curve.ys.push_back(point.value);
        }
    }
    if (axis == MetricXAxis::Iteration)
        return curve;
    std::vector<double> knotXs, knotYs;
    axisKnots(store, runId, axis, knotXs, knotYs);
    if (knotXs.empty()) {
        curve.xs.clear();
        curve.ys.clear();
    } else {
        curve.xs = mapThroughKnots(curve.xs, knotXs, knotYs);
    }
    return curve;
}

std::string RunHistory::memoryKey(const std::string& configJson)
{
    const auto parsed = nlohmann::json::parse(configJson, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object())
        return {};
    nlohmann::json config;
    try {
        config = TrainConfig::fromJson(parsed).toJson();
    } catch (const std::exception&) {
        return {}; // an old or broken config cannot be compared
    }
    const nlohmann::json& model = config["model"];
    const nlohmann::json key = {
        { "device", config["device"] },
        { "model",
            { model["preset"], model["checkpoint"], model["depth"], model["embed_dim"], model["heads"],
                model["patch_size"], model["in_channels"], model["num_frames"], model["tubelet_size"] } },
        { "image_size", model["image_size"] },
        { "batch_size", config["optim"]["batch_size"] },
    };
    return key.dump();
}

std::optional<RunHistory::Reference> RunHistory::conventionalReference(RunStore& store, const std::string& configJson)
{
    const std::string wanted = memoryKey(configJson);
    if (wanted.empty())
        return std::nullopt;
    for (const RunRecord& record : store.listRuns()) { // newest first
        if (record.strategy != "conventional" || record.status != RunStatus::Finished || !record.peakMemoryBytes
            || *record.peakMemoryBytes <= 0)
            continue;
        if (memoryKey(record.configJson) == wanted)
            return Reference { record.id, QString::fromStdString(record.name), *record.peakMemoryBytes };
    }
    return std::nullopt;
}

} // namespace dr2
