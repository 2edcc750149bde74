#include "widgets/metric_compare_view.h"

#include "widgets/plot_style.h"

#include <qcustomplot.h>

namespace dr2 {

namespace {

    std::vector<SeriesSample> samplesOf(const std::vector<double>& xs, const std::vector<double>& ys)
    {
        std::vector<SeriesSample> samples;
        const size_t n = std::min(xs.size(), ys.size());
        samples.reserve(n);
        for (size_t i = 0; i < n; ++i)
            samples.push_back({ xs[i], ys[i] });
        return samples;
    }

    QCPGraph* graphNamed(QCustomPlot* plot, const QString& name)
    {
        for (int i = 0; i < plot->graphCount(); ++i) {
            if (plot->graph(i)->name() == name)
                return plot->graph(i);
        }
        return nullptr;
    }

} // namespace

MetricCompareView::MetricCompareView(QWidget* parent)
    : PlotView(parent)
{
    // The legend names runs, not curves: entries are added in rebuild() (adding and removing one per curve
    // re-lays the legend each time, quadratic in the curves).
    plot()->setAutoAddPlottableToLegend(false);
    placeLegendBelow();
    plot()->legend->setVisible(false);
    setEmptyText(tr("Select runs to compare"));
    applyStyle();
}

void MetricCompareView::setCurves(const QVector<MetricCurve>& curves)
{
    m_curves = curves;
    rebuild();
}

void MetricCompareView::setSmoothing(Smoothing kind, double strength)
{
    if (kind == m_kind && strength == m_strength)
        return;
    m_kind = kind;
    m_strength = strength;
    rebuild();
}

void MetricCompareView::setAxisLabels(const QString& x, const QString& y)
{
    plot()->xAxis->setLabel(x);
    plot()->yAxis->setLabel(y);
    refresh();
}

void MetricCompareView::rebuild()
{
    clearOverlays();
    const bool smoothed = m_kind != Smoothing::None;
    for (const MetricCurve& curve : m_curves) {
        // Raw first, so the smoothed curve is drawn over it.
        setOverlay(smoothed ? curve.name + kRawSuffix : curve.name, samplesOf(curve.xs, curve.ys));
        if (smoothed)
            setOverlay(curve.name, samplesOf(curve.xs, smoothValues(curve.ys, m_kind, m_strength)));
    }
    int listed = 0;
    for (int i = 0; i < plot()->graphCount() && listed < kMaxLegendEntries; ++i) {
        QCPGraph* graph = plot()->graph(i);
        if (!graph->name().endsWith(kRawSuffix) && graph->addToLegend())
            ++listed;
    }
    plot()->legend->setVisible(!m_curves.isEmpty());
    applyPens(PlotStyle(palette()));
    refresh();
}

void MetricCompareView::applyPens(const PlotStyle& style)
{
    for (int k = 0; k < m_curves.size(); ++k) {
        const QColor colour = style.series(k);
        if (QCPGraph* main = graphNamed(plot(), m_curves[k].name))
            main->setPen(QPen(colour, 1.0)); // width <= 1: the raster fast path (a wider pen strokes a dense curve as one path, seconds)
        if (QCPGraph* raw = graphNamed(plot(), m_curves[k].name + kRawSuffix)) {
            // Faint by mixing with the background rather than by transparency: a translucent pen makes the
            // raster engine stroke a dense zig-zag as one self-intersecting path, seconds per redraw.
            const QColor back = style.background();
            const auto mix = [](int a, int b) { return (a + 3 * b) / 4; };
            raw->setPen(QPen(QColor(mix(colour.red(), back.red()), mix(colour.green(), back.green()),
                                 mix(colour.blue(), back.blue())),
                1.0));
        }
    }
}

void MetricCompareView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    applyPens(style);
}

QStringList MetricCompareView::overlayNames() const
{
    QStringList names;
    for (const MetricCurve& curve : m_curves)
        names << curve.name;
    return names;
}

int MetricCompareView::legendEntryCount() const
{
    if (!plot()->legend->visible())
        return 0;
    int entries = 0; // the legend's grid wraps: some of its cells are empty
    for (int i = 0; i < plot()->legend->itemCount(); ++i)
        entries += plot()->legend->item(i) ? 1 : 0;
    return entries;
}

int MetricCompareView::plottedPointCount() const
{
    int points = 0;
    for (int i = 0; i < plot()->graphCount(); ++i)
        points += plot()->graph(i)->dataCount();
    return points;
}

} // namespace dr2
