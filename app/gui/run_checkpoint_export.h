#pragma once

#include <QString>

namespace dr2 {

/// What exporting a recorded run's finetuned weights produced (torch-free, for the runs page).
struct RunCheckpointExport {
    bool ok = false; ///< false: `error` says what failed
    QString error; ///< one line naming the run, the file and the cause
    QString outPath; ///< the safetensors file written
    qint64 runId = 0; ///< the run exported
    qint64 tensors = 0; ///< tensors written
    qint64 bytes = 0; ///< file size
    QString sha256; ///< of the written file
};

/// Exports run `runId`'s final weights from the database at `databasePath` to `outPath` with the naming
/// scheme `names` ("dr2", "timm", "torchvision" or "source"): the same exportRun() as `dr2net-cli export`,
/// written atomically and recorded as an `export` artifact. Never throws; safe to call from a worker thread.
RunCheckpointExport exportRunCheckpoint(
    const QString& databasePath, qint64 runId, const QString& outPath, const QString& names = QStringLiteral("dr2"));

} // namespace dr2
