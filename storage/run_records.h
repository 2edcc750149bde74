#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// Life cycle of a recorded run. `interrupted`: the writing process died while the run was `running`.
enum class RunStatus { Running, Finished, Failed, Cancelled, Interrupted };

/// The status as stored in the database ("running", "finished", ...).
std::string toString(RunStatus status);
/// Parses a stored status; throws std::invalid_argument naming the allowed values.
RunStatus runStatusFromString(const std::string& text);

/// One run in the registry. Fields that a run does not have yet are empty / nullopt.
struct RunRecord {
    int64_t id = 0; ///< assigned by the store
    std::string name;
    std::string createdAt; ///< ISO 8601 UTC, assigned by the store
    std::string finishedAt; ///< ISO 8601 UTC, empty while running
    RunStatus status = RunStatus::Running;
    std::string strategy; ///< e.g. "dr2net", "conventional", "frozen"
    std::string modelSummary; ///< human-readable, e.g. "vit-ti depth 12, 5.5M params"
    std::string sourceCheckpoint; ///< path of the pretrained checkpoint, empty if none
    std::string sourceSha256; ///< hex SHA-256 of that file
    std::string configJson = "{}"; ///< the full run config
    std::vector<std::string> tags;
    std::string notes;
    std::string finalMetricsJson = "{}"; ///< e.g. {"primary_metric": "top1", "best_top1": 0.91, ...}
    std::optional<int64_t> peakMemoryBytes;
    // What the run is compared by and on (schema version 3); empty for runs recorded before. The store keeps
    // the JSON as given (app/recording/run_metrics.h writes and reads it).
    std::string setupJson; ///< what runs must share to be compared, e.g. {"backbone": ..., "task": ..., ...}
    std::string primaryMetric; ///< the metric that decides "best", e.g. "top1"; empty: not recorded
    std::string metricsJson; ///< the task's metrics, primary first, e.g. [{"name": "top1", ...}]
    // Writer identity (schema version 2), used to tell a live writer from a dead one.
    std::string writerHost;
    std::string writerBootId;
    int64_t writerPid = 0;
    int64_t writerStartTicks = 0;
};

/// One value of one named series at one iteration (e.g. "loss" at iteration 120).
struct ScalarPoint {
    int64_t iteration = 0;
    std::string name;
    double value = 0.0;
};

/// One evaluation pass (validation or test) at an iteration.
struct EvaluationRecord {
    int64_t iteration = 0;
    std::string split = "val";
    std::map<std::string, double> metrics; ///< e.g. {"loss": 0.4, "accuracy": 0.87}
};

/// One gradient-error probe (reversible against ordinary backprop) at the run's current (α, β).
struct ProbeRecord {
    int64_t iteration = 0;
    double alpha = 0.0;
    double beta = 0.0;
    std::map<std::string, double> metrics; ///< overall error per metric: "mse", "max_abs", "rel_l2"
    /// Per-branch error per metric; every vector has one entry per branch of the stack.
    std::map<std::string, std::vector<double>> perBranch;
};

/// A gradient-error grid over α × β (the paper's Fig. 3), stored in the run's HDF5 file only.
struct HeatmapRecord {
    std::string name; ///< group name under /heatmaps, e.g. "iter_000100"; [A-Za-z0-9_.-]
    int64_t iteration = 0;
    std::vector<double> alphas;
    std::vector<double> betas;
    /// Per metric, a row-major matrix of alphas.size() × betas.size() values.
    std::map<std::string, std::vector<double>> metrics;
};

/// Tensor memory at one iteration, for the HDF5 memory timeline.
struct MemorySample {
    int64_t iteration = 0;
    int64_t currentBytes = 0;
    int64_t peakBytes = 0;
};

/// A log line of a run.
struct EventRecord {
    std::string time; ///< ISO 8601 UTC; assigned when empty
    std::optional<int64_t> iteration;
    std::string level = "info"; ///< "debug", "info", "warning", "error"
    std::string message;
};

/// A file that belongs to a run: checkpoint, export, HDF5 arrays, CSV.
struct ArtifactRecord {
    int64_t id = 0; ///< assigned by the store
    std::string path;
    std::string kind; ///< "checkpoint", "export", "arrays", "csv", ...
    std::string sha256; ///< hex; may be empty for a file still being written (arrays)
    int64_t bytes = 0;
    std::string createdAt;
};

/// Summary of one scalar series of a run.
struct ScalarSeriesInfo {
    std::string name;
    int64_t count = 0;
    int64_t firstIteration = 0;
    int64_t lastIteration = 0;
    double lastValue = 0.0;
    double minValue = 0.0;
    double maxValue = 0.0;
};

/// The current time as ISO 8601 UTC with milliseconds ("2026-11-29T21:39:22.123Z").
std::string isoTimeNow();

} // namespace dr2
