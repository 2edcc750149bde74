#pragma once

#include <QRect>
#include <QSize>
#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>
#include <optional>
#include <vector>

namespace dr2 {

class PlotView;
class SegmentationPreview;

/// A table of a report: a caption, column headers (empty for a key/value table) and rows of plain text.
struct ReportTable {
    QString caption; ///< shown above the table
    QStringList header; ///< column titles; empty: a two-column key/value table without a header row
    QVector<QStringList> rows; ///< cells, plain text (escaped by the HTML writer)
};

/// What writing a report produced (for tests and messages).
struct ReportLayout {
    int pages = 0; ///< PDF: number of pages; PNG and HTML: 1
    QSize imageSize; ///< PNG: the image size in pixels
    QVector<QRect> figureRects; ///< PNG: where each figure was drawn, in image pixels
    int embeddedImages = 0; ///< HTML: number of data: URI images
    QStringList figureTitles; ///< the figures, in order
};

/// A headless report: title, tables, notes and plot figures, written as one PDF (vector, A4 landscape, tables
/// first, then 2×2 figures per page), one PNG (1800 px wide, tables above a two-column grid of figures) or
/// one self-contained HTML file (tables and escaped text, figures as base64 PNG data: URIs, no external
/// resources). The figures are the workbench's own plot views and prediction previews, drawn on the offscreen
/// platform.
class ReportDocument {
public:
    /// The output formats, chosen by the file suffix.
    enum class Format { Pdf, Png, Html };

    /// Creates an empty report.
    ReportDocument(const QString& title, const QString& subtitle);
    ~ReportDocument();
    ReportDocument(const ReportDocument&) = delete;
    ReportDocument& operator=(const ReportDocument&) = delete;

    /// The format for `path`'s suffix (.pdf, .png, .html or .htm, any case); none for anything else.
    static std::optional<Format> formatOf(const QString& path);
    /// The suffixes formatOf() accepts, for messages (".pdf, .png or .html").
    static QString acceptedSuffixes();

    /// Appends a table.
    void addTable(const ReportTable& table);
    /// Appends a note (one line of plain text under the tables).
    void addNote(const QString& note);
    /// Takes a plot view (already filled with data) as the next figure, titled `title`; returns it.
    PlotView* addFigure(std::unique_ptr<PlotView> view, const QString& title);
    /// Takes a prediction preview (already showing one) as the next figure, titled `title`; returns it.
    SegmentationPreview* addFigure(std::unique_ptr<SegmentationPreview> preview, const QString& title);
    /// Number of figures.
    int figureCount() const { return int(m_figures.size()); }

    /// Writes the report to `path` atomically in the format of its suffix. Returns false with one line in
    /// `error` (no file is left behind); `layout` receives what was written.
    bool write(const QString& path, QString* error, ReportLayout* layout = nullptr);

private:
    struct Figure;
    void adopt(std::unique_ptr<Figure> figure);
    bool writePdf(const QString& tempPath, ReportLayout* layout, QString* cause);
    bool writePng(const QString& tempPath, ReportLayout* layout, QString* cause);
    bool writeHtml(const QString& tempPath, ReportLayout* layout, QString* cause);
    void prepareFigures(const QSize& size);

    QString m_title;
    QString m_subtitle;
    QVector<ReportTable> m_tables;
    QStringList m_notes;
    std::vector<std::unique_ptr<Figure>> m_figures;
};

} // namespace dr2
