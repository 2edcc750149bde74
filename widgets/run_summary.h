#pragma once

#include <QString>
#include <QStringList>

#include <optional>

namespace dr2 {

/// What the run table shows of one run: a plain value filled by the app from the run store.
struct RunSummary {
    qint64 id = 0; ///< the store's run id (unique)
    QString name; ///< user-visible run name
    QString strategy; ///< conventional, checkpointed, frozen, reversible-scratch, hard-finetune, vanilla, dr2net, ...
    QString status; ///< running, finished, failed, cancelled, interrupted
    QString model; ///< model summary, e.g. "vit-ti depth 12, 56²"
    /// The metric that decides "best" and ranks Table 2 (the task's primary metric), e.g. "top1".
    QString primaryMetric = QStringLiteral("top1");
    QString primaryLabel = QStringLiteral("top-1"); ///< the primary metric for people
    bool higherIsBetter = true; ///< of the primary metric
    bool primaryIsFraction = true; ///< the primary metric is in [0, 1] (shown in percent)
    std::optional<double> bestPrimary; ///< best value of the primary metric over evaluations
    std::optional<double> finalPrimary; ///< the primary metric of the last evaluation
    std::optional<qint64> peakBytes; ///< peak tensor memory of the run in bytes
    std::optional<double> seconds; ///< wall time of the run
    QStringList tags; ///< free-form tags
    /// What runs must share to be compared in Table 2, for people: model, task and data (e.g. "vit 64d×4 ..., 40²
    /// patch 4 · classification · fashion-mnist classes 5,6,7,8,9"). Empty: unknown.
    QString setup;
    /// What Table 2 groups by (the recorded setup JSON; equal text = same setup). Empty: `setup` is the key (runs
    /// recorded before setups were; such runs with an empty setup too form one group of their own).
    QString setupKey;
    /// The run's config as recorded (a JSON object's text; "{}" when unknown), for the config diff and the
    /// parallel-coordinates view.
    QString configJson = QStringLiteral("{}");
    int worldSize = 1; ///< data-parallel processes that trained the run (config world_size; 1 when not recorded)

    /// The key Table 2 groups this run by.
    QString groupKey() const { return setupKey.isEmpty() ? setup : setupKey; }
};

/// A metric value for tables: "91.20 %" for a fraction, else 4 significant digits ("0.3127"); "–" when missing.
inline QString formatMetricValue(std::optional<double> value, bool fraction)
{
    if (!value)
        return QStringLiteral("–");
    return fraction ? QStringLiteral("%1 %").arg(*value * 100.0, 0, 'f', 2) : QString::number(*value, 'g', 4);
}

} // namespace dr2
