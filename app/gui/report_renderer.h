#pragma once

#include "app/gui/report_document.h"

#include <QString>
#include <QStringList>

namespace dr2 {

/// Headless reports of recorded runs (`dr2net --report RUN --out FILE` and `dr2net --compare RUN RUN ...
/// --out FILE`), as PDF, PNG or self-contained HTML chosen by the suffix (see ReportDocument). Runs on the
/// offscreen platform; needs a QApplication.
class ReportRenderer {
public:
    /// Renders run `run` (id or unique name) of `databasePath` into `outPath`: a header with the run's metadata
    /// and config essentials, loss/primary metric/lr, tensor memory, α/β, the gradient-error heatmap with the run's
    /// α/β path (the heatmap rule is ReportData::findHeatmap(); the report says which one it shows or why there is
    /// none), and for a segmentation run its last prediction preview (readLastRunPreview()). Returns false with one
    /// line naming the database, run or file in `error`; no file is written then. `layout` receives what was written.
    static bool render(const QString& databasePath, const QString& run, const QString& outPath, QString* error,
        ReportLayout* layout = nullptr);

    /// Renders the comparison of `runs` (ids or unique names, at least two, each once) like the runs page: a
    /// table of the runs, the "Table 2" summary of the compared runs, and their loss, top-1, peak memory and
    /// α/β curves overlaid. Errors as render().
    static bool renderComparison(const QString& databasePath, const QStringList& runs, const QString& outPath,
        QString* error, ReportLayout* layout = nullptr);

    /// Renders the study `spec` (a spec file or a built-in name; `quick`: its quick profile) of `databasePath`
    /// (`dr2net --study-report SPEC --out FILE`): the study's name and description, its per-level tables and the
    /// claims' verdicts (studySummaryMarkdown()'s content), best primary metric against peak step memory with one
    /// point per finished run labelled by its levels, and the comparison of its finished runs as
    /// renderComparison() shows it. False with one line in `error` (no file written) when the spec cannot be read
    /// or no run of the study is finished.
    static bool renderStudy(const QString& databasePath, const QString& spec, bool quick, const QString& outPath,
        QString* error, ReportLayout* layout = nullptr);
};

} // namespace dr2
