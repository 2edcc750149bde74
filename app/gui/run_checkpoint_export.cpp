#include "app/gui/run_checkpoint_export.h"

#include "app/recording/run_export.h"

namespace dr2 {

RunCheckpointExport exportRunCheckpoint(
    const QString& databasePath, qint64 runId, const QString& outPath, const QString& names)
{
    RunCheckpointExport out;
    out.runId = runId;
    out.outPath = outPath;
    try {
        RunExportOptions options;
        options.databasePath = databasePath.toStdString();
        options.run = std::to_string(runId);
        options.outPath = outPath.toStdString();
        options.names = names.toStdString();
        const RunExportResult result = exportRun(options);
        out.ok = true;
        out.outPath = QString::fromStdString(result.outPath);
        out.tensors = result.tensors;
        out.bytes = result.bytes;
        out.sha256 = QString::fromStdString(result.sha256);
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

} // namespace dr2
