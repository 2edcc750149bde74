#include "app/gui/run_history.h"

#include "app/recording/run_metrics.h"
#include "storage/run_store.h"
#include "training/train_config.h"
#include "widgets/coefficient_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <nlohmann/json.hpp>

#include <map>

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
