#pragma once

#include <QString>

namespace dr2 {

/// Headless report: renders a recorded run's loss, memory and α/β plots from the run database into one PNG
/// (`dr2net --report RUN --out FILE.png`, on the offscreen platform when there is no display).
class ReportRenderer {
public:
    /// Renders run `run` (id or unique name) of `databasePath` into `outPath` (PNG, written atomically).
    /// Returns false with one line naming the database, run or file in `error`.
    static bool render(const QString& databasePath, const QString& run, const QString& outPath, QString* error);
};

} // namespace dr2
