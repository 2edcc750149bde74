#pragma once

#include "widgets/metric_compare_view.h"
#include "widgets/run_summary.h"
#include "widgets/series_buffer.h"

#include <QString>
#include <QVector>

#include <optional>
#include <string>

namespace dr2 {

class RunStore;
struct RunRecord;

/// Reads what the GUI shows of recorded runs from the run store (storage/), as widget value types.
/// Torch-free; the store throws std::runtime_error naming the database on errors.
class RunHistory {
public:
    /// What a run must share with others to be compared in Table 2, for people: from its recorded setup
    /// (backbone, task, data), else (runs recorded before setups were) its model summary and the data section
    /// (dataset, root folder, classes) of its config. RunSummary::setupKey is what groups.
    static QString setupOf(const RunRecord& record);
    /// Every run, newest first, as the run table shows them.
    static QVector<RunSummary> summaries(RunStore& store);
    /// The scalar series of a run under the names the plot views use (loss, lr, top1, alpha, beta,
    /// memory.current, memory.peak), and every metric of its evaluations as evaluationSeries(name)
    /// (the run's primary metric also as LossView::kSeriesTop1, the loss plot's evaluation trace).
    static SeriesBatch series(RunStore& store, qint64 runId);
    /// The series name of evaluation metric `metric` in series(): "eval.top1", "eval.loss", ...
    static QString evaluationSeries(const std::string& metric);

    /// Every metric recorded for any of `runIds`, in name order: the store's scalar series ("loss", "lr",
    /// "grad_norm", ...) and the evaluation metrics as evaluationSeries() names ("eval.top1", ...).
    static QStringList metricNames(RunStore& store, const QVector<qint64>& runIds);
    /// Metric `metric` (a metricNames() name) of run `runId` on `axis`, named `name`: iterations as recorded,
    /// epochs interpolated through the evaluations (each ends an epoch), or seconds summed from the per-step
    /// times ("step_s"). No points when the run lacks what the axis needs (no evaluations, no step times).
    static MetricCurve metricCurve(
        RunStore& store, qint64 runId, const QString& metric, MetricXAxis axis, const QString& name);

    /// A finished run to compare memory against.
    struct Reference {
        qint64 runId = 0; ///< the reference run
        QString name; ///< its name
        qint64 peakBytes = 0; ///< its recorded peak tensor memory
    };
    /// What a run's peak memory depends on, from its config JSON (normalised by TrainConfig, so defaults and
    /// spelled-out values compare equal): the model (preset, checkpoint, sizes, frames), the resolution, the
    /// batch size and the device. Empty when the JSON is not a valid run config.
    static std::string memoryKey(const std::string& configJson);
    /// The newest finished `conventional` run with a recorded peak and the same memoryKey() as `configJson`:
    /// the reference a reversible run's saving is measured against. None when there is no such run.
    static std::optional<Reference> conventionalReference(RunStore& store, const std::string& configJson);
};

} // namespace dr2
