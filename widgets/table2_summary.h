#pragma once

#include "widgets/run_summary.h"

#include <QVector>

#include <optional>

namespace dr2 {

/// One row of the paper's Table 2 analogue: a strategy's final result (its task's primary metric) and peak memory.
struct Table2Row {
    QString setup; ///< the runs' common setup, for people (RunSummary::setup); rows are compared within a setup only
    QString setupKey; ///< what the rows are grouped by (RunSummary::groupKey())
    QString strategy; ///< strategy key (e.g. "dr2net")
    int finishedRuns = 0; ///< finished runs of this strategy that were considered
    qint64 runId = 0; ///< the run the numbers come from (best final primary metric among the finished runs)
    QString primaryMetric = QStringLiteral("top1"); ///< that run's primary metric ("top1", "loss", ...)
    QString primaryLabel = QStringLiteral("top-1"); ///< for people
    bool higherIsBetter = true; ///< of the primary metric
    bool primaryIsFraction = true; ///< the primary metric is in [0, 1]
    std::optional<double> finalPrimary; ///< final primary metric of that run (a fraction for top-1)
    std::optional<qint64> peakBytes; ///< peak tensor memory of that run in bytes
    std::optional<double> memoryVsConventional; ///< peakBytes / the peakBytes of the same setup's conventional row
};

/// Builds Table 2 from runs: only finished runs with a final primary metric count (a gradient-error sweep has
/// none); per setup (RunSummary::groupKey()) and strategy the run with the best final primary metric (higher or
/// lower, as the metric says; ties: the lower peak memory) gives the row, and memory is relative to the
/// conventional row of the same setup (a pretraining run at another resolution is not a baseline for a
/// finetune). Setups appear in the order of their first run in `runs`; within a setup, rows follow the paper's
/// order (conventional, frozen, reversible-scratch, hard-finetune, vanilla, dr2net; checkpointed, not a row of the
/// paper, beside conventional), then other strategies alphabetically.
QVector<Table2Row> summarizeTable2(const QVector<RunSummary>& runs);

/// The distinct setups of `rows` (by key; their labels), in row order (a Setup column is worth showing when
/// there are several).
QStringList table2Setups(const QVector<Table2Row>& rows);
/// The primary metric all `rows` share (e.g. "top1"); empty when they differ. "top1" when there are no rows.
QString table2PrimaryMetric(const QVector<Table2Row>& rows);

/// Readable name of a strategy key for tables ("dr2net" -> "Dr²Net (dynamic α/β)").
QString strategyDisplayName(const QString& strategy);

} // namespace dr2
