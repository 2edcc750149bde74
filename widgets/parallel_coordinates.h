#pragma once

#include "widgets/run_summary.h"

#include <QString>
#include <QStringList>
#include <QVector>

namespace dr2 {

/// One vertical axis of the parallel-coordinates view: a config key whose value differs across runs, the final
/// primary metric, or the peak memory. Every run has a position in [0, 1] on it (NaN when it has no value).
struct ParallelAxis {
    QString name; ///< dotted config key, "final top-1" or "peak memory (MiB)"
    bool categorical = false; ///< values are categories (strings, booleans, arrays), spread evenly
    QStringList categories; ///< the categories in order (categorical axes)
    double low = 0.0; ///< smallest value (numeric axes)
    double high = 0.0; ///< largest value (numeric axes)
    QVector<double> positions; ///< per run, in [0, 1], NaN when missing
    QStringList texts; ///< per run, the value for people ("–" when missing)
};

/// The axes of the parallel-coordinates (HParams-style) view of `runs`: every config key whose value differs
/// across them (numeric when every present value is a number, else categorical with at most
/// kMaxCategories values; keys with more, such as names and paths unique to each run, are left out), then the
/// final primary metric and the peak memory. No config axes for fewer than two runs.
QVector<ParallelAxis> parallelAxes(const QVector<RunSummary>& runs);

/// The most categories a categorical axis shows.
constexpr int kMaxCategories = 12;

} // namespace dr2
