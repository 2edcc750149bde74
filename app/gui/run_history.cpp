#include "app/gui/run_history.h"

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
    QString setup = QString::fromStdString(record.modelSummary);
    // The raw config, not TrainConfig::fromJson: that validates files (a moved checkpoint) this label needs not.
    const auto config = nlohmann::json::parse(record.configJson, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object() || !config.contains("data") || !config["data"].is_object())
        return setup;
    const nlohmann::json& data = config["data"];
    QString dataText;
    if (data.contains("dataset") && data["dataset"].is_string())
        dataText = QString::fromStdString(data["dataset"].get<std::string>());
    // Fashion-MNIST's root is only where Debian keeps the files; an image folder's root is the dataset itself.
    if (dataText != QLatin1String("fashion-mnist") && data.contains("root") && data["root"].is_string()
        && !data["root"].get<std::string>().empty())
        dataText += QStringLiteral(" %1").arg(QString::fromStdString(data["root"].get<std::string>()));
    if (data.contains("classes") && data["classes"].is_array() && !data["classes"].empty()) {
        QStringList classes;
        for (const auto& value : data["classes"])
            classes << QString::fromStdString(value.dump());
        dataText += QStringLiteral(" classes %1").arg(classes.join(QLatin1Char(',')));
    }
    dataText = dataText.trimmed();
    return dataText.isEmpty() ? setup : setup + QStringLiteral(" · ") + dataText;
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
        const auto metrics = nlohmann::json::parse(record.finalMetricsJson, nullptr, /*allow_exceptions=*/false);
        auto number = [&metrics](const char* key) -> std::optional<double> {
            if (metrics.is_object() && metrics.contains(key) && metrics[key].is_number())
                return metrics[key].get<double>();
            return std::nullopt;
        };
        run.bestTop1 = number("best_top1");
        run.finalTop1 = number("final_top1");
        run.seconds = number("seconds");
        run.setup = setupOf(record);
        out.push_back(run);
    }
    return out;
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
    for (const EvaluationRecord& evaluation : store.evaluations(runId)) {
        const auto it = evaluation.metrics.find("top1");
        if (it != evaluation.metrics.end())
            grouped[LossView::kSeriesTop1].push_back({ double(evaluation.iteration), it->second });
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
