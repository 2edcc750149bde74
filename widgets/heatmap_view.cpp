#include "widgets/heatmap_view.h"

#include "widgets/plot_style.h"

#include <QLabel>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace dr2 {

namespace {

    QString checkGrid(const std::vector<double>& grid, const char* name)
    {
        if (grid.empty())
            return QStringLiteral("heatmap: expected at least one %1 value, found none").arg(QString::fromUtf8(name));
        for (size_t i = 0; i < grid.size(); ++i) {
            if (!std::isfinite(grid[i]))
                return QStringLiteral("heatmap: %1 value %2 is not finite").arg(QString::fromUtf8(name)).arg(i);
            if (i > 0 && !(grid[i] > grid[i - 1]))
                return QStringLiteral("heatmap: %1 values must be strictly increasing, found %2 after %3")
                    .arg(QString::fromUtf8(name))
                    .arg(grid[i])
                    .arg(grid[i - 1]);
        }
        return {};
    }

    QCPColorGradient viridis()
    {
        // Perceptually uniform and readable in grey, like the paper's figure.
        QCPColorGradient gradient;
        gradient.setColorInterpolation(QCPColorGradient::ciRGB);
        gradient.setColorStopAt(0.00, QColor(68, 1, 84));
        gradient.setColorStopAt(0.25, QColor(59, 82, 139));
        gradient.setColorStopAt(0.50, QColor(33, 145, 140));
        gradient.setColorStopAt(0.75, QColor(94, 201, 98));
        gradient.setColorStopAt(1.00, QColor(253, 231, 37));
        gradient.setNanHandling(QCPColorGradient::nhNanColor);
        gradient.setNanColor(QColor(150, 150, 150));
        return gradient;
    }

} // namespace

HeatmapView::HeatmapView(QWidget* parent)
    : PlotView(parent)
{
    QCustomPlot* p = plot();
    RangeGuard guard(this);
    p->xAxis->setLabel(tr("α (scale of the residual path)"));
    p->yAxis->setLabel(tr("β (scale of the dual path)"));
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);

    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setName(tr("gradient error"));
    m_map->removeFromLegend();
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_map->setColorScale(m_scale);
    // The colour scale owns the gradient once the map is attached to it.
    m_scale->setGradient(viridis());
    m_scale->setDataScaleType(QCPAxis::stLogarithmic);
    m_scale->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    m_scale->axis()->setNumberFormat(QStringLiteral("eb"));
    m_scale->axis()->setNumberPrecision(0);
    m_scale->setLabel(tr("gradient error (MSE), log scale"));
    auto* margins = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);

    m_path = new QCPCurve(p->xAxis, p->yAxis);
    m_path->setName(tr("α/β path of the run"));
    m_probe = new QCPCurve(p->xAxis, p->yAxis);
    m_probe->setName(tr("latest probe"));
    m_probe->setLineStyle(QCPCurve::lsNone);
    m_probeCell = new QCPItemRect(p);
    m_probeCell->setVisible(false);
    m_path->setVisible(false);
    m_probe->setVisible(false);

    placeLegendBelow();
    m_map->setVisible(false);
    m_scale->setVisible(false);

    m_hoverLabel = new QLabel(this);
    m_hoverLabel->setText(tr("hover over a cell to see α, β and the error"));
    m_hoverLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_hoverLabel->setContentsMargins(6, 2, 6, 2);
    m_hoverLabel->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
    static_cast<QVBoxLayout*>(layout())->addWidget(m_hoverLabel, /*stretch=*/0);
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mouseMove, this, &HeatmapView::onMouseMove);
    applyStyle();
}

QSize HeatmapView::matrixSize() const
{
    return QSize(static_cast<int>(m_alphas.size()), static_cast<int>(m_betas.size()));
}

bool HeatmapView::setMatrix(const std::vector<double>& alphas, const std::vector<double>& betas,
    const std::vector<double>& values, QString* error)
{
    QString problem = checkGrid(alphas, "α");
    if (problem.isEmpty())
        problem = checkGrid(betas, "β");
    if (problem.isEmpty() && values.size() != alphas.size() * betas.size())
        problem = QStringLiteral("heatmap: expected %1 × %2 = %3 values (row-major over α then β), found %4")
                      .arg(alphas.size())
                      .arg(betas.size())
                      .arg(alphas.size() * betas.size())
                      .arg(values.size());
    if (!problem.isEmpty()) {
        if (error)
            *error = problem;
        return false;
    }
    m_alphas = alphas;
    m_betas = betas;
    m_values = values;

    HeatmapRange range = HeatmapRange::of(values);
    if (!(range.high > 0.0)) {
        range = { 1e-12, 1.0 }; // nothing positive to show: any range will do
    } else if (!(range.high > range.low)) {
        range = { range.low / 10.0, range.high * 10.0 };
    }
    fillCells(range.low);
    m_map->setVisible(true);
    m_scale->setVisible(true);
    m_map->setDataRange(QCPRange(range.low, range.high));
    updateTicks();
    markDataChanged();
    refresh();
    return true;
}

void HeatmapView::fillCells(double low)
{
    // One value per axis still needs two cells for QCPColorMapData: duplicate it over [-0.5, 0.5].
    const int na = static_cast<int>(m_alphas.size());
    const int nb = static_cast<int>(m_betas.size());
    const int keys = std::max(na, 2);
    const int rows = std::max(nb, 2);
    const QCPRange keyRange = na >= 2 ? QCPRange(0, na - 1) : QCPRange(-0.5, 0.5);
    const QCPRange valueRange = nb >= 2 ? QCPRange(0, nb - 1) : QCPRange(-0.5, 0.5);
    auto* data = new QCPColorMapData(keys, rows, keyRange, valueRange);
    for (int i = 0; i < keys; ++i) {
        for (int j = 0; j < rows; ++j) {
            const double v = m_values[static_cast<size_t>(std::min(i, na - 1)) * static_cast<size_t>(nb)
                + static_cast<size_t>(std::min(j, nb - 1))];
            // The log scale cannot place zero: show it (and negatives) at the bottom of the scale.
            const double shown = std::isfinite(v) ? std::max(v, low) : std::numeric_limits<double>::quiet_NaN();
            data->setCell(i, j, shown);
        }
    }
    m_map->setData(data, /*copy=*/false);
}

bool HeatmapRange::isValid() const
{
    return std::isfinite(low) && std::isfinite(high) && low > 0.0 && high > low;
}

HeatmapRange HeatmapRange::of(const std::vector<double>& values)
{
    double low = std::numeric_limits<double>::infinity();
    double high = 0.0;
    for (double v : values) {
        if (std::isfinite(v) && v > 0.0) {
            low = std::min(low, v);
            high = std::max(high, v);
        }
    }
    if (!(high > 0.0))
        return {};
    return { low, high };
}

HeatmapRange HeatmapRange::united(const HeatmapRange& other) const
{
    // A single positive value (low == high) is a range to unite too, only not a drawable one.
    auto usable = [](const HeatmapRange& r) { return std::isfinite(r.low) && std::isfinite(r.high) && r.low > 0.0; };
    if (!usable(other))
        return *this;
    if (!usable(*this))
        return other;
    return { std::min(low, other.low), std::max(high, other.high) };
}

bool HeatmapView::setColorRange(const HeatmapRange& range)
{
    if (!range.isValid() || m_alphas.empty())
        return false;
    fillCells(range.low);
    m_map->setDataRange(QCPRange(range.low, range.high));
    markDataChanged();
    refresh();
    return true;
}

HeatmapRange HeatmapView::colorRange() const
{
    if (m_alphas.empty())
        return {};
    const QCPRange range = m_map->dataRange();
    return { range.lower, range.upper };
}

HeatmapRange HeatmapView::shareColorRange(const QList<HeatmapView*>& views)
{
    HeatmapRange shared;
    for (const HeatmapView* view : views)
        if (view && view->hasData())
            shared = shared.united(HeatmapRange::of(view->m_values));
    if (!shared.isValid() && std::isfinite(shared.low) && shared.low > 0.0)
        shared = { shared.low / 10.0, shared.high * 10.0 }; // one value everywhere, as setMatrix() draws it
    if (!shared.isValid())
        return {};
    for (HeatmapView* view : views)
        if (view && view->hasData())
            view->setColorRange(shared);
    return shared;
}

void HeatmapView::updateTicks()
{
    auto label = [](const std::vector<double>& grid) {
        auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
        const size_t step = std::max<size_t>(1, (grid.size() + 10) / 11);
        for (size_t i = 0; i < grid.size(); i += step)
            ticker->addTick(static_cast<double>(i), QString::number(grid[i], 'g', 3));
        return ticker;
    };
    plot()->xAxis->setTicker(label(m_alphas));
    plot()->yAxis->setTicker(label(m_betas));
}

double HeatmapView::indexCoordinate(const std::vector<double>& grid, double value)
{
    const size_t n = grid.size();
    if (n == 0 || !std::isfinite(value))
        return std::numeric_limits<double>::quiet_NaN();
    if (n == 1)
        return value - grid[0];
    if (value <= grid[0])
        return (value - grid[0]) / (grid[1] - grid[0]);
    if (value >= grid[n - 1])
        return static_cast<double>(n - 1) + (value - grid[n - 1]) / (grid[n - 1] - grid[n - 2]);
    const size_t k = static_cast<size_t>(std::upper_bound(grid.begin(), grid.end(), value) - grid.begin()) - 1;
    return static_cast<double>(k) + (value - grid[k]) / (grid[k + 1] - grid[k]);
}

void HeatmapView::setPath(const std::vector<double>& alphas, const std::vector<double>& betas)
{
    QVector<double> xs, ys;
    const size_t n = std::min(alphas.size(), betas.size());
    for (size_t i = 0; i < n; ++i) {
        xs << indexCoordinate(m_alphas, alphas[i]);
        ys << indexCoordinate(m_betas, betas[i]);
    }
    m_path->setData(xs, ys);
    m_path->setVisible(n > 0 && !m_alphas.empty());
    if (m_path->visible())
        m_path->addToLegend();
    refresh();
}

bool HeatmapView::addPath(
    const QString& name, int colour, const std::vector<double>& alphas, const std::vector<double>& betas)
{
    const size_t n = std::min(alphas.size(), betas.size());
    if (n == 0 || m_alphas.empty())
        return false;
    QVector<double> xs, ys;
    for (size_t i = 0; i < n; ++i) {
        xs << indexCoordinate(m_alphas, alphas[i]);
        ys << indexCoordinate(m_betas, betas[i]);
    }
    auto* curve = new QCPCurve(plot()->xAxis, plot()->yAxis);
    curve->setName(name);
    curve->setData(xs, ys);
    m_addedPaths.push_back({ curve, colour });
    // A figure of several runs' paths has no single run's path or probe: keep their empty entries out of the legend.
    if (!m_path->visible())
        m_path->removeFromLegend();
    if (!m_probe->visible())
        m_probe->removeFromLegend();
    applyStyle();
    refresh();
    return true;
}

void HeatmapView::setLatestProbe(double alpha, double beta)
{
    const double x = indexCoordinate(m_alphas, alpha);
    const double y = indexCoordinate(m_betas, beta);
    const bool visible = std::isfinite(x) && std::isfinite(y);
    m_probe->data()->clear();
    if (visible)
        m_probe->addData(x, y);
    m_probe->setVisible(visible);
    if (visible)
        m_probe->addToLegend();
    const double cx = std::round(x);
    const double cy = std::round(y);
    const bool inside = visible && cx >= 0 && cy >= 0 && cx < static_cast<double>(m_alphas.size())
        && cy < static_cast<double>(m_betas.size());
    m_probeCell->topLeft->setCoords(cx - 0.5, cy + 0.5);
    m_probeCell->bottomRight->setCoords(cx + 0.5, cy - 0.5);
    m_probeCell->setVisible(inside);
    refresh();
}

void HeatmapView::setValueLabel(const QString& label)
{
    m_scale->setLabel(label);
    refresh();
}

HeatmapCell HeatmapView::cellAt(const QPoint& position) const
{
    HeatmapCell cell;
    if (m_alphas.empty() || m_betas.empty())
        return cell;
    const QPoint inPlot = plot()->mapFrom(this, position);
    if (!plot()->axisRect()->rect().contains(inPlot))
        return cell;
    const double x = plot()->xAxis->pixelToCoord(inPlot.x());
    const double y = plot()->yAxis->pixelToCoord(inPlot.y());
    const long i = std::lround(x);
    const long j = std::lround(y);
    if (i < 0 || j < 0 || i >= static_cast<long>(m_alphas.size()) || j >= static_cast<long>(m_betas.size()))
        return cell;
    cell.valid = true;
    cell.alphaIndex = static_cast<int>(i);
    cell.betaIndex = static_cast<int>(j);
    cell.alpha = m_alphas[static_cast<size_t>(i)];
    cell.beta = m_betas[static_cast<size_t>(j)];
    cell.value = m_values[static_cast<size_t>(i) * m_betas.size() + static_cast<size_t>(j)];
    return cell;
}

QString HeatmapView::describe(const HeatmapCell& cell)
{
    if (!cell.valid)
        return tr("outside the matrix");
    const QString value
        = std::isfinite(cell.value) ? QString::number(cell.value, 'e', 3) : tr("diverged (%1)").arg(cell.value);
    return tr("α = %1, β = %2, error = %3").arg(cell.alpha, 0, 'g', 4).arg(cell.beta, 0, 'g', 4).arg(value);
}

QString HeatmapView::hoverText() const
{
    return m_hoverLabel->text();
}

void HeatmapView::onMouseMove(QMouseEvent* event)
{
    const QPoint position = plot()->mapTo(this, event->position().toPoint());
    const HeatmapCell cell = cellAt(position);
    m_hoverLabel->setText(describe(cell));
    if (cell.valid)
        QToolTip::showText(event->globalPosition().toPoint(), describe(cell), plot());
    else
        QToolTip::hideText();
    emit cellHovered(cell);
}

void HeatmapView::clearData()
{
    m_alphas.clear();
    m_betas.clear();
    m_values.clear();
    m_map->data()->clear();
    m_map->setVisible(false);
    m_scale->setVisible(false);
    m_path->data()->clear();
    m_probe->data()->clear();
    m_probeCell->setVisible(false);
    for (const AddedPath& added : m_addedPaths)
        plot()->removePlottable(added.curve);
    m_addedPaths.clear();
    PlotView::clearData();
}

bool HeatmapView::hasData() const
{
    return !m_alphas.empty();
}

void HeatmapView::rescaleToData()
{
    RangeGuard guard(this);
    const double na = static_cast<double>(std::max<size_t>(m_alphas.size(), 1));
    const double nb = static_cast<double>(std::max<size_t>(m_betas.size(), 1));
    plot()->xAxis->setRange(-0.5, na - 0.5);
    plot()->yAxis->setRange(-0.5, nb - 0.5);
}

void HeatmapView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    // The overlay must stand out on every colour of the map, whatever the palette: white with a dark edge.
    m_path->setPen(QPen(QColor(255, 255, 255), 2.5));
    m_path->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(255, 255, 255), 5));
    m_probe->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(style.reference(), 3), QBrush(QColor(255, 255, 255)), 14));
    m_probe->setPen(QPen(style.reference(), 3));
    m_probeCell->setPen(QPen(style.reference(), 3));
    m_probeCell->setBrush(Qt::NoBrush);
    // Added paths in the palette's series colours, with a white core of their markers so that they read on the
    // map's dark and light cells alike; a path of one point (fixed α, β) is its marker.
    for (const AddedPath& added : m_addedPaths) {
        const QColor colour = style.series(added.colour);
        added.curve->setPen(QPen(colour, 2.2));
        added.curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(colour, 2.2), QBrush(Qt::white), 8));
    }
}

void HeatmapView::writeCsv(QTextStream& out, CsvRange range) const
{
    out << "alpha,beta,value\n";
    const QCPRange xs = plot()->xAxis->range();
    const QCPRange ys = plot()->yAxis->range();
    for (size_t i = 0; i < m_alphas.size(); ++i) {
        for (size_t j = 0; j < m_betas.size(); ++j) {
            if (range == CsvRange::Visible
                && (!xs.contains(static_cast<double>(i)) || !ys.contains(static_cast<double>(j))))
                continue;
            out << QString::number(m_alphas[i], 'g', 17) << ',' << QString::number(m_betas[j], 'g', 17) << ','
                << QString::number(m_values[i * m_betas.size() + j], 'g', 17) << '\n';
        }
    }
}

} // namespace dr2
