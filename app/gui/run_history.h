#pragma once

#include "widgets/run_summary.h"
#include "widgets/series_buffer.h"

#include <QString>
#include <QVector>

namespace dr2 {

class RunStore;

/// Reads what the GUI shows of recorded runs from the run store (storage/), as widget value types.
/// Torch-free; the store throws std::runtime_error naming the database on errors.
class RunHistory {
public:
    /// Every run, newest first, as the run table shows them.
    static QVector<RunSummary> summaries(RunStore& store);
    /// The scalar series of a run under the names the plot views use (loss, lr, top1, alpha, beta,
    /// memory.current, memory.peak); top-1 comes from the evaluations.
    static SeriesBatch series(RunStore& store, qint64 runId);
};

} // namespace dr2
