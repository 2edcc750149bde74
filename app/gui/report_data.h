#pragma once

#include "app/gui/run_history.h"
#include "app/recording/run_metrics.h"
#include "app/recording/run_preview.h"
#include "storage/run_records.h"
#include "widgets/run_summary.h"
#include "widgets/series_buffer.h"

#include <QString>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

class RunStore;

/// The gradient-error heatmap a report shows for a run, and where it came from.
struct ReportHeatmap {
    std::optional<HeatmapRecord> heatmap; ///< the heatmap; none when the panel is omitted
    QString metric; ///< the metric shown ("mse" when recorded, else the first one)
    qint64 sourceRunId = 0; ///< the run whose HDF5 file holds it (the run itself, or a heatmap run)
    QString sourceRunName; ///< that run's name
    /// One line for the report: which heatmap is shown and why, or why there is none.
    QString description;
};

/// What a headless report shows of one recorded run, read from the run store and HDF5 files (torch-free).
struct RunReportData {
    RunRecord record; ///< the run's registry row
    RunSummary summary; ///< as the run table shows it (final/best primary metric, duration, peak)
    SeriesBatch series; ///< the plot series (RunHistory::series names)
    std::optional<qint64> heldBytes; ///< last recorded held baseline (parameters, gradients, optimizer state)
    std::optional<qint64> iterations; ///< iterations run (final metrics, else last scalar iteration + 1)
    std::optional<double> finalLoss; ///< final training loss from the final metrics
    /// The last evaluation's metrics by name, from the final metrics (the primary one included; "loss" is the
    /// validation loss).
    std::map<std::string, double> finalMetrics;
    /// The metrics of finalMetrics other than the primary one, in name order.
    std::vector<RunMetricInfo> otherFinalMetrics;
    std::optional<double> secondsPerIteration; ///< mean wall time per iteration from the final metrics
    std::optional<qint64> peakStepBytes; ///< peak memory of one training step from the final metrics
    /// The schedule's planned (iteration, α, β) path, from the run's "planned ... path" event; empty when none.
    std::vector<double> plannedIterations, plannedAlphas, plannedBetas;
    /// The α/β path the run actually took: one point per change of (α, β).
    std::vector<double> pathAlphas, pathBetas;
    std::optional<ProbeRecord> latestProbe; ///< the run's last gradient-error probe, if any
    std::vector<ProbeRecord> probes; ///< every gradient-error probe of the run, in iteration order
    std::optional<RunHistory::Reference> conventional; ///< conventional run of the same shape to compare memory with
    ReportHeatmap heatmap; ///< the heatmap panel's data
    std::optional<RunPreview> preview; ///< the last prediction preview the run recorded (dense tasks only)
    QString previewProblem; ///< previews that could not be read (files moved, broken), empty when none
};

/// Reads what the headless reports (ReportRenderer) show of recorded runs.
class ReportData {
public:
    /// Loads run `run` (id or unique name); the heatmap and the prediction preview only when `withPanels` (the
    /// heatmap may open other runs' HDF5 files, the preview decodes images; a comparison shows neither). Throws
    /// std::runtime_error naming the database and run.
    static RunReportData load(RunStore& store, const QString& run, bool withPanels = true);

    /// The heatmap shown for `run`. Rule: the newest heatmap (highest iteration) in the run's own HDF5 file;
    /// else the newest heatmap of the newest *finished* run in the same database that has one and the same
    /// source checkpoint (equal SHA-256 when both are recorded, else the same path) — e.g. the demo's
    /// `heatmap` run of the pretrained checkpoint that the finetune runs start from; else none (the report
    /// says why). Unreadable HDF5 files are skipped and named in the description. Never throws for HDF5 files.
    static ReportHeatmap findHeatmap(RunStore& store, const RunRecord& run);

    /// "1 h 02 min", "3 min 12 s", "4.20 s".
    static QString formatDuration(double seconds);
};

} // namespace dr2
