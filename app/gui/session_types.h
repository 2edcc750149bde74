#pragma once

#include "widgets/preview_images.h"

#include <QMap>
#include <QMetaType>
#include <QString>
#include <QVector>

namespace dr2 {

struct RunPreview;

/// A run has started (or resumed): what the live page needs to set up its plots. Value type, queued to the
/// GUI thread (torch-free copy of RunStartedEvent).
struct RunStartedInfo {
    QString name; ///< run name from the config
    QString strategy; ///< strategy key
    QString modelSummary; ///< e.g. "vit 64d×2 (4 branches), 28² patch 4, 5 classes"
    QString device; ///< device line
    qint64 parameters = 0; ///< parameters of the model
    qint64 trainableParameters = 0; ///< of which trainable
    qint64 totalIterations = 0; ///< iterations the run will do
    qint64 startIteration = 0; ///< > 0 when resumed
    QString task; ///< task name, e.g. "classification"
    QString primaryMetric; ///< the metric that decides "best", e.g. "top1"
    QString primaryLabel; ///< its label, e.g. "top-1"
    bool primaryIsFraction = true; ///< shown as a percentage
    QVector<qint64> branchesPerStage; ///< the backbone's stages (one for a plain transformer)
    QVector<double> plannedIterations; ///< the schedule's planned path: iterations
    QVector<double> plannedAlphas; ///< planned α at each of plannedIterations
    QVector<double> plannedBetas; ///< planned β at each of plannedIterations
};

/// Throttled progress of a run (a few per second, never one per iteration): status bar and ETA.
struct RunProgress {
    qint64 iteration = 0; ///< iterations completed
    qint64 totalIterations = 0; ///< iterations planned
    double secondsPerIteration = 0.0; ///< mean over the run so far
    qint64 currentBytes = 0; ///< tensor bytes alive after the last step
    qint64 peakBytes = 0; ///< highest tensor bytes of any step so far
    qint64 heldBytes = 0; ///< held baseline of the last step
    double alpha = 1.0; ///< α of the last step
    double beta = 0.0; ///< β of the last step
    qint64 rssBytes = -1; ///< resident set size of the process after the last step, as `top` shows it (-1: unknown)
};

/// One evaluation on the validation set.
struct EvaluationInfo {
    qint64 iteration = 0; ///< iteration of the evaluation
    QMap<QString, double> metrics; ///< the task's metrics by name, including "loss"
    QString primaryMetric; ///< which of them decides "best"
};

/// One gradient-error probe at the run's current α, β.
struct ProbeInfo {
    qint64 iteration = 0; ///< iteration of the probe
    double alpha = 0.0; ///< probed α
    double beta = 0.0; ///< probed β
    double mse = 0.0; ///< overall gradient MSE
    bool finite = true; ///< false when a gradient held NaN/Inf
    QVector<double> branchMse; ///< MSE per branch, branch 1 first (stage after stage)
    QVector<qint64> branchesPerStage; ///< how branchMse splits into stages
};

/// The error-bounded segment choice changed the reversible segment length.
struct SegmentInfo {
    qint64 iteration = 0; ///< iteration of the change
    double alpha = 0.0; ///< α at the change
    double beta = 0.0; ///< β at the change
    qint64 segmentLength = 0; ///< new segment length in branches
    double measuredMse = 0.0; ///< MSE measured for that choice
};

/// How a run ended.
enum class RunEnd {
    Finished,
    Failed,
    Cancelled,
};

/// A run ended (finished, failed or cancelled).
struct RunFinishedInfo {
    RunEnd end = RunEnd::Finished;
    QString status; ///< "finished", "failed" or "cancelled" (end as text, for display)
    QString message; ///< why it failed, or empty
    qint64 iterations = 0; ///< iterations completed
    QString primaryMetric; ///< the task's primary metric, e.g. "top1"
    QString primaryLabel; ///< its label, e.g. "top-1"
    bool primaryIsFraction = true; ///< shown as a percentage
    double bestPrimary = 0.0; ///< its best value over evaluations
    double finalPrimary = 0.0; ///< its value at the last evaluation
    double finalLoss = 0.0; ///< loss of the last iteration
    qint64 peakBytes = 0; ///< peak tensor bytes of the run
    double seconds = 0.0; ///< wall time
    QString checkpointPath; ///< last resumable checkpoint, if any
    QString finalWeightsPath; ///< the run's final weights (RUN_DIR/final.safetensors), empty if none were written
    QString outputPath; ///< the extra weights file the config's `output` asked for (a pretraining), or empty
    qint64 runId = 0; ///< the run's id in the run database (0: not recorded)
    QString recordingError; ///< why recording stopped, empty if it did not
};

/// One precision's matrix of a heatmap sweep.
struct SweepMap {
    QString precision; ///< the autocast both passes' forward ran under: "fp32", "bf16" or "fp16" (core/precision.h)
    QVector<double> values; ///< MSE per cell, row-major over alphas then betas (+Inf: diverged; NaN: never swept)
};

/// A finished heatmap sweep: gradient MSE over α×β, row-major over alphas then betas, in one or more precisions.
struct SweepResult {
    QVector<double> alphas; ///< α axis
    QVector<double> betas; ///< β axis
    QVector<double> values; ///< MSE per cell of the first precision (maps.first().values)
    QVector<SweepMap> maps; ///< one per precision of the request, in its order, each over the same grid
    QString source; ///< the model swept ("random init" or the checkpoint path)
    QString batchSource; ///< what the probe batch was (the dataset's validation images, or random noise)
    bool complete = true; ///< false when the sweep was cancelled (values of unswept cells are NaN)
};

/// The preview widget's copy of a recorded prediction preview (the live path converts the Trainer's event with
/// runPreviewOf() first, so the GUI and the recorder read the event the same way). Class names and pixels are
/// copied as they are; PreviewImages::problem() says whether the sizes fit.
PreviewImages previewImagesOf(const RunPreview& preview);

/// Registers the value types above (and the preview's PreviewImages) with Qt's metatype system (call once before
/// queued connections use them).
void registerSessionTypes();

} // namespace dr2

Q_DECLARE_METATYPE(dr2::RunStartedInfo)
Q_DECLARE_METATYPE(dr2::RunProgress)
Q_DECLARE_METATYPE(dr2::EvaluationInfo)
Q_DECLARE_METATYPE(dr2::ProbeInfo)
Q_DECLARE_METATYPE(dr2::SegmentInfo)
Q_DECLARE_METATYPE(dr2::RunFinishedInfo)
Q_DECLARE_METATYPE(dr2::SweepResult)
