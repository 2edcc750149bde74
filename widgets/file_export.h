#pragma once

#include <QSize>
#include <QString>

#include <functional>

namespace dr2 {

/// Writes a file the crash-safe way: `write` produces a temporary file next to `path` (same folder, so the
/// rename is atomic), which is checked to be non-empty and then renamed over `path`. On any failure the
/// temporary file is removed, `path` is left as it was, and `error` (if given) receives one line naming the
/// file and the cause. `write` gets the temporary path and returns false (with a message) on failure.
bool writeFileAtomically(const QString& path, const std::function<bool(const QString& tempPath, QString* error)>& write,
    QString* error = nullptr);

/// Lower-case suffix of `path` without the dot ("png" for "a/b.PNG"), empty when there is none.
QString fileSuffix(const QString& path);

/// The largest side of an exported image: larger ones fail to allocate on ordinary machines.
constexpr int kMaxExportSide = 16384;

/// True when `path` names a picture every view can export (.png, .pdf or .svg) and `size` lies within 16 and
/// kMaxExportSide pixels per side; otherwise false with one line in `error` naming the file and what was expected.
bool checkPictureExport(const QString& path, const QSize& size, QString* error);

} // namespace dr2
