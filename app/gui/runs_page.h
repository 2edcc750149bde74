#pragma once

#include "widgets/metric_compare_view.h"
#include "widgets/plot_view.h"
#include "widgets/run_summary.h"

#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QTimer;

class QLabel;
class QPushButton;
class QTabWidget;

namespace dr2 {

class ConfigDiffView;
class MetricComparePanel;
class ParallelCoordinatesView;
class RunTableView;
class SegmentationPreview;
class Table2View;

/// The runs page: every recorded run of the database in a sortable, filterable table grouped by setup, the
/// "Table 2" summary per strategy, and views of the selected runs the way TensorBoard/W&B users compare runs: any
/// recorded metric on an iteration, epoch or wall-time axis with a choice of smoothing (raw faint behind), the
/// config keys that differ, and parallel coordinates from config values to the final primary metric and peak
/// memory (linked to the table's selection). Also the last prediction preview of the first selected run when it
/// recorded one (segmentation), and "Export checkpoint…" of the selected run's finetuned weights (the CLI's
/// export, on a worker thread). Curves are read on a worker thread; the GUI thread never waits on SQLite for them.
class RunsPage : public QWidget {
    Q_OBJECT
public:
    /// Creates the page for the database at `databasePath` (not created when missing).
    explicit RunsPage(const QString& databasePath, QWidget* parent = nullptr);
    /// Switches to another database and reloads.
    void setDatabasePath(const QString& path);
    /// The database shown.
    QString databasePath() const { return m_databasePath; }
    /// The run table.
    RunTableView* runTable() const { return m_table; }
    /// Table 2.
    Table2View* table2() const { return m_table2; }
    /// The comparison plot (the picked metric of the selected runs; the legend names the runs).
    MetricCompareView* comparison() const;
    /// The metric picker, axis and smoothing choice above the comparison plot.
    MetricComparePanel* metricPanel() const { return m_metrics; }
    /// The config diff of the selected runs.
    ConfigDiffView* configDiff() const { return m_diff; }
    /// The parallel-coordinates view of every run, the selected ones highlighted.
    ParallelCoordinatesView* parallelCoordinates() const { return m_parallel; }
    /// The tabs holding the comparison views.
    QTabWidget* viewTabs() const { return m_views; }
    /// Curve reads started so far (tests wait for curvesLoaded() of the newest).
    quint64 curveGeneration() const { return m_curveGeneration; }
    /// The first selected run's last prediction preview; hidden when that run recorded none.
    SegmentationPreview* preview() const { return m_preview; }
    /// The run whose preview is shown (0: none).
    qint64 previewRunId() const { return m_previewRunId; }
    /// The last error reading the database (empty when fine).
    QString errorText() const { return m_error; }

public slots:
    /// Reads the runs again; true on success (a missing database is an empty list).
    bool reload();

public:
    /// Reads the runs on a worker thread and shows them when read (the GUI thread never waits on SQLite,
    /// e.g. while a run's recorder writes); a newer reload supersedes an older one.
    void reloadInBackground();
    /// Exports run `runId`'s final weights to `outPath` ("dr2" names) on a worker; checkpointExported() follows.
    void exportCheckpoint(qint64 runId, const QString& outPath);
    /// Asks for a file name and exports the first selected run's weights there.
    void exportSelectedWithDialog();
    /// Writes the comparison views into `folder` as PNG, PDF and SVG at `size` plus CSV: metric.*, config_diff.*,
    /// parallel_coordinates.*. True when every file was written; else false with one line per failure in
    /// `error`. `written` receives the files.
    bool exportViewsTo(const QString& folder, const QSize& size, PlotView::CsvRange range, QStringList* written,
        QString* error);
    /// Asks for a folder and exports the comparison views there.
    void exportViewsWithDialog();
    /// Selects exactly the listed runs of the table (ids not listed are ignored) and shows their comparison.
    void selectRuns(const QVector<qint64>& runIds);

signals:
    /// A checkpoint export ended: `ok`, and the written file or the error (one line).
    void checkpointExported(bool ok, const QString& pathOrError);
    /// The curves of read `generation` are shown.
    void curvesLoaded(quint64 generation);

private:
    void onSelectionChanged();
    void loadCurves(bool listMetrics);
    void selectFromParallel(qint64 runId, bool additive);
    QString runLabel(qint64 runId) const;
    QWidget* buildViewTabs();
    void showPreviewOf(qint64 runId);
    void showRuns(const QVector<RunSummary>& runs, const QString& error);

    QString m_databasePath;
    QString m_error;
    QLabel* m_label = nullptr;
    RunTableView* m_table = nullptr;
    Table2View* m_table2 = nullptr;
    MetricComparePanel* m_metrics = nullptr;
    ConfigDiffView* m_diff = nullptr;
    ParallelCoordinatesView* m_parallel = nullptr;
    QTabWidget* m_views = nullptr;
    SegmentationPreview* m_preview = nullptr;
    QPushButton* m_exportButton = nullptr;
    quint64 m_generation = 0; // of the newest reload
    /// While a listed run is `running` (this window's, or another process's such as a distributed `dr2net-cli
    /// train`), the page re-reads the database every few seconds, keeping the selection, so its curves grow live.
    QTimer* m_watch = nullptr;
    bool m_anyRunning = false;
    quint64 m_previewGeneration = 0; // of the newest preview read
    qint64 m_previewRunId = 0;
    quint64 m_curveGeneration = 0; // of the newest curve read
    bool m_applyingCurves = false; // filling the metric picker from a read, not the user picking
};

} // namespace dr2
