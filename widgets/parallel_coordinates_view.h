#pragma once

#include "widgets/parallel_coordinates.h"
#include "widgets/plot_view.h"

#include <QHash>
#include <QSet>
#include <QVector>

class QCPAbstractPlottable;
class QCPGraph;
class QCPItemText;

namespace dr2 {

/// Parallel coordinates (TensorBoard HParams style): one vertical axis per config value that differs across the
/// runs (see parallelAxes()), then the final primary metric and the peak memory; one polyline per run. Lines of
/// the selected runs are drawn bold in colour, the others faint; clicking a line asks to select its run
/// (runClicked()), so the run table and this view stay linked; with nothing selected each run has its own colour. Exports like every plot; the CSV holds one row
/// per run with its value on each axis.
class ParallelCoordinatesView : public PlotView {
    Q_OBJECT
public:
    /// Creates the view in its empty state.
    explicit ParallelCoordinatesView(QWidget* parent = nullptr);

    /// Shows `runs` (replaces every line).
    void setRuns(const QVector<RunSummary>& runs);
    /// Highlights the runs with ids in `runIds` (the table's selection).
    void setSelectedRuns(const QVector<qint64>& runIds);
    /// The runs highlighted.
    QVector<qint64> selectedRuns() const;
    /// The axes shown.
    const QVector<ParallelAxis>& axes() const { return m_axes; }
    /// Number of run lines drawn.
    int lineCount() const { return int(m_lines.size()); }
    /// The run id drawn by `graph`, 0 when none.
    qint64 runOf(const QCPAbstractPlottable* graph) const;
    /// Line of run `runId` (nullptr when not shown).
    QCPGraph* lineOf(qint64 runId) const;
    /// Simulates a click on run `runId`'s line (tests; `additive` as with Ctrl held).
    void clickRun(qint64 runId, bool additive);

signals:
    /// The user clicked run `runId`'s line: select it alone, or toggle it when `additive` (Ctrl held).
    void runClicked(qint64 runId, bool additive);

protected:
    void rescaleToData() override;
    void restyle(const PlotStyle& style) override;
    void writeCsv(QTextStream& out, CsvRange range) const override;

private:
    void rebuildAxes();
    void applyPens(const PlotStyle& style);

    QVector<RunSummary> m_runs;
    QVector<ParallelAxis> m_axes;
    QVector<QCPGraph*> m_lines; // per run, in m_runs order
    QHash<const QCPAbstractPlottable*, qint64> m_runOfLine;
    QSet<qint64> m_selected;
    QVector<QCPItemText*> m_labels;
};

} // namespace dr2
