#include "widgets/branch_error_view.h"

#include "widgets/plot_style.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dr2 {

BranchErrorView::BranchErrorView(QWidget* parent)
    : PlotView(parent)
{
    QCustomPlot* p = plot();
    RangeGuard guard(this);
    p->xAxis->setLabel(tr("branch F_i of the stack"));
    p->yAxis->setLabel(tr("gradient error (MSE), log scale"));
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    p->yAxis->setNumberFormat(QStringLiteral("eb"));
    p->yAxis->setNumberPrecision(0);
    p->xAxis->grid()->setVisible(false);
    m_bars = new QCPBars(p->xAxis, p->yAxis);
    m_bars->setName(tr("error of the branch's parameters"));
    m_bars->setWidth(0.7);
    m_diverged = new QCPBars(p->xAxis, p->yAxis);
    m_diverged->setName(tr("diverged (NaN/Inf)"));
    m_diverged->setWidth(0.7);
    placeLegendBelow();
    m_diverged->removeFromLegend(); // listed only when a branch diverged
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    applyStyle();
}

void BranchErrorView::setBranchErrors(const std::vector<double>& errors, const QString& caption)
{
    m_errors = errors;
    double low = std::numeric_limits<double>::infinity();
    double high = 0.0;
    for (double e : errors) {
        if (std::isfinite(e) && e > 0.0) {
            low = std::min(low, e);
            high = std::max(high, e);
        }
    }
    if (!(high > 0.0)) {
        low = 1e-12;
        high = 1.0;
    }
    // Bars start at a base below the smallest error: a log axis has no zero to start from.
    m_floor = std::pow(10.0, std::floor(std::log10(low)) - 1.0);
    m_ceiling = std::pow(10.0, std::ceil(std::log10(high)) + 0.3);
    m_bars->setBaseValue(m_floor);
    m_diverged->setBaseValue(m_floor);
    QVector<double> keys, values, divergedKeys, divergedValues;
    auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    const size_t step = std::max<size_t>(1, (errors.size() + 23) / 24);
    for (size_t i = 0; i < errors.size(); ++i) {
        const double key = static_cast<double>(i + 1);
        if (i % step == 0)
            ticker->addTick(key, QString::number(i + 1));
        if (std::isfinite(errors[i])) {
            keys << key;
            values << std::max(errors[i], m_floor);
        } else {
            divergedKeys << key;
            divergedValues << m_ceiling;
        }
    }
    m_bars->setData(keys, values, /*alreadySorted=*/true);
    m_diverged->setData(divergedKeys, divergedValues, /*alreadySorted=*/true);
    if (divergedKeys.isEmpty())
        m_diverged->removeFromLegend();
    else
        m_diverged->addToLegend();
    plot()->xAxis->setTicker(ticker);
    setTitle(caption.isEmpty() ? QString() : tr("per-branch gradient error: %1").arg(caption));
    markDataChanged();
    refresh();
}

void BranchErrorView::setStageLengths(const std::vector<int64_t>& lengths)
{
    for (QCPItemStraightLine* line : m_boundaryLines)
        plot()->removeItem(line);
    m_boundaryLines.clear();
    m_boundaries.clear();
    int64_t branches = 0;
    for (size_t s = 0; s + 1 < lengths.size(); ++s) {
        branches += lengths[s];
        m_boundaries.push_back(static_cast<double>(branches) + 0.5);
    }
    QPen pen(Qt::DashLine);
    pen.setColor(QColor(120, 120, 120));
    for (double x : m_boundaries) {
        auto* line = new QCPItemStraightLine(plot());
        line->point1->setCoords(x, 1.0);
        line->point2->setCoords(x, 2.0);
        line->setPen(pen);
        m_boundaryLines.push_back(line);
    }
    plot()->xAxis->setLabel(m_boundaries.empty() ? tr("branch F_i of the stack")
                                                 : tr("branch F_i, stage after stage (dashed: next stage)"));
    refresh();
}

void BranchErrorView::clearData()
{
    m_errors.clear();
    m_bars->data()->clear();
    m_diverged->data()->clear();
    PlotView::clearData();
}

bool BranchErrorView::hasData() const
{
    return !m_errors.empty();
}

void BranchErrorView::rescaleToData()
{
    RangeGuard guard(this);
    plot()->xAxis->setRange(0.4, static_cast<double>(std::max<size_t>(m_errors.size(), 1)) + 0.6);
    plot()->yAxis->setRange(m_floor, m_ceiling);
}

void BranchErrorView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    QColor fill = style.series(0);
    fill.setAlpha(200);
    m_bars->setPen(QPen(style.series(0).darker(130)));
    m_bars->setBrush(fill);
    m_diverged->setPen(QPen(style.reference()));
    m_diverged->setBrush(QBrush(style.reference(), Qt::BDiagPattern));
}

void BranchErrorView::writeCsv(QTextStream& out, CsvRange range) const
{
    out << "branch,value\n";
    const QCPRange visible = plot()->xAxis->range();
    for (size_t i = 0; i < m_errors.size(); ++i) {
        if (range == CsvRange::Visible && !visible.contains(static_cast<double>(i + 1)))
            continue;
        out << (i + 1) << ',' << QString::number(m_errors[i], 'g', 17) << '\n';
    }
}

} // namespace dr2
