#include "widgets/plot_view.h"

#include "widgets/file_export.h"
#include "widgets/plot_style.h"
#include "widgets/series_math.h"

#include <QAction>
#include <QEvent>
#include <QFile>
#include <QSvgGenerator>
#include <QTextStream>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dr2 {

namespace {

    constexpr int kMinColumns = 64;

    QCPRange paddedRange(double low, double high)
    {
        if (!(high > low)) {
            const double pad = low == 0.0 ? 0.5 : std::abs(low) * 0.05;
            return QCPRange(low - pad, high + pad);
        }
        const double pad = (high - low) * 0.05;
        return QCPRange(low - pad, high + pad);
    }

} // namespace

PlotView::RangeGuard::RangeGuard(PlotView* view)
    : m_view(view)
{
    ++m_view->m_rangeGuard;
}

PlotView::RangeGuard::~RangeGuard()
{
    --m_view->m_rangeGuard;
}

PlotView::PlotView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, /*stretch=*/1);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setMinimumSize(200, 150);
    m_plot->legend->setVisible(false);

    m_resetAction = new QAction(tr("Reset view"), this);
    m_resetAction->setToolTip(tr("Show all data again and resume following new data"));
    m_resetAction->setEnabled(false);
    connect(m_resetAction, &QAction::triggered, this, &PlotView::resetView);
    m_plot->addAction(m_resetAction);
    m_plot->setContextMenuPolicy(Qt::ActionsContextMenu);
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { resetView(); });
    connect(m_plot, &QCustomPlot::beforeReplot, this, &PlotView::onBeforeReplot);
    connect(m_plot, &QCustomPlot::afterReplot, this, [this] { ++m_replotCount; });

    watchAxis(m_plot->xAxis);
    watchAxis(m_plot->yAxis);
    watchAxis(m_plot->yAxis2);
}

PlotView::~PlotView() = default;

bool PlotView::appendSamples(const QString& series, const std::vector<SeriesSample>& samples)
{
    const int trace = traceIndex(series);
    if (trace < 0)
        return false;
    appendToTrace(trace, samples);
    return true;
}

void PlotView::refresh()
{
    // Drawing a plot nobody sees costs the GUI thread as much as drawing a visible one.
    if (!isVisible() && window()->isVisible()) {
        m_replotDeferred = true;
        return;
    }
    m_replotDeferred = false;
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void PlotView::clearData()
{
    for (Trace& trace : m_traces) {
        trace.xs.clear();
        trace.ys.clear();
        trace.hasValues = false;
        trace.sorted = true;
    }
    setUserZoomed(false);
    markDataChanged();
}

void PlotView::setTitle(const QString& title)
{
    if (title.isEmpty()) {
        if (m_title) {
            m_plot->plotLayout()->remove(m_title);
            m_plot->plotLayout()->simplify();
            m_title = nullptr;
        }
        return;
    }
    if (!m_title) {
        m_plot->plotLayout()->insertRow(0);
        m_title = new QCPTextElement(m_plot, title, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
        m_plot->plotLayout()->addElement(0, 0, m_title);
        applyStyle();
    }
    m_title->setText(title);
}

void PlotView::resetView()
{
    setUserZoomed(false);
    m_dataDirty = true;
    m_decimationDirty = true;
    refresh();
}

void PlotView::setUserZoomed(bool zoomed)
{
    m_resetAction->setEnabled(zoomed);
    if (m_userZoomed == zoomed)
        return;
    m_userZoomed = zoomed;
    emit userZoomedChanged(zoomed);
}

int PlotView::addTrace(const QString& name, QCPGraph* graph, bool exported)
{
    Trace trace;
    trace.name = name;
    trace.graph = graph;
    trace.exported = exported;
    m_traces.push_back(std::move(trace));
    return static_cast<int>(m_traces.size()) - 1;
}

void PlotView::updateBounds(Trace& trace, size_t from)
{
    for (size_t i = from; i < trace.ys.size(); ++i) {
        const double y = trace.ys[i];
        if (!std::isfinite(y))
            continue;
        if (!trace.hasValues) {
            trace.minValue = trace.maxValue = y;
            trace.hasValues = true;
        } else {
            trace.minValue = std::min(trace.minValue, y);
            trace.maxValue = std::max(trace.maxValue, y);
        }
    }
}

void PlotView::appendToTrace(int index, const std::vector<SeriesSample>& samples)
{
    if (index < 0 || index >= static_cast<int>(m_traces.size()) || samples.empty())
        return;
    Trace& trace = m_traces[static_cast<size_t>(index)];
    const size_t from = trace.ys.size();
    trace.xs.reserve(from + samples.size());
    trace.ys.reserve(from + samples.size());
    for (const SeriesSample& sample : samples) {
        if (!std::isfinite(sample.iteration))
            continue; // a sample without a position cannot be drawn or sorted
        if (!trace.xs.empty() && sample.iteration < trace.xs.back())
            trace.sorted = false;
        trace.xs.push_back(sample.iteration);
        trace.ys.push_back(sample.value);
    }
    updateBounds(trace, from);
    markDataChanged();
}

void PlotView::setTraceData(int index, std::vector<double> xs, std::vector<double> ys)
{
    if (index < 0 || index >= static_cast<int>(m_traces.size()))
        return;
    Trace& trace = m_traces[static_cast<size_t>(index)];
    const size_t n = std::min(xs.size(), ys.size());
    xs.resize(n);
    ys.resize(n);
    trace.xs = std::move(xs);
    trace.ys = std::move(ys);
    trace.sorted = std::is_sorted(trace.xs.begin(), trace.xs.end());
    trace.hasValues = false;
    updateBounds(trace, 0);
    markDataChanged();
}

const std::vector<double>& PlotView::traceKeys(int trace) const
{
    return m_traces.at(static_cast<size_t>(trace)).xs;
}

const std::vector<double>& PlotView::traceValues(int trace) const
{
    return m_traces.at(static_cast<size_t>(trace)).ys;
}

void PlotView::setTraceScale(int index, double scale)
{
    if (index < 0 || index >= static_cast<int>(m_traces.size()) || !(scale > 0.0))
        return;
    m_traces[static_cast<size_t>(index)].scale = scale;
    markDataChanged();
}

int PlotView::traceIndex(const QString& name) const
{
    for (size_t i = 0; i < m_traces.size(); ++i) {
        if (m_traces[i].name == name)
            return static_cast<int>(i);
    }
    return -1;
}

void PlotView::includeInRange(QCPAxis* axis, double low, double high)
{
    m_inclusions.insert(axis, Inclusion { low, high });
    markDataChanged();
}

void PlotView::watchAxis(QCPAxis* axis)
{
    if (!axis || m_watched.contains(axis))
        return;
    m_watched.append(axis);
    connect(
        axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this](const QCPRange&) { onRangeChanged(); });
}

void PlotView::onRangeChanged()
{
    m_decimationDirty = true;
    if (m_rangeGuard == 0)
        setUserZoomed(true);
}

void PlotView::markDataChanged()
{
    m_dataDirty = true;
    m_decimationDirty = true;
}

void PlotView::rescaleToData()
{
    QHash<QCPAxis*, QCPRange> valueRanges;
    bool haveKeys = false;
    double keyLow = 0.0, keyHigh = 0.0;
    QCPAxis* keyAxis = m_plot->xAxis;
    for (const Trace& trace : m_traces) {
        if (!trace.graph || !trace.graph->visible() || trace.xs.empty())
            continue;
        keyAxis = trace.graph->keyAxis();
        const auto [minX, maxX] = std::minmax_element(trace.xs.begin(), trace.xs.end());
        keyLow = haveKeys ? std::min(keyLow, *minX) : *minX;
        keyHigh = haveKeys ? std::max(keyHigh, *maxX) : *maxX;
        haveKeys = true;
        if (!trace.hasValues)
            continue;
        QCPAxis* axis = trace.graph->valueAxis();
        const double scale = displayScale(trace);
        const QCPRange values(trace.minValue * scale, trace.maxValue * scale);
        auto it = valueRanges.find(axis);
        if (it == valueRanges.end())
            valueRanges.insert(axis, values);
        else
            it->expand(values);
    }
    RangeGuard guard(this);
    if (haveKeys)
        keyAxis->setRange(keyHigh > keyLow ? QCPRange(keyLow, keyHigh) : QCPRange(keyLow - 0.5, keyHigh + 0.5));
    for (auto it = valueRanges.begin(); it != valueRanges.end(); ++it) {
        QCPRange range = paddedRange(it->lower, it->upper);
        const auto inclusion = m_inclusions.find(it.key());
        if (inclusion != m_inclusions.end()) {
            range.expand(QCPRange(inclusion->low, inclusion->high));
        }
        it.key()->setRange(range);
    }
    for (auto it = m_inclusions.begin(); it != m_inclusions.end(); ++it) {
        if (!valueRanges.contains(it.key()))
            it.key()->setRange(it->low, it->high);
    }
}

double PlotView::displayScale(const Trace& trace) const
{
    // Overlays share the main axis' display unit (percent, MiB) with the view's first series.
    return trace.overlay && !m_traces.empty() ? m_traces.front().scale : trace.scale;
}

void PlotView::redecimate(int columns)
{
    for (Trace& trace : m_traces) {
        if (!trace.graph)
            continue;
        if (!trace.sorted) {
            // A resumed run can restart at an earlier iteration: keep the keys ascending for decimation.
            std::vector<size_t> order(trace.xs.size());
            std::iota(order.begin(), order.end(), size_t { 0 });
            std::stable_sort(
                order.begin(), order.end(), [&trace](size_t a, size_t b) { return trace.xs[a] < trace.xs[b]; });
            std::vector<double> xs(order.size()), ys(order.size());
            for (size_t i = 0; i < order.size(); ++i) {
                xs[i] = trace.xs[order[i]];
                ys[i] = trace.ys[order[i]];
            }
            trace.xs.swap(xs);
            trace.ys.swap(ys);
            trace.sorted = true;
        }
        const QCPRange visible = trace.graph->keyAxis()->range();
        const DecimatedSeries shown = decimateMinMax(trace.xs, trace.ys, visible.lower, visible.upper, columns);
        const double scale = displayScale(trace);
        QVector<QCPGraphData> data(static_cast<int>(shown.xs.size()));
        for (size_t i = 0; i < shown.xs.size(); ++i)
            data[static_cast<int>(i)] = QCPGraphData(shown.xs[i], shown.ys[i] * scale);
        trace.graph->data()->set(data, /*alreadySorted=*/true);
    }
    m_decimationDirty = false;
}

void PlotView::prepare(int columns)
{
    if (m_dataDirty && !m_userZoomed)
        rescaleToData();
    m_dataDirty = false;
    redecimate(columns);
}

void PlotView::setEmptyText(const QString& text)
{
    if (!m_emptyText) {
        m_emptyText = new QCPItemText(m_plot);
        m_emptyText->position->setType(QCPItemPosition::ptAxisRectRatio);
        m_emptyText->position->setCoords(0.5, 0.5);
        m_emptyText->setPositionAlignment(Qt::AlignCenter);
        m_emptyText->setClipToAxisRect(false);
        m_emptyText->setSelectable(false);
        applyStyle();
    }
    m_emptyText->setText(text);
    updateEmptyState();
    refresh();
}

QString PlotView::emptyText() const
{
    return m_emptyText ? m_emptyText->text() : QString();
}

bool PlotView::showsEmptyText() const
{
    return m_emptyText && !m_emptyText->text().isEmpty() && !hasData();
}

bool PlotView::hasData() const
{
    return std::any_of(m_traces.begin(), m_traces.end(), [](const Trace& trace) { return !trace.xs.empty(); });
}

void PlotView::updateEmptyState()
{
    if (!m_emptyText)
        return;
    const bool empty = showsEmptyText();
    m_emptyText->setVisible(empty);
    m_plot->xAxis->setTickLabels(!empty);
    m_plot->yAxis->setTickLabels(!empty);
}

void PlotView::placeLegendBelow()
{
    QCPLegend* legend = m_plot->legend;
    if (QCPLayoutInset* inset = m_plot->axisRect()->insetLayout(); inset->take(legend))
        inset->simplify();
    QCPLayoutGrid* layout = m_plot->plotLayout();
    const int row = layout->rowCount();
    layout->addElement(row, 0, legend);
    layout->setRowStretchFactor(row, 0.001); // as tall as its entries, the axis rect takes the rest
    legend->setWrap(3); // before the fill order, which rearranges the entries already there
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, /*rearrange=*/true);
    legend->setMargins(QMargins(6, 0, 6, 2));
    legend->setVisible(true);
}

void PlotView::onBeforeReplot()
{
    updateEmptyState();
    if (!m_dataDirty && !m_decimationDirty)
        return;
    prepare(std::max(kMinColumns, m_plot->width()));
}

void PlotView::applyStyle()
{
    restyle(PlotStyle(palette()));
}

void PlotView::restyle(const PlotStyle& style)
{
    style.apply(m_plot);
    if (m_emptyText)
        m_emptyText->setColor(style.text());
    styleOverlays(style);
}

void PlotView::styleOverlays(const PlotStyle& style)
{
    int k = 0;
    for (Trace& trace : m_traces) {
        if (trace.overlay && trace.graph)
            trace.graph->setPen(QPen(style.series(4 + k++), 1.5, Qt::DashLine));
    }
}

void PlotView::setOverlay(const QString& name, const std::vector<SeriesSample>& samples)
{
    int index = traceIndex(name);
    if (index >= 0 && !m_traces[static_cast<size_t>(index)].overlay)
        return; // never replace one of the view's own series
    if (index < 0) {
        QCPGraph* graph = m_plot->addGraph(m_plot->xAxis, m_plot->yAxis);
        graph->setName(name);
        index = addTrace(name, graph);
        m_traces[static_cast<size_t>(index)].overlay = true;
        styleOverlays(PlotStyle(palette()));
    }
    std::vector<double> xs, ys;
    xs.reserve(samples.size());
    ys.reserve(samples.size());
    for (const SeriesSample& sample : samples) {
        xs.push_back(sample.iteration);
        ys.push_back(sample.value);
    }
    setTraceData(index, std::move(xs), std::move(ys));
    refresh();
}

void PlotView::clearOverlays()
{
    for (auto it = m_traces.begin(); it != m_traces.end();) {
        if (it->overlay) {
            if (it->graph)
                m_plot->removeGraph(it->graph);
            it = m_traces.erase(it);
        } else {
            ++it;
        }
    }
    markDataChanged();
    refresh();
}

QStringList PlotView::overlayNames() const
{
    QStringList names;
    for (const Trace& trace : m_traces) {
        if (trace.overlay)
            names << trace.name;
    }
    return names;
}

void PlotView::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyStyle();
        refresh();
    }
}

void PlotView::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    if (m_replotDeferred)
        refresh();
}

void PlotView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    m_decimationDirty = true;
}

QStringList PlotView::seriesNames() const
{
    QStringList names;
    for (const Trace& trace : m_traces)
        names << trace.name;
    return names;
}

std::vector<SeriesSample> PlotView::seriesSamples(const QString& name) const
{
    std::vector<SeriesSample> out;
    const int index = traceIndex(name);
    if (index < 0)
        return out;
    const Trace& trace = m_traces[static_cast<size_t>(index)];
    out.reserve(trace.xs.size());
    for (size_t i = 0; i < trace.xs.size(); ++i)
        out.push_back({ trace.xs[i], trace.ys[i] });
    return out;
}

int PlotView::displayedPointCount(const QString& name) const
{
    const int index = traceIndex(name);
    if (index < 0 || !m_traces[static_cast<size_t>(index)].graph)
        return -1;
    return m_traces[static_cast<size_t>(index)].graph->dataCount();
}

bool PlotView::exportImage(const QString& path, const QSize& size, QString* error)
{
    if (!checkPictureExport(path, size, error))
        return false;
    const QString suffix = fileSuffix(path);
    // Decimate for the exported width (the file may be much wider than the widget), draw, then go back.
    prepare(size.width());
    const int width = size.width();
    const int height = size.height();
    const bool ok = writeFileAtomically(
        path,
        [this, &suffix, width, height](const QString& tempPath, QString* cause) {
            bool written = false;
            if (suffix == QLatin1String("png")) {
                written = m_plot->savePng(tempPath, width, height);
            } else if (suffix == QLatin1String("pdf")) {
                written
                    = m_plot->savePdf(tempPath, width, height, QCP::epNoCosmetic, QStringLiteral("Dr²Net Workbench"));
            } else {
                QSvgGenerator generator;
                generator.setFileName(tempPath);
                generator.setSize(QSize(width, height));
                generator.setViewBox(QRect(0, 0, width, height));
                generator.setTitle(m_title ? m_title->text() : QStringLiteral("Dr²Net Workbench plot"));
                generator.setDescription(QStringLiteral("Exported by Dr²Net Workbench"));
                QCPPainter painter;
                if (painter.begin(&generator)) {
                    painter.setMode(QCPPainter::pmVectorized);
                    painter.setMode(QCPPainter::pmNoCaching);
                    m_plot->toPainter(&painter, width, height);
                    written = painter.end();
                }
            }
            if (!written && cause)
                *cause = QStringLiteral("could not write %1 image to '%2'").arg(suffix.toUpper(), tempPath);
            return written;
        },
        error);
    m_decimationDirty = true;
    refresh();
    return ok;
}

bool PlotView::exportCsv(const QString& path, CsvRange range, QString* error)
{
    if (m_dataDirty || m_decimationDirty)
        prepare(std::max(kMinColumns, m_plot->width())); // the visible range must be the one the user sees
    return writeFileAtomically(
        path,
        [this, range](const QString& tempPath, QString* cause) {
            QFile file(tempPath);
            if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
                *cause = file.errorString();
                return false;
            }
            QTextStream out(&file);
            writeCsv(out, range);
            out.flush();
            if (out.status() != QTextStream::Ok || !file.flush()) {
                *cause = QStringLiteral("write failed: %1").arg(file.errorString());
                return false;
            }
            file.close();
            return file.error() == QFileDevice::NoError;
        },
        error);
}

void PlotView::writeCsv(QTextStream& out, CsvRange range) const
{
    out << "series,iteration,value\n";
    for (const Trace& trace : m_traces) {
        if (!trace.exported)
            continue;
        const QCPRange visible = trace.graph ? trace.graph->keyAxis()->range() : QCPRange();
        for (size_t i = 0; i < trace.xs.size(); ++i) {
            if (range == CsvRange::Visible && !visible.contains(trace.xs[i]))
                continue;
            out << trace.name << ',' << QString::number(trace.xs[i], 'g', 17) << ','
                << QString::number(trace.ys[i], 'g', 17) << '\n';
        }
    }
}

} // namespace dr2
