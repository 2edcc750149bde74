#include "widgets/coefficient_view.h"

#include "widgets/plot_style.h"

#include <qcustomplot.h>

#include <algorithm>

namespace dr2 {

CoefficientView::CoefficientView(QWidget* parent)
    : PlotView(parent)
{
    QCustomPlot* p = plot();
    p->xAxis->setLabel(tr("iteration"));
    p->yAxis->setLabel(tr("coefficient value"));
    QCPGraph* alphaPlanned = p->addGraph(p->xAxis, p->yAxis);
    alphaPlanned->setName(tr("α planned"));
    QCPGraph* betaPlanned = p->addGraph(p->xAxis, p->yAxis);
    betaPlanned->setName(tr("β planned"));
    QCPGraph* alpha = p->addGraph(p->xAxis, p->yAxis);
    alpha->setName(tr("α (residual path)"));
    QCPGraph* beta = p->addGraph(p->xAxis, p->yAxis);
    beta->setName(tr("β (dual path)"));
    m_alphaPlanned = addTrace(kSeriesAlphaPlanned, alphaPlanned);
    m_betaPlanned = addTrace(kSeriesBetaPlanned, betaPlanned);
    m_alpha = addTrace(kSeriesAlpha, alpha);
    m_beta = addTrace(kSeriesBeta, beta);
    // Schedules are staircases (updated every η iterations): draw them as steps.
    for (QCPGraph* graph : { alphaPlanned, betaPlanned, alpha, beta })
        graph->setLineStyle(QCPGraph::lsStepLeft);

    m_endAlpha = p->addGraph(p->xAxis, p->yAxis);
    m_endAlpha->setName(tr("end point (τ)"));
    m_endAlpha->setLineStyle(QCPGraph::lsNone);
    m_endBeta = p->addGraph(p->xAxis, p->yAxis);
    m_endBeta->setLineStyle(QCPGraph::lsNone);
    m_endBeta->removeFromLegend();
    m_endText = new QCPItemText(p);
    m_endText->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    m_endText->setVisible(false);
    includeInRange(p->yAxis, 0.0, 1.05);
    placeLegendBelow();
    applyStyle();
}

void CoefficientView::setPlannedPath(
    const std::vector<double>& iterations, const std::vector<double>& alphas, const std::vector<double>& betas)
{
    setTraceData(m_alphaPlanned, iterations, alphas);
    setTraceData(m_betaPlanned, iterations, betas);
    refresh();
}

void CoefficientView::setEndPoint(double iteration, double alpha, double beta)
{
    const bool visible = iteration >= 0.0;
    m_endAlpha->data()->clear();
    m_endBeta->data()->clear();
    if (visible) {
        m_endAlpha->addData(iteration, alpha);
        m_endBeta->addData(iteration, beta);
        // Above the higher marker, or below it near the top of the 0..1 range, so it stays inside the axis rect.
        const double top = std::max(alpha, beta);
        m_endText->setPositionAlignment(Qt::AlignRight | (top > 0.8 ? Qt::AlignTop : Qt::AlignBottom));
        m_endText->position->setCoords(iteration, top);
        m_endText->setText(tr("end at iteration %1: α = %2, β = %3").arg(iteration).arg(alpha).arg(beta));
    }
    m_endText->setVisible(visible);
    refresh();
}

void CoefficientView::clearData()
{
    setEndPoint(-1.0, 0.0, 0.0);
    PlotView::clearData();
}

void CoefficientView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    const QColor alpha = style.series(0);
    const QColor beta = style.series(1);
    plot()->graph(0)->setPen(QPen(alpha, 1.5, Qt::DashLine));
    plot()->graph(1)->setPen(QPen(beta, 1.5, Qt::DashLine));
    plot()->graph(2)->setPen(QPen(alpha, 2.5));
    plot()->graph(3)->setPen(QPen(beta, 2.5));
    const QCPScatterStyle mark(QCPScatterStyle::ssDiamond, QPen(style.text(), 1.5), QBrush(style.background()), 11);
    m_endAlpha->setScatterStyle(mark);
    m_endBeta->setScatterStyle(mark);
    m_endAlpha->setPen(QPen(style.text()));
    m_endText->setColor(style.text());
}

} // namespace dr2
