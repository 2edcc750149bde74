#include "widgets/memory_view.h"

#include "widgets/plot_style.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace dr2 {

namespace {

    constexpr double kKiB = 1024.0;
    constexpr double kMiB = 1024.0 * 1024.0;
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

    void placeLine(QCPItemStraightLine* line, QCPItemText* text, double value, bool visible)
    {
        line->point1->setCoords(0.0, value);
        line->point2->setCoords(1.0, value);
        text->position->setCoords(0.01, value);
        line->setVisible(visible);
        text->setVisible(visible);
    }

    QCPItemText* makeLabel(QCustomPlot* plot)
    {
        auto* text = new QCPItemText(plot);
        text->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        text->position->setTypeY(QCPItemPosition::ptPlotCoords);
        text->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        text->setClipToAxisRect(true);
        return text;
    }

} // namespace

MemoryView::MemoryView(QWidget* parent)
    : PlotView(parent)
{
    QCustomPlot* p = plot();
    p->xAxis->setLabel(tr("iteration"));
    QCPGraph* current = p->addGraph(p->xAxis, p->yAxis);
    current->setName(tr("current (end of iteration)"));
    QCPGraph* peak = p->addGraph(p->xAxis, p->yAxis);
    peak->setName(tr("peak within iteration"));
    QCPGraph* rss = p->addGraph(p->xAxis, p->yAxis);
    rss->setName(tr("process RSS (as in top)"));
    m_current = addTrace(kSeriesCurrent, current);
    m_peak = addTrace(kSeriesPeak, peak);
    m_rss = addTrace(kSeriesRss, rss);
    p->axisRect()->setRangeZoomAxes(p->xAxis, p->yAxis);

    m_baselineLine = new QCPItemStraightLine(p);
    m_baselineText = makeLabel(p);
    m_referenceLine = new QCPItemStraightLine(p);
    m_referenceText = makeLabel(p);
    m_referenceLabel = tr("conventional peak");
    placeLegendBelow();
    updateUnit();
    updateLines();
    applyStyle();
}

QString MemoryView::unitName() const
{
    if (m_unit >= kGiB)
        return QStringLiteral("GiB");
    if (m_unit >= kMiB)
        return QStringLiteral("MiB");
    return QStringLiteral("KiB");
}

QString MemoryView::formatBytes(double bytes)
{
    if (!std::isfinite(bytes))
        return QStringLiteral("?");
    const double magnitude = std::abs(bytes);
    if (magnitude >= kGiB)
        return QStringLiteral("%1 GiB").arg(bytes / kGiB, 0, 'f', 2);
    if (magnitude >= kMiB)
        return QStringLiteral("%1 MiB").arg(bytes / kMiB, 0, 'f', 1);
    if (magnitude >= kKiB)
        return QStringLiteral("%1 KiB").arg(bytes / kKiB, 0, 'f', 1);
    return QStringLiteral("%1 B").arg(bytes, 0, 'f', 0);
}

bool MemoryView::appendSamples(const QString& series, const std::vector<SeriesSample>& samples)
{
    if (!PlotView::appendSamples(series, samples))
        return false;
    for (const SeriesSample& sample : samples) {
        if (std::isfinite(sample.value))
            m_maxBytes = std::max(m_maxBytes, sample.value);
    }
    updateUnit();
    return true;
}

void MemoryView::clearData()
{
    m_maxBytes = 0.0;
    PlotView::clearData();
    updateUnit();
}

void MemoryView::setHeldBaseline(qint64 bytes)
{
    m_baseline = bytes;
    updateUnit();
    updateLines();
    refresh();
}

void MemoryView::setReferencePeak(qint64 bytes, const QString& label)
{
    m_reference = bytes;
    m_referenceLabel = label.isEmpty() ? tr("conventional peak") : label;
    updateUnit();
    updateLines();
    refresh();
}

void MemoryView::updateUnit()
{
    const double largest = std::max({ m_maxBytes, static_cast<double>(m_baseline), static_cast<double>(m_reference) });
    const double unit = largest >= 2.0 * kGiB ? kGiB : (largest >= kMiB ? kMiB : kKiB);
    if (unit != m_unit && userZoomed()) {
        // Keep the user's zoom on the same bytes when the unit changes.
        RangeGuard guard(this);
        const QCPRange range = plot()->yAxis->range();
        plot()->yAxis->setRange(range.lower * m_unit / unit, range.upper * m_unit / unit);
    }
    m_unit = unit;
    plot()->yAxis->setLabel(tr("memory (%1)").arg(unitName()));
    setTraceScale(m_current, 1.0 / m_unit);
    setTraceScale(m_peak, 1.0 / m_unit);
    setTraceScale(m_rss, 1.0 / m_unit);
    const double top = std::max({ 0.0, static_cast<double>(m_baseline), static_cast<double>(m_reference) });
    includeInRange(plot()->yAxis, 0.0, top / m_unit * 1.05);
    updateLines();
}

void MemoryView::updateLines()
{
    if (!m_baselineLine)
        return;
    placeLine(m_baselineLine, m_baselineText, static_cast<double>(m_baseline) / m_unit, m_baseline >= 0);
    m_baselineText->setText(
        tr("held baseline (parameters, gradients, optimizer): %1").arg(formatBytes(static_cast<double>(m_baseline))));
    placeLine(m_referenceLine, m_referenceText, static_cast<double>(m_reference) / m_unit, m_reference >= 0);
    m_referenceText->setText(
        QStringLiteral("%1: %2").arg(m_referenceLabel, formatBytes(static_cast<double>(m_reference))));
}

void MemoryView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    QCustomPlot* p = plot();
    p->graph(0)->setPen(QPen(style.series(0), 1.5));
    QColor fill = style.series(1);
    fill.setAlpha(40);
    p->graph(1)->setPen(QPen(style.series(1), 1.5));
    p->graph(1)->setBrush(QBrush(fill));
    p->graph(2)->setPen(QPen(style.series(2), 1.5, Qt::DashLine));
    QColor baseline = style.text();
    baseline.setAlpha(160);
    m_baselineLine->setPen(QPen(baseline, 1.5, Qt::DashDotLine));
    m_baselineText->setColor(baseline);
    m_referenceLine->setPen(QPen(style.reference(), 2, Qt::DashLine));
    m_referenceText->setColor(style.reference());
}

} // namespace dr2
