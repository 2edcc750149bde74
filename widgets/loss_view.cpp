#include "widgets/loss_view.h"

#include "widgets/plot_style.h"

#include <qcustomplot.h>

namespace dr2 {

LossView::LossView(QWidget* parent)
    : PlotView(parent)
{
    QCustomPlot* p = plot();
    RangeGuard guard(this);
    p->xAxis->setLabel(tr("iteration"));
    p->yAxis->setLabel(tr("training loss"));
    p->yAxis2->setVisible(true);
    p->yAxis2->setLabel(tr("top-1 accuracy (%)"));
    m_lrAxis = p->axisRect()->addAxis(QCPAxis::atRight);
    m_lrAxis->setLabel(tr("learning rate"));
    m_lrAxis->setNumberFormat(QStringLiteral("g"));
    m_lrAxis->setNumberPrecision(2);
    watchAxis(m_lrAxis);
    // Zooming the key axis is what users want on a loss curve; the value axes follow the data.
    p->axisRect()->setRangeZoomAxes(p->xAxis, p->yAxis);
    p->axisRect()->setRangeDragAxes(p->xAxis, p->yAxis);

    QCPGraph* raw = p->addGraph(p->xAxis, p->yAxis);
    raw->setName(tr("loss (raw)"));
    QCPGraph* smoothed = p->addGraph(p->xAxis, p->yAxis);
    smoothed->setName(tr("loss (EMA)"));
    QCPGraph* top1 = p->addGraph(p->xAxis, p->yAxis2);
    top1->setName(tr("top-1 accuracy"));
    top1->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 7));
    QCPGraph* lr = p->addGraph(p->xAxis, m_lrAxis);
    lr->setName(tr("learning rate"));
    m_raw = addTrace(kSeriesLoss, raw);
    m_smoothed = addTrace(kSeriesLossSmoothed, smoothed);
    m_top1 = addTrace(kSeriesTop1, top1);
    m_top1Graph = top1;
    setTraceScale(m_top1, 100.0);
    m_lr = addTrace(kSeriesLearningRate, lr);
    includeInRange(p->yAxis2, 0.0, 100.0);
    includeInRange(m_lrAxis, 0.0, 0.0);

    placeLegendBelow();
    applyStyle();
}

void LossView::setPrimaryMetric(const QString& label, bool fraction)
{
    QCustomPlot* p = plot();
    const bool accuracy = label == QLatin1String("top-1");
    m_top1Graph->setName(accuracy ? tr("top-1 accuracy") : label);
    p->yAxis2->setLabel(fraction ? (accuracy ? tr("top-1 accuracy (%)") : label + QStringLiteral(" (%)")) : label);
    setTraceScale(m_top1, fraction ? 100.0 : 1.0);
}

bool LossView::appendSamples(const QString& series, const std::vector<SeriesSample>& samples)
{
    if (series == kSeriesLossSmoothed)
        return false; // computed here from the raw loss
    if (!PlotView::appendSamples(series, samples))
        return false;
    if (series == kSeriesLoss) {
        std::vector<SeriesSample> smoothed;
        smoothed.reserve(samples.size());
        for (const SeriesSample& sample : samples)
            smoothed.push_back({ sample.iteration, m_ema.add(sample.value) });
        appendToTrace(m_smoothed, smoothed);
    }
    return true;
}

void LossView::clearData()
{
    m_ema.reset();
    PlotView::clearData();
}

void LossView::setSmoothing(double weight)
{
    m_ema = DebiasedEma(weight);
    recomputeSmoothed();
    refresh();
}

void LossView::recomputeSmoothed()
{
    // The EMA runs over the full-resolution loss in key order, never over the decimated display points.
    m_ema.reset();
    std::vector<double> xs = traceKeys(m_raw);
    std::vector<double> ys;
    ys.reserve(xs.size());
    for (double value : traceValues(m_raw))
        ys.push_back(m_ema.add(value));
    setTraceData(m_smoothed, std::move(xs), std::move(ys));
}

void LossView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    QCustomPlot* p = plot();
    QColor faint = style.series(0);
    faint.setAlpha(style.dark() ? 90 : 70);
    p->graph(0)->setPen(QPen(faint, 1));
    p->graph(1)->setPen(QPen(style.series(0), 2));
    p->graph(2)->setPen(QPen(style.series(1), 2));
    p->graph(2)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, style.series(1), style.background(), 7));
    p->graph(3)->setPen(QPen(style.series(2), 1.5, Qt::DashLine));
}

} // namespace dr2
