#include "widgets/parallel_coordinates_view.h"

#include "widgets/config_diff.h"
#include "widgets/plot_style.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>

namespace dr2 {

namespace {

    QString lineName(const RunSummary& run)
    {
        return QStringLiteral("%1 (#%2)").arg(run.name).arg(run.id);
    }

} // namespace

ParallelCoordinatesView::ParallelCoordinatesView(QWidget* parent)
    : PlotView(parent)
{
    plot()->setInteractions(QCP::Interactions()); // fixed axes: clicks pick runs, nothing zooms
    plot()->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText));
    plot()->xAxis->setTickLabelRotation(-20);
    plot()->yAxis->setTickLabels(false);
    plot()->yAxis->setTicks(false);
    plot()->yAxis->grid()->setVisible(false);
    setEmptyText(tr("No runs to compare yet: record runs, then select some to highlight them"));
    connect(plot(), &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable* line, int, QMouseEvent* event) {
        if (const qint64 id = runOf(line))
            emit runClicked(id, event && event->modifiers().testFlag(Qt::ControlModifier));
    });
    applyStyle();
    setRuns({});
}

void ParallelCoordinatesView::setRuns(const QVector<RunSummary>& runs)
{
    m_runs = runs;
    m_axes = parallelAxes(runs);
    clearOverlays();
    m_lines.clear();
    m_runOfLine.clear();
    for (int r = 0; r < m_runs.size(); ++r) {
        std::vector<SeriesSample> samples;
        samples.reserve(size_t(m_axes.size()));
        for (int a = 0; a < m_axes.size(); ++a)
            samples.push_back({ double(a), m_axes[a].positions[r] });
        setOverlay(lineName(m_runs[r]), samples);
        QCPGraph* line = plot()->graph(plot()->graphCount() - 1);
        m_lines << line;
        m_runOfLine.insert(line, m_runs[r].id);
    }
    rebuildAxes();
    applyPens(PlotStyle(palette()));
    markDataChanged();
    refresh();
}

void ParallelCoordinatesView::rebuildAxes()
{
    for (QCPItemText* label : m_labels)
        plot()->removeItem(label);
    m_labels.clear();
    auto ticker = qSharedPointerCast<QCPAxisTickerText>(plot()->xAxis->ticker());
    ticker->clear();
    auto addLabel = [this](double x, double y, const QString& text, Qt::Alignment alignment) {
        auto* label = new QCPItemText(plot());
        label->position->setCoords(x, y);
        label->setPositionAlignment(alignment);
        label->setText(text);
        label->setClipToAxisRect(false);
        m_labels << label;
    };
    for (int a = 0; a < m_axes.size(); ++a) {
        const ParallelAxis& axis = m_axes[a];
        ticker->addTick(a, axis.name);
        if (axis.categorical) {
            const double last = std::max<qsizetype>(1, axis.categories.size() - 1);
            for (int c = 0; c < axis.categories.size(); ++c)
                addLabel(a, axis.categories.size() == 1 ? 0.5 : c / last, axis.categories[c], Qt::AlignLeft | Qt::AlignVCenter);
        } else if (axis.high > axis.low) {
            addLabel(a, 1.0, QString::number(axis.high, 'g', 4), Qt::AlignHCenter | Qt::AlignBottom);
            addLabel(a, 0.0, QString::number(axis.low, 'g', 4), Qt::AlignHCenter | Qt::AlignTop);
        }
    }
}

void ParallelCoordinatesView::setSelectedRuns(const QVector<qint64>& runIds)
{
    m_selected = QSet<qint64>(runIds.begin(), runIds.end());
    applyPens(PlotStyle(palette()));
    refresh();
}

QVector<qint64> ParallelCoordinatesView::selectedRuns() const
{
    QVector<qint64> ids;
    for (const RunSummary& run : m_runs) {
        if (m_selected.contains(run.id))
            ids << run.id;
    }
    return ids;
}

qint64 ParallelCoordinatesView::runOf(const QCPAbstractPlottable* graph) const
{
    return m_runOfLine.value(graph, 0);
}

QCPGraph* ParallelCoordinatesView::lineOf(qint64 runId) const
{
    for (int r = 0; r < m_runs.size(); ++r) {
        if (m_runs[r].id == runId)
            return m_lines[r];
    }
    return nullptr;
}

void ParallelCoordinatesView::clickRun(qint64 runId, bool additive)
{
    if (lineOf(runId))
        emit runClicked(runId, additive);
}

void ParallelCoordinatesView::applyPens(const PlotStyle& style)
{
    // Nothing selected: every run in its own colour (as in the other comparison plots); else the selection
    // bold in colour over the rest, faint.
    QColor faint = style.text();
    faint.setAlphaF(0.15);
    for (int r = 0; r < m_lines.size(); ++r) {
        const bool selected = m_selected.contains(m_runs[r].id);
        const QPen pen = m_selected.isEmpty() ? QPen(style.series(r), 1.0)
            : selected                        ? QPen(style.series(r), 2.5)
                                              : QPen(faint, 1.0);
        m_lines[r]->setPen(pen);
        m_lines[r]->setLayer(selected ? QStringLiteral("overlay") : QStringLiteral("main"));
    }
}

void ParallelCoordinatesView::restyle(const PlotStyle& style)
{
    PlotView::restyle(style);
    applyPens(style);
    for (QCPItemText* label : m_labels)
        label->setColor(style.text());
}

void ParallelCoordinatesView::rescaleToData()
{
    const RangeGuard guard(this);
    plot()->xAxis->setRange(-0.3, std::max<double>(1.0, double(m_axes.size()) - 1.0) + 0.6);
    plot()->yAxis->setRange(-0.1, 1.1);
}

void ParallelCoordinatesView::writeCsv(QTextStream& out, CsvRange) const
{
    out << "run_id,run";
    for (const ParallelAxis& axis : m_axes)
        out << ',' << csvField(axis.name);
    out << '\n';
    for (int r = 0; r < m_runs.size(); ++r) {
        out << m_runs[r].id << ',' << csvField(m_runs[r].name);
        for (const ParallelAxis& axis : m_axes)
            out << ',' << csvField(axis.texts.value(r));
        out << '\n';
    }
}

} // namespace dr2
