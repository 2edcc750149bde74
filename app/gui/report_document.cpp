#include "app/gui/report_document.h"

#include "core/version.h"
#include "widgets/file_export.h"
#include "widgets/plot_view.h"
#include "widgets/segmentation_preview.h"

#include <QBuffer>
#include <QDateTime>
#include <QFile>
#include <QFontMetricsF>
#include <QGuiApplication>
#include <QImage>
#include <QLayout>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

namespace dr2 {

/// A figure is a plot or a preview; both draw themselves into a painter at a size.
struct ReportDocument::Figure {
    std::unique_ptr<QWidget> widget; // owns the view
    PlotView* plot = nullptr; // set for a plot view
    SegmentationPreview* preview = nullptr; // set for a prediction preview
    QString title;

    void paint(QCPPainter* painter, const QSize& size) const
    {
        if (plot)
            plot->plot()->toPainter(painter, size.width(), size.height());
        else if (preview)
            preview->render(*painter, QRect(QPoint(0, 0), size));
    }
};

namespace {

    // PDF: A4 landscape at 96 units per inch, so fonts and plot sizes match the screen's proportions.
    constexpr int kPdfResolution = 96;
    constexpr qreal kPdfMarginMm = 12.0;
    constexpr int kPngWidth = 1800;
    constexpr int kPngMargin = 24;
    constexpr int kFigureGap = 16;
    constexpr int kPngFigureHeight = 500;
    const QSize kHtmlFigureSize(900, 520);

    QFont reportFont(qreal points, bool bold = false)
    {
        QFont font = QGuiApplication::font();
        font.setPointSizeF(points);
        font.setBold(bold);
        return font;
    }

    /// Lays text out top to bottom in `area`, measuring only when `painter` is null (the first pass that
    /// counts pages and sizes the PNG). `onNewPage` (PDF only) starts the next page and paints its header.
    class Flow {
    public:
        Flow(QPainter* painter, QPaintDevice* device, const QRectF& area)
            : painter(painter)
            , device(device)
            , area(area)
            , y(area.top())
        {
        }
        QPainter* painter;
        QPaintDevice* device;
        QRectF area;
        qreal y;
        int pages = 1;
        std::function<void(Flow&)> onNewPage;
        qreal pageTop = 0; // where content starts on a page (below its header)

        /// Makes room for `height` (a new page when it does not fit and the page is not empty).
        void ensure(qreal height)
        {
            if (onNewPage && y + height > area.bottom() && y > pageTop + 0.5)
                newPage();
        }
        void newPage()
        {
            ++pages;
            y = area.top();
            if (onNewPage)
                onNewPage(*this);
        }
        /// Paints (or measures) wrapped text across the area's width; returns its height.
        qreal text(const QString& text, const QFont& font, const QColor& color = Qt::black, qreal after = 4)
        {
            const QFontMetricsF metrics(font, device);
            const QRectF bounds = metrics.boundingRect(
                QRectF(0, 0, area.width(), 1e6), Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, text);
            ensure(bounds.height());
            if (painter) {
                painter->setFont(font);
                painter->setPen(color);
                painter->drawText(QRectF(area.left(), y, area.width(), bounds.height() + 2),
                    Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, text);
            }
            y += bounds.height() + after;
            return bounds.height();
        }
    };

    /// Column widths that fit `width`: columns narrower than their fair share keep their natural width,
    /// the others share the rest (their text is elided).
    QVector<qreal> fitColumns(const QVector<qreal>& natural, qreal width)
    {
        QVector<int> order(natural.size());
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return natural[a] < natural[b]; });
        QVector<qreal> widths(natural.size());
        qreal remaining = width;
        for (int k = 0; k < order.size(); ++k) {
            const qreal share = remaining / qreal(order.size() - k);
            widths[order[k]] = std::min(natural[order[k]], share);
            remaining -= widths[order[k]];
        }
        return widths;
    }

    void paintTable(Flow& flow, const ReportTable& table)
    {
        const QFont font = reportFont(9);
        const QFont bold = reportFont(9, /*bold=*/true);
        const QFont captionFont = reportFont(11, /*bold=*/true);
        const QFontMetricsF metrics(font, flow.device);
        const QFontMetricsF boldMetrics(bold, flow.device);
        const qreal pad = 6;
        const qreal rowHeight = std::ceil(std::max(metrics.height(), boldMetrics.height()) + 6);
        const bool keyValue = table.header.isEmpty();
        int columns = table.header.size();
        for (const QStringList& row : table.rows)
            columns = std::max(columns, int(row.size()));
        if (columns == 0)
            return;
        QVector<qreal> natural(columns, 2 * pad);
        for (int c = 0; c < table.header.size(); ++c)
            natural[c] = std::max(natural[c], boldMetrics.horizontalAdvance(table.header[c]) + 2 * pad);
        for (const QStringList& row : table.rows)
            for (int c = 0; c < row.size(); ++c)
                natural[c] = std::max(
                    natural[c], (keyValue && c == 0 ? boldMetrics : metrics).horizontalAdvance(row[c]) + 2 * pad + 1);
        const QVector<qreal> widths = fitColumns(natural, flow.area.width());
        const qreal tableWidth = std::accumulate(widths.begin(), widths.end(), qreal(0));

        auto paintRow = [&](const QStringList& cells, bool header, bool shaded) {
            if (!flow.painter)
                return;
            QPainter& p = *flow.painter;
            const QRectF rowRect(flow.area.left(), flow.y, tableWidth, rowHeight);
            if (header || shaded)
                p.fillRect(rowRect, header ? QColor(225, 229, 236) : QColor(244, 246, 249));
            qreal x = flow.area.left();
            for (int c = 0; c < columns; ++c) {
                const QString text = c < cells.size() ? cells[c] : QString();
                const bool strong = header || (keyValue && c == 0);
                const QFontMetricsF& m = strong ? boldMetrics : metrics;
                p.setFont(strong ? bold : font);
                p.setPen(QColor(20, 20, 20));
                const QRectF cell(x + pad, flow.y, widths[c] - 2 * pad, rowHeight);
                // Numbers and paths lose their middle, prose its end.
                const Qt::TextElideMode elide = text.contains(QLatin1Char('/')) ? Qt::ElideMiddle : Qt::ElideRight;
                p.drawText(cell, Qt::AlignVCenter | Qt::AlignLeft, m.elidedText(text, elide, cell.width()));
                x += widths[c];
            }
            p.setPen(QPen(QColor(200, 204, 210), 0.6));
            p.drawLine(QPointF(flow.area.left(), flow.y + rowHeight),
                QPointF(flow.area.left() + tableWidth, flow.y + rowHeight));
        };
        auto caption = [&](bool continued) {
            const QString text = continued ? QStringLiteral("%1 (continued)").arg(table.caption) : table.caption;
            if (!text.isEmpty())
                flow.text(text, captionFont, QColor(20, 20, 20), 4);
            if (!keyValue) {
                paintRow(table.header, /*header=*/true, false);
                flow.y += rowHeight;
            }
        };
        const QFontMetricsF captionMetrics(captionFont, flow.device);
        // Keep the caption, the header and at least two rows together.
        flow.ensure(captionMetrics.height() + 4 + rowHeight * (keyValue ? 2 : 3));
        caption(false);
        for (int r = 0; r < table.rows.size(); ++r) {
            const int before = flow.pages;
            flow.ensure(rowHeight);
            if (flow.pages != before)
                caption(true);
            paintRow(table.rows[r], false, r % 2 == 1);
            flow.y += rowHeight;
        }
        flow.y += 14;
    }

    void paintTablesAndNotes(Flow& flow, const QVector<ReportTable>& tables, const QStringList& notes)
    {
        for (const ReportTable& table : tables)
            paintTable(flow, table);
        const QFont font = reportFont(9);
        for (const QString& note : notes)
            flow.text(QStringLiteral("• %1").arg(note), font, QColor(60, 60, 60), 3);
    }

    // A template because ReportDocument::Figure is private to the class: it is deduced here, never named.
    template <typename Figure>
    QImage renderFigure(const Figure& figure, const QSize& size)
    {
        QImage image(size, QImage::Format_ARGB32_Premultiplied);
        image.fill(Qt::white);
        QCPPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        figure.paint(&painter, size);
        painter.end();
        return image;
    }

    QString htmlEscape(const QString& text)
    {
        QString out;
        out.reserve(text.size() + 16);
        for (const QChar c : text) {
            switch (c.unicode()) {
            case '&':
                out += QLatin1String("&amp;");
                break;
            case '<':
                out += QLatin1String("&lt;");
                break;
            case '>':
                out += QLatin1String("&gt;");
                break;
            case '"':
                out += QLatin1String("&quot;");
                break;
            case '\'':
                out += QLatin1String("&#39;");
                break;
            default:
                out += c;
            }
        }
        return out;
    }

    QPalette reportPalette()
    {
        // Figures for papers: a light palette whatever the desktop theme.
        QPalette palette;
        palette.setColor(QPalette::Base, Qt::white);
        palette.setColor(QPalette::Window, Qt::white);
        palette.setColor(QPalette::Text, QColor(20, 20, 20));
        palette.setColor(QPalette::WindowText, QColor(20, 20, 20));
        return palette;
    }

    QString generatedLine()
    {
        return QStringLiteral("Dr²Net Workbench %1 · %2")
            .arg(QStringLiteral(DR2_VERSION), QDateTime::currentDateTime().toString(Qt::ISODate));
    }

} // namespace

ReportDocument::ReportDocument(const QString& title, const QString& subtitle)
    : m_title(title)
    , m_subtitle(subtitle)
{
}

ReportDocument::~ReportDocument() = default;

std::optional<ReportDocument::Format> ReportDocument::formatOf(const QString& path)
{
    const QString suffix = fileSuffix(path);
    if (suffix == QLatin1String("pdf"))
        return Format::Pdf;
    if (suffix == QLatin1String("png"))
        return Format::Png;
    if (suffix == QLatin1String("html") || suffix == QLatin1String("htm"))
        return Format::Html;
    return std::nullopt;
}

QString ReportDocument::acceptedSuffixes()
{
    return QStringLiteral(".pdf, .png or .html");
}

void ReportDocument::addTable(const ReportTable& table)
{
    m_tables.push_back(table);
}

void ReportDocument::addNote(const QString& note)
{
    m_notes << note;
}

void ReportDocument::adopt(std::unique_ptr<Figure> figure)
{
    // Never mapped on a screen; on the offscreen platform it lays out and paints like a visible widget.
    figure->widget->setAttribute(Qt::WA_DontShowOnScreen);
    figure->widget->setPalette(reportPalette());
    m_figures.push_back(std::move(figure));
}

PlotView* ReportDocument::addFigure(std::unique_ptr<PlotView> view, const QString& title)
{
    auto figure = std::make_unique<Figure>();
    figure->plot = view.get();
    figure->widget = std::move(view);
    figure->title = title;
    figure->plot->setTitle(title);
    PlotView* raw = figure->plot;
    adopt(std::move(figure));
    return raw;
}

SegmentationPreview* ReportDocument::addFigure(std::unique_ptr<SegmentationPreview> preview, const QString& title)
{
    auto figure = std::make_unique<Figure>();
    figure->preview = preview.get();
    figure->widget = std::move(preview);
    figure->title = title;
    figure->preview->setTitle(title);
    SegmentationPreview* raw = figure->preview;
    adopt(std::move(figure));
    return raw;
}

void ReportDocument::prepareFigures(const QSize& size)
{
    for (const auto& figure : m_figures) {
        PlotView* view = figure->plot;
        if (!view)
            continue; // a preview lays itself out in render()
        view->resize(size);
        if (!view->isVisible())
            view->show();
        if (view->layout())
            view->layout()->activate();
        view->plot()->setGeometry(QRect(QPoint(0, 0), size));
        // Rescale to all data and decimate for this width, now (not on the next event-loop pass).
        view->resetView();
        view->plot()->replot(QCustomPlot::rpImmediateRefresh);
    }
}

bool ReportDocument::write(const QString& path, QString* error, ReportLayout* layout)
{
    const auto format = formatOf(path);
    if (!format) {
        if (error)
            *error = QStringLiteral("--out '%1': expected a file name ending in %2, found '%3'")
                         .arg(path, acceptedSuffixes(),
                             fileSuffix(path).isEmpty() ? QStringLiteral("no suffix")
                                                        : QLatin1Char('.') + fileSuffix(path));
        return false;
    }
    ReportLayout result;
    for (const auto& figure : m_figures)
        result.figureTitles << figure->title;
    const bool ok = writeFileAtomically(
        path,
        [&](const QString& tempPath, QString* cause) {
            switch (*format) {
            case Format::Pdf:
                return writePdf(tempPath, &result, cause);
            case Format::Png:
                return writePng(tempPath, &result, cause);
            case Format::Html:
                return writeHtml(tempPath, &result, cause);
            }
            return false;
        },
        error);
    if (ok && layout)
        *layout = result;
    return ok;
}

bool ReportDocument::writePdf(const QString& tempPath, ReportLayout* layout, QString* cause)
{
    QPdfWriter writer(tempPath);
    writer.setCreator(QStringLiteral("Dr²Net Workbench %1").arg(QStringLiteral(DR2_VERSION)));
    writer.setTitle(m_title);
    writer.setResolution(kPdfResolution);
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize::A4), QPageLayout::Landscape,
        QMarginsF(kPdfMarginMm, kPdfMarginMm, kPdfMarginMm, kPdfMarginMm), QPageLayout::Millimeter));
    const QRectF area(0, 0, writer.width(), writer.height());
    const QFont headerFont = reportFont(10, /*bold=*/true);
    const QFont smallFont = reportFont(8);
    const qreal headerHeight = QFontMetricsF(headerFont, &writer).height() + 10;

    // One pass without a painter counts the pages; the second paints them with "page i of n".
    auto run = [&](QCPPainter* painter, int totalPages) {
        Flow flow(painter, &writer, area);
        auto header = [&, totalPages](Flow& f) {
            if (f.painter) {
                if (f.pages > 1)
                    writer.newPage();
                f.painter->setFont(headerFont);
                f.painter->setPen(QColor(20, 20, 20));
                const QRectF line(area.left(), area.top(), area.width(), headerHeight - 10);
                f.painter->drawText(line, Qt::AlignLeft | Qt::AlignVCenter,
                    QFontMetricsF(headerFont, &writer).elidedText(m_title, Qt::ElideRight, area.width() * 0.7));
                f.painter->setFont(smallFont);
                f.painter->drawText(line, Qt::AlignRight | Qt::AlignVCenter,
                    QStringLiteral("page %1 of %2").arg(f.pages).arg(totalPages));
                f.painter->setPen(QPen(QColor(150, 150, 150), 0.8));
                f.painter->drawLine(QPointF(area.left(), area.top() + headerHeight - 5),
                    QPointF(area.right(), area.top() + headerHeight - 5));
            }
            f.y = area.top() + headerHeight;
            f.pageTop = f.y;
        };
        flow.onNewPage = header;
        header(flow);
        if (!m_subtitle.isEmpty())
            flow.text(m_subtitle, reportFont(10), QColor(60, 60, 60), 10);
        paintTablesAndNotes(flow, m_tables, m_notes);
        flow.text(generatedLine(), smallFont, QColor(110, 110, 110), 0);
        const QSizeF cell(
            (area.width() - kFigureGap) / 2.0, (area.bottom() - (area.top() + headerHeight) - kFigureGap) / 2.0);
        for (size_t i = 0; i < m_figures.size(); ++i) {
            if (i % 4 == 0)
                flow.newPage();
            const int column = int(i % 2);
            const int row = int((i / 2) % 2);
            if (painter) {
                const QPointF at(area.left() + column * (cell.width() + kFigureGap),
                    flow.pageTop + row * (cell.height() + kFigureGap));
                painter->save();
                painter->translate(at);
                m_figures[i]->paint(painter, cell.toSize());
                painter->restore();
                painter->setMode(QCPPainter::pmVectorized);
            }
        }
        return std::pair<int, QSize>(flow.pages, cell.toSize());
    };
    const auto [pages, cellSize] = run(nullptr, 0);
    prepareFigures(cellSize);
    QCPPainter painter;
    if (!painter.begin(&writer)) {
        *cause = QStringLiteral("cannot open '%1' for writing a PDF").arg(tempPath);
        return false;
    }
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setRenderHint(QPainter::Antialiasing);
    const int painted = run(&painter, pages).first;
    if (!painter.end()) {
        *cause = QStringLiteral("writing the PDF failed (disk full or not writable)");
        return false;
    }
    layout->pages = painted;
    return true;
}

bool ReportDocument::writePng(const QString& tempPath, ReportLayout* layout, QString* cause)
{
    const QSize cell((kPngWidth - 2 * kPngMargin - kFigureGap) / 2, kPngFigureHeight);
    QImage probe(1, 1, QImage::Format_ARGB32_Premultiplied); // a raster device to measure text on
    const QRectF area(kPngMargin, kPngMargin, kPngWidth - 2 * kPngMargin, 1e9);
    const QFont titleFont = reportFont(16, /*bold=*/true);
    auto run = [&](QPainter* painter, QPaintDevice* device) {
        Flow flow(painter, device, area);
        flow.text(m_title, titleFont, QColor(20, 20, 20), 4);
        if (!m_subtitle.isEmpty())
            flow.text(m_subtitle, reportFont(10), QColor(60, 60, 60), 10);
        paintTablesAndNotes(flow, m_tables, m_notes);
        flow.text(generatedLine(), reportFont(8), QColor(110, 110, 110), 10);
        return flow.y;
    };
    const qreal figuresTop = std::ceil(run(nullptr, &probe));
    const int rows = (int(m_figures.size()) + 1) / 2;
    const int height = int(figuresTop) + rows * (cell.height() + kFigureGap) + kPngMargin;
    QImage image(kPngWidth, height, QImage::Format_ARGB32_Premultiplied);
    if (image.isNull()) {
        *cause = QStringLiteral("cannot allocate a %1 x %2 image").arg(kPngWidth).arg(height);
        return false;
    }
    image.fill(Qt::white);
    prepareFigures(cell);
    QCPPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);
    run(&painter, &image);
    layout->figureRects.clear();
    for (size_t i = 0; i < m_figures.size(); ++i) {
        const QRect rect(QPoint(kPngMargin + int(i % 2) * (cell.width() + kFigureGap),
                             int(figuresTop) + int(i / 2) * (cell.height() + kFigureGap)),
            cell);
        painter.save();
        painter.translate(rect.topLeft());
        m_figures[i]->paint(&painter, cell);
        painter.restore();
        layout->figureRects << rect;
    }
    painter.end();
    if (!image.save(tempPath, "PNG")) {
        *cause = QStringLiteral("cannot encode or write the PNG '%1'").arg(tempPath);
        return false;
    }
    layout->pages = 1;
    layout->imageSize = image.size();
    return true;
}

bool ReportDocument::writeHtml(const QString& tempPath, ReportLayout* layout, QString* cause)
{
    prepareFigures(kHtmlFigureSize);
    QString html;
    html += QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html += QStringLiteral("<meta name=\"generator\" content=\"Dr²Net Workbench %1\">\n")
                .arg(QStringLiteral(DR2_VERSION));
    html += QStringLiteral("<title>%1</title>\n").arg(htmlEscape(m_title));
    html += QStringLiteral(
        "<style>\n"
        "body { font-family: sans-serif; margin: 2em; color: #1a1a1a; }\n"
        "h1 { font-size: 1.5em; margin-bottom: 0.2em; }\n"
        ".subtitle { color: #555; margin-top: 0; }\n"
        "table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; font-size: 0.9em; }\n"
        "caption { text-align: left; font-weight: bold; font-size: 1.1em; padding: 0.3em 0; }\n"
        "th, td { border: 1px solid #cfd3d8; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }\n"
        "th { background: #e1e5ec; }\n"
        "tr:nth-child(even) td { background: #f4f6f9; }\n"
        "table.keyvalue th { background: #f4f6f9; white-space: nowrap; }\n"
        ".figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1em; }\n"
        "figure { margin: 0; }\n"
        "figure img { width: 100%; height: auto; border: 1px solid #e1e5ec; }\n"
        "figcaption { font-size: 0.9em; color: #444; }\n"
        "footer { margin-top: 2em; font-size: 0.8em; color: #777; }\n"
        "</style>\n</head>\n<body>\n");
    html += QStringLiteral("<h1>%1</h1>\n").arg(htmlEscape(m_title));
    if (!m_subtitle.isEmpty())
        html += QStringLiteral("<p class=\"subtitle\">%1</p>\n").arg(htmlEscape(m_subtitle));
    for (const ReportTable& table : m_tables) {
        const bool keyValue = table.header.isEmpty();
        html += keyValue ? QStringLiteral("<table class=\"keyvalue\">\n") : QStringLiteral("<table>\n");
        if (!table.caption.isEmpty())
            html += QStringLiteral("<caption>%1</caption>\n").arg(htmlEscape(table.caption));
        if (!keyValue) {
            html += QStringLiteral("<thead><tr>");
            for (const QString& cell : table.header)
                html += QStringLiteral("<th>%1</th>").arg(htmlEscape(cell));
            html += QStringLiteral("</tr></thead>\n");
        }
        html += QStringLiteral("<tbody>\n");
        for (const QStringList& row : table.rows) {
            html += QStringLiteral("<tr>");
            for (int c = 0; c < row.size(); ++c)
                html += (keyValue && c == 0 ? QStringLiteral("<th scope=\"row\">%1</th>")
                                            : QStringLiteral("<td>%1</td>"))
                            .arg(htmlEscape(row[c]));
            html += QStringLiteral("</tr>\n");
        }
        html += QStringLiteral("</tbody>\n</table>\n");
    }
    if (!m_notes.isEmpty()) {
        html += QStringLiteral("<ul class=\"notes\">\n");
        for (const QString& note : m_notes)
            html += QStringLiteral("<li>%1</li>\n").arg(htmlEscape(note));
        html += QStringLiteral("</ul>\n");
    }
    html += QStringLiteral("<div class=\"figures\">\n");
    int images = 0;
    for (const auto& figure : m_figures) {
        const QImage image = renderFigure(*figure, kHtmlFigureSize);
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        if (!image.save(&buffer, "PNG")) {
            *cause = QStringLiteral("cannot encode the figure '%1' as PNG").arg(figure->title);
            return false;
        }
        html += QStringLiteral("<figure><img alt=\"%1\" width=\"%2\" height=\"%3\" src=\"data:image/png;base64,%4\">"
                               "<figcaption>%1</figcaption></figure>\n")
                    .arg(htmlEscape(figure->title))
                    .arg(kHtmlFigureSize.width())
                    .arg(kHtmlFigureSize.height())
                    .arg(QString::fromLatin1(png.toBase64()));
        ++images;
    }
    html += QStringLiteral("</div>\n<footer>%1</footer>\n</body>\n</html>\n").arg(htmlEscape(generatedLine()));

    QFile file(tempPath);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        *cause = file.errorString();
        return false;
    }
    const QByteArray bytes = html.toUtf8();
    if (file.write(bytes) != bytes.size() || !file.flush()) {
        *cause = QStringLiteral("write failed: %1").arg(file.errorString());
        return false;
    }
    file.close();
    layout->pages = 1;
    layout->embeddedImages = images;
    return true;
}

} // namespace dr2
