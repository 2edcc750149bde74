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
    QVector<QPair<QString, QString>> rows; ///< format, naming, architecture, sizes, branches, notes, ...
    qint64 imageSize = 0; ///< the model's resolution (for the run config)
    qint64 patchSize = 0; ///< patch size
    qint64 inChannels = 0; ///< input channels
    qint64 heads = 0; ///< attention heads in use
};

/// Reads `path` like `dr2net-cli inspect` (missing tensors allowed and listed). `heads` > 0 overrides the
/// inferred head count (needed for checkpoints without metadata). Never throws: errors land in the result.
CheckpointInspection inspectCheckpoint(const QString& path, int heads = 0);

} // namespace dr2
