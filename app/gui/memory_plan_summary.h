#pragma once

#include <QString>
#include <QVector>

namespace dr2 {

/// What the Configure page shows of `dr2net-cli plan` for a config: one row per strategy, or the error.
/// Torch-free so the page compiles without LibTorch.
struct MemoryPlanSummary {
    struct Row {
        QString strategy;
        qint64 heldBytes = 0; ///< parameters, gradients, AdamW moments, one batch
        qint64 stepBytes = 0; ///< the step's peak above held
        qint64 peakBytes = 0;
        bool fits = false;
        qint64 largestBatch = 0;
        qint64 largestImageSize = 0; ///< 0: none at this batch
    };
    bool ok = false;
    QString error; ///< one line (the config's or the planner's message)
    QString header; ///< model, batch, image size and budget in one line
    QVector<Row> rows; ///< Table 2 order
    qint64 calibrationSteps = 0;
};

/// One measured training step of a config: what the Configure page's expected time is computed from.
struct StepTimeEstimate {
    bool ok = false;
    QString error; ///< one line (the config's or the network's message)
    double secondsPerStep = 0.0; ///< median of two timed forward + loss + backward steps after one warm-up
    qint64 peakBytes = 0; ///< tensor bytes held plus the step's peak, as measured
};

/// Builds `configJson`'s network in its strategy's setup (applyStrategy, the schedule's first α/β) and times
/// training steps at the config's batch and image size on a random batch (profileTrainingStep, as `dr2net-cli bench`
/// does; the AdamW update and data loading are not timed). Seconds to a minute on a CPU: call it off the GUI thread.
/// Never throws: errors land in the result.
StepTimeEstimate measureConfigStep(const QString& configJson);

/// Plans the memory of every strategy for `configJson` (a TrainConfig as JSON) against the device's memory, like
/// `dr2net-cli plan`. Runs real calibration steps at small sizes (seconds to a minute on a CPU): call it off the GUI
/// thread. Never throws: errors land in the result.
MemoryPlanSummary planConfigMemory(const QString& configJson);

} // namespace dr2
