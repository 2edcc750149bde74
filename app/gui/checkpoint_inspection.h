#pragma once

#include <QPair>
#include <QString>
#include <QVector>

namespace dr2 {

/// What the checkpoint panel shows for a file: the `dr2net-cli inspect` summary as (key, value) rows, or the
/// loader's error. Torch-free so the panel compiles without LibTorch.
struct CheckpointInspection {
    QString path; ///< the file inspected
    bool ok = false; ///< false: `error` holds the loader's message
    QString error; ///< one line naming the file and what was wrong
    QVector<QPair<QString, QString>> rows; ///< format, naming, family, hyperparameters, stages, sizes, notes, ...
    QString family; ///< backbone family, e.g. "vit"
    QString summary; ///< the backbone's one-line description
    qint64 imageSize = 0; ///< the model's input side in pixels (for the run config)
    qint64 inChannels = 0; ///< input channels
    qint64 frames = 0; ///< frames per clip (0: images)
    QVector<qint64> branchesPerStage; ///< branches of each stage
};

/// Reads `path` like `dr2net-cli inspect` (missing tensors allowed and listed). `heads` > 0 overrides the
/// inferred attention head count (needed for transformer checkpoints without metadata). Never throws: errors land in
/// the result.
CheckpointInspection inspectCheckpoint(const QString& path, int heads = 0);

} // namespace dr2
