#pragma once

#include "storage/run_records.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// One metric of a run's task as recorded in RunRecord::metricsJson (training's MetricInfo, without training).
struct RunMetricInfo {
    std::string name; ///< key in evaluations and final metrics, e.g. "top1"
    std::string label; ///< for people, e.g. "top-1"
    bool higherIsBetter = true;
    bool fraction = true; ///< in [0, 1], shown as a percentage
};

/// What runs must share to be compared in Table 2, as recorded in RunRecord::setupJson (training's RunSetup).
struct RunSetupInfo {
    std::string backbone; ///< the backbone's summary, e.g. "vit 64d×4 (8 branches, 4 heads), 40² patch 4"
    std::string task; ///< task name, e.g. "classification"
    std::string dataset; ///< config data.dataset
    std::string dataRoot; ///< config data.root
    std::vector<int64_t> classes; ///< config data.classes (empty: all)
};

/// A run's results as recorded in RunRecord::finalMetricsJson. Missing (or null, i.e. non-finite) fields are
/// nullopt / absent.
///
/// The JSON is one flat object: "iterations", "primary_metric" (absent in runs recorded before it: "top1"),
/// "best_<primary>", "final_<m>" for every task metric m except the evaluation loss, which is "final_val_loss",
/// "final_loss" (the training loss of the last iteration), "seconds", "seconds_per_iteration", "peak_bytes",
/// "peak_step_bytes".
struct RunResults {
    std::optional<int64_t> iterations;
    std::string primaryMetric = "top1"; ///< the metric that decides "best"
    std::optional<double> bestPrimary; ///< best value of the primary metric over the evaluations
    std::map<std::string, double> finalMetrics; ///< the last evaluation by metric name ("top1", "loss", ...)
    std::optional<double> finalLoss; ///< training loss of the last iteration
    std::optional<double> seconds;
    std::optional<double> secondsPerIteration;
    std::optional<int64_t> peakBytes;
    std::optional<int64_t> peakStepBytes;

    /// The primary metric of the last evaluation.
    std::optional<double> finalPrimary() const;
};

/// Reads final metrics JSON; a malformed document or field reads as missing (never throws).
RunResults parseRunResults(const std::string& finalMetricsJson);
/// The results of a recorded run: parseRunResults() of its final metrics, with the primary metric recorded at
/// creation when the final metrics do not name one (a run still running, or an older writer).
RunResults readRunResults(const RunRecord& run);
/// The final metrics JSON of `results` (the format parseRunResults() reads; non-finite numbers as null).
std::string runResultsJson(const RunResults& results);

/// RunRecord::setupJson of a setup: {"backbone", "task", "dataset", "data_root", "classes"}.
std::string runSetupJson(const RunSetupInfo& setup);
/// Reads RunRecord::setupJson; nullopt when empty (a run recorded before setups were) or malformed.
std::optional<RunSetupInfo> parseRunSetup(const std::string& setupJson);
/// One line for people: "BACKBONE · TASK · DATASET[ ROOT][ classes 5,6,7]" (Fashion-MNIST's root is left out:
/// it only says where Debian keeps the files).
std::string runSetupLabel(const RunSetupInfo& setup);
/// The setup label of a run: from its setup JSON, else (runs recorded before) derived from its model summary and
/// the data section of its config, as older builds showed it.
std::string runSetupLabel(const RunRecord& run);
/// What groups runs in Table 2: the run's setup JSON in a canonical form (equal JSON = same setup, whatever the
/// spacing or key order), else (runs recorded before) runSetupLabel(). Never empty for a run with a model.
std::string runSetupKey(const RunRecord& run);

/// RunRecord::metricsJson of a task's metrics: [{"name", "label", "higher_is_better", "fraction"}, ...].
std::string runMetricsJson(const std::vector<RunMetricInfo>& metrics);
/// Reads RunRecord::metricsJson; empty when not recorded or malformed.
std::vector<RunMetricInfo> parseRunMetrics(const std::string& metricsJson);
/// What older runs' metrics were: top1, top5 (fractions, higher is better), loss (lower is better); another
/// name is its own label, not a fraction, lower is better when it names a loss or an error.
RunMetricInfo knownMetricInfo(const std::string& name);
/// Metric `name` of a run: as recorded with the run, else knownMetricInfo().
RunMetricInfo runMetricInfo(const RunRecord& run, const std::string& name);

/// Names in evaluation records that are bookkeeping, not metrics ("samples", "epoch").
bool isEvaluationBookkeeping(const std::string& name);

} // namespace dr2
