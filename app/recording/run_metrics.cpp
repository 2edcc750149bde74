#include "app/recording/run_metrics.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace dr2 {
namespace {

    using json = nlohmann::json;

    const std::string kFinalPrefix = "final_";
    // The evaluation loss is stored apart from "final_loss", which has always been the training loss.
    const std::string kFinalValidationLoss = "final_val_loss";

    json number(double value)
    {
        return std::isfinite(value) ? json(value) : json(nullptr);
    }

    std::optional<double> numberOf(const json& object, const std::string& key)
    {
        const auto it = object.find(key);
        if (it == object.end() || !it->is_number())
            return std::nullopt;
        const double value = it->get<double>();
        return std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
    }

    std::optional<int64_t> integerOf(const json& object, const std::string& key)
    {
        const auto value = numberOf(object, key);
        return value ? std::optional<int64_t>(static_cast<int64_t>(std::llround(*value))) : std::nullopt;
    }

    std::string stringOf(const json& object, const std::string& key)
    {
        const auto it = object.find(key);
        return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
    }

    std::string classesText(const json& classes)
    {
        std::string text;
        for (const auto& value : classes)
            text += (text.empty() ? "" : ",") + value.dump();
        return text;
    }

    std::string dataLabel(const std::string& dataset, const std::string& root, const std::string& classes)
    {
        std::string text = dataset;
        if (dataset != "fashion-mnist" && !root.empty())
            text += (text.empty() ? "" : " ") + root;
        if (!classes.empty())
            text += (text.empty() ? "" : " ") + std::string("classes ") + classes;
        return text;
    }

    std::string join(const std::vector<std::string>& parts)
    {
        std::string text;
        for (const std::string& part : parts)
            if (!part.empty())
                text += (text.empty() ? "" : " · ") + part;
        return text;
    }

    // How builds before schema version 3 labelled a run's setup: model summary and the config's data section.
    std::string legacySetupLabel(const RunRecord& run)
    {
        // The raw config, not TrainConfig::fromJson: that validates files (a moved checkpoint) a label needs not.
        const json config = json::parse(run.configJson, nullptr, /*allow_exceptions=*/false);
        if (!config.is_object() || !config.contains("data") || !config["data"].is_object())
            return run.modelSummary;
        const json& data = config["data"];
        const json classes = data.contains("classes") && data["classes"].is_array() ? data["classes"] : json::array();
        return join(
            { run.modelSummary, dataLabel(stringOf(data, "dataset"), stringOf(data, "root"), classesText(classes)) });
    }

    bool endsWith(const std::string& text, const std::string& suffix)
    {
        return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
    }

} // namespace

std::optional<double> RunResults::finalPrimary() const
{
    const auto it = finalMetrics.find(primaryMetric);
    return it == finalMetrics.end() ? std::nullopt : std::optional<double>(it->second);
}

RunResults parseRunResults(const std::string& finalMetricsJson)
{
    RunResults results;
    const json metrics = json::parse(finalMetricsJson, nullptr, /*allow_exceptions=*/false);
    if (!metrics.is_object())
        return results;
    if (const std::string primary = stringOf(metrics, "primary_metric"); !primary.empty())
        results.primaryMetric = primary;
    results.iterations = integerOf(metrics, "iterations");
    results.bestPrimary = numberOf(metrics, "best_" + results.primaryMetric);
    for (const auto& [key, value] : metrics.items()) {
        if (key == "final_loss" || key.rfind(kFinalPrefix, 0) != 0)
            continue;
        const std::string name = key == kFinalValidationLoss ? std::string("loss") : key.substr(kFinalPrefix.size());
        if (const auto number = numberOf(metrics, key))
            results.finalMetrics[name] = *number;
    }
    results.finalLoss = numberOf(metrics, "final_loss");
    results.seconds = numberOf(metrics, "seconds");
    results.secondsPerIteration = numberOf(metrics, "seconds_per_iteration");
    results.peakBytes = integerOf(metrics, "peak_bytes");
    results.peakStepBytes = integerOf(metrics, "peak_step_bytes");
    return results;
}

RunResults readRunResults(const RunRecord& run)
{
    RunResults results = parseRunResults(run.finalMetricsJson);
    const json metrics = json::parse(run.finalMetricsJson, nullptr, /*allow_exceptions=*/false);
    const bool named = metrics.is_object() && !stringOf(metrics, "primary_metric").empty();
    if (!named && !run.primaryMetric.empty() && run.primaryMetric != results.primaryMetric) {
        results.primaryMetric = run.primaryMetric;
        results.bestPrimary = metrics.is_object() ? numberOf(metrics, "best_" + run.primaryMetric) : std::nullopt;
    }
    return results;
}

std::string runResultsJson(const RunResults& results)
{
    json metrics = json::object();
    if (results.iterations)
        metrics["iterations"] = *results.iterations;
    metrics["primary_metric"] = results.primaryMetric;
    if (results.bestPrimary)
        metrics["best_" + results.primaryMetric] = number(*results.bestPrimary);
    for (const auto& [name, value] : results.finalMetrics)
        metrics[name == "loss" ? kFinalValidationLoss : kFinalPrefix + name] = number(value);
    if (results.finalLoss)
        metrics["final_loss"] = number(*results.finalLoss);
    if (results.seconds)
        metrics["seconds"] = number(*results.seconds);
    if (results.secondsPerIteration)
        metrics["seconds_per_iteration"] = number(*results.secondsPerIteration);
    if (results.peakBytes)
        metrics["peak_bytes"] = *results.peakBytes;
    if (results.peakStepBytes)
        metrics["peak_step_bytes"] = *results.peakStepBytes;
    return metrics.dump();
}

std::string runSetupJson(const RunSetupInfo& setup)
{
    return json {
        { "backbone", setup.backbone }, { "task", setup.task }, { "dataset", setup.dataset },
        { "data_root", setup.dataRoot }, { "classes", setup.classes }
    }.dump();
}

std::optional<RunSetupInfo> parseRunSetup(const std::string& setupJson)
{
    const json setup = json::parse(setupJson, nullptr, /*allow_exceptions=*/false);
    if (!setup.is_object())
        return std::nullopt;
    RunSetupInfo info;
    info.backbone = stringOf(setup, "backbone");
    info.task = stringOf(setup, "task");
    info.dataset = stringOf(setup, "dataset");
    info.dataRoot = stringOf(setup, "data_root");
    if (const auto it = setup.find("classes"); it != setup.end() && it->is_array())
        for (const auto& value : *it)
            if (value.is_number_integer())
                info.classes.push_back(value.get<int64_t>());
    return info;
}

std::string runSetupLabel(const RunSetupInfo& setup)
{
    std::string classes;
    for (int64_t value : setup.classes)
        classes += (classes.empty() ? "" : ",") + std::to_string(value);
    return join({ setup.backbone, setup.task, dataLabel(setup.dataset, setup.dataRoot, classes) });
}

std::string runSetupLabel(const RunRecord& run)
{
    if (const auto setup = parseRunSetup(run.setupJson))
        return runSetupLabel(*setup);
    return legacySetupLabel(run);
}

std::string runSetupKey(const RunRecord& run)
{
    const json setup = json::parse(run.setupJson, nullptr, /*allow_exceptions=*/false);
    if (setup.is_object())
        return setup.dump(); // nlohmann's objects are sorted by key: one text per setup
    return legacySetupLabel(run);
}

std::string runMetricsJson(const std::vector<RunMetricInfo>& metrics)
{
    json list = json::array();
    for (const RunMetricInfo& metric : metrics)
        list.push_back({ { "name", metric.name }, { "label", metric.label },
            { "higher_is_better", metric.higherIsBetter }, { "fraction", metric.fraction } });
    return list.dump();
}

std::vector<RunMetricInfo> parseRunMetrics(const std::string& metricsJson)
{
    std::vector<RunMetricInfo> metrics;
    const json list = json::parse(metricsJson, nullptr, /*allow_exceptions=*/false);
    if (!list.is_array())
        return metrics;
    for (const json& item : list) {
        if (!item.is_object() || stringOf(item, "name").empty())
            continue;
        RunMetricInfo info = knownMetricInfo(stringOf(item, "name"));
        if (const std::string label = stringOf(item, "label"); !label.empty())
            info.label = label;
        if (item.contains("higher_is_better") && item["higher_is_better"].is_boolean())
            info.higherIsBetter = item["higher_is_better"].get<bool>();
        if (item.contains("fraction") && item["fraction"].is_boolean())
            info.fraction = item["fraction"].get<bool>();
        metrics.push_back(std::move(info));
    }
    return metrics;
}

RunMetricInfo knownMetricInfo(const std::string& name)
{
    if (name == "top1")
        return { name, "top-1", /*higherIsBetter=*/true, /*fraction=*/true };
    if (name == "top5")
        return { name, "top-5", /*higherIsBetter=*/true, /*fraction=*/true };
    const bool lower = name == "loss" || endsWith(name, "loss") || endsWith(name, "error");
    return { name, name, /*higherIsBetter=*/!lower, /*fraction=*/false };
}

RunMetricInfo runMetricInfo(const RunRecord& run, const std::string& name)
{
    for (RunMetricInfo& info : parseRunMetrics(run.metricsJson))
        if (info.name == name)
            return info;
    return knownMetricInfo(name);
}

bool isEvaluationBookkeeping(const std::string& name)
{
    return name == "samples" || name == "epoch";
}

} // namespace dr2
