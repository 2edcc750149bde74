#pragma once

#include <QString>
#include <QStringList>

#include <optional>

namespace dr2 {

/// What the run table shows of one run: a plain value filled by the app from the run store.
struct RunSummary {
    qint64 id = 0; ///< the store's run id (unique)
    QString name; ///< user-visible run name
    QString strategy; ///< conventional, frozen, reversible-scratch, hard-finetune, vanilla, dr2net, ...
    QString status; ///< running, finished, failed, cancelled, interrupted
    QString model; ///< model summary, e.g. "vit-ti depth 12, 56²"
    std::optional<double> bestTop1; ///< best top-1 accuracy over evaluations, fraction in [0, 1]
    std::optional<double> finalTop1; ///< top-1 accuracy of the last evaluation, fraction in [0, 1]
    std::optional<qint64> peakBytes; ///< peak tensor memory of the run in bytes
    std::optional<double> seconds; ///< wall time of the run
    QStringList tags; ///< free-form tags
    /// What runs must share to be compared in Table 2: model, input and data (e.g. "vit 64d×4 ..., 40² patch 4,
    /// 5 classes · fashion-mnist classes 5,6,7,8,9"). Empty: unknown (such runs form one group of their own).
    QString setup;
};

} // namespace dr2
