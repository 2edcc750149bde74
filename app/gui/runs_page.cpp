#include "app/gui/runs_page.h"

#include "app/gui/export_dialog.h"
#include "app/gui/run_checkpoint_export.h"
#include "app/gui/run_history.h"
#include "app/gui/session_types.h"
#include "app/recording/run_preview.h"
#include "storage/run_store.h"
#include "widgets/config_diff_view.h"
#include "widgets/metric_compare_panel.h"
#include "widgets/parallel_coordinates_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"
#include "widgets/segmentation_preview.h"
#include "widgets/table2_view.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <optional>

namespace dr2 {

RunsPage::RunsPage(const QString& databasePath, QWidget* parent)
    : QWidget(parent)
    , m_databasePath(databasePath)
{
    m_label = new QLabel(this);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* refresh = new QPushButton(tr("Refresh"), this);
    m_exportButton = new QPushButton(tr("Export checkpoint…"), this);
    m_exportButton->setToolTip(tr("Write the selected run's finetuned weights as safetensors (like dr2net-cli export)"));
    m_exportButton->setEnabled(false);
    auto* exportViews = new QPushButton(tr("Export views…"), this);
    exportViews->setToolTip(tr("Write the metric plot, config diff and parallel coordinates as PNG, PDF, SVG and CSV"));
    m_table = new RunTableView(this);
    m_table2 = new Table2View(this);
    m_preview = new SegmentationPreview(this);
    m_preview->hide();

    auto* top = new QHBoxLayout;
    top->addWidget(m_label, 1);
    top->addWidget(exportViews);
    top->addWidget(m_exportButton);
    top->addWidget(refresh);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(m_table2);
    bottom->addWidget(buildViewTabs());
    bottom->addWidget(m_preview);
    bottom->setStretchFactor(1, 3);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(bottom);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(refresh, &QPushButton::clicked, this, &RunsPage::reload);
    m_watch = new QTimer(this);
    m_watch->setInterval(3000);
    connect(m_watch, &QTimer::timeout, this, [this] {
        if (m_anyRunning && isVisible())
            reloadInBackground();
    });
    m_watch->start();
    connect(m_table, &RunTableView::selectionChanged, this, &RunsPage::onSelectionChanged);
    connect(m_exportButton, &QPushButton::clicked, this, &RunsPage::exportSelectedWithDialog);
    connect(exportViews, &QPushButton::clicked, this, &RunsPage::exportViewsWithDialog);
    reload();
}

QWidget* RunsPage::buildViewTabs()
{
    m_metrics = new MetricComparePanel(this);
    m_metrics->view()->setTitle(tr("Metric of the selected runs"));
    m_diff = new ConfigDiffView(this);
    m_parallel = new ParallelCoordinatesView(this);
    m_parallel->setTitle(tr("Config values → final metric and peak memory (click a line to select its run)"));
    m_views = new QTabWidget(this);
    m_views->addTab(m_metrics, tr("Metrics"));
    m_views->addTab(m_diff, tr("Config diff"));
    m_views->addTab(m_parallel, tr("Parallel coordinates"));
    connect(m_metrics, &MetricComparePanel::metricChanged, this, [this] {
        if (!m_applyingCurves)
            loadCurves(/*listMetrics=*/false);
    });
    connect(m_metrics, &MetricComparePanel::axisChanged, this, [this] { loadCurves(/*listMetrics=*/false); });
    connect(m_parallel, &ParallelCoordinatesView::runClicked, this, &RunsPage::selectFromParallel);
    return m_views;
}

MetricCompareView* RunsPage::comparison() const
{
    return m_metrics->view();
}

void RunsPage::setDatabasePath(const QString& path)
{
    m_databasePath = path;
    reload();
}

namespace {

    struct Loaded {
        QVector<RunSummary> runs;
        QString error;
    };

    Loaded loadRuns(const QString& databasePath)
    {
        Loaded loaded;
        if (!QFileInfo::exists(databasePath))
            return loaded;
        try {
            RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
            loaded.runs = RunHistory::summaries(store);
        } catch (const std::exception& e) {
            loaded.error = QString::fromUtf8(e.what());
        }
        return loaded;
    }

} // namespace

bool RunsPage::reload()
{
    ++m_generation; // a background reload still running is older than this one
    const Loaded loaded = loadRuns(m_databasePath);
    showRuns(loaded.runs, loaded.error);
    return m_error.isEmpty();
}

void RunsPage::reloadInBackground()
{
    const quint64 generation = ++m_generation;
    const QString path = m_databasePath;
    auto* watcher = new QFutureWatcher<Loaded>(this);
    connect(watcher, &QFutureWatcher<Loaded>::finished, this, [this, watcher, generation, path] {
        watcher->deleteLater();
        if (generation != m_generation || path != m_databasePath)
            return;
        const Loaded loaded = watcher->result();
        showRuns(loaded.runs, loaded.error);
    });
    watcher->setFuture(QtConcurrent::run([path] { return loadRuns(path); }));
}

void RunsPage::showRuns(const QVector<RunSummary>& runs, const QString& error)
{
    m_error = error;
    const QVector<qint64> selected = m_table->selectedRunIds();
    m_table->model()->setRuns(runs);
    if (!selected.isEmpty())
        m_table->selectRuns(selected); // a periodic re-read must not lose what the user is looking at
    m_anyRunning = std::any_of(runs.begin(), runs.end(), [](const RunSummary& r) { return r.status == "running"; });
    m_table2->setRuns(runs);
    m_parallel->setRuns(runs);
    m_parallel->setSelectedRuns(m_table->selectedRunIds());
    m_label->setText(m_error.isEmpty()
            ? tr("%1 — %n run(s)", nullptr, runs.size()).arg(m_databasePath)
            : tr("%1 — error: %2").arg(m_databasePath, m_error));
    m_label->setStyleSheet(m_error.isEmpty() ? QString() : QStringLiteral("color: #c0392b;"));
}

void RunsPage::selectRuns(const QVector<qint64>& runIds)
{
    m_table->selectRuns(runIds);
}

void RunsPage::exportSelectedWithDialog()
{
    const QVector<qint64> ids = m_table->selectedRunIds();
    if (ids.isEmpty())
        return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export checkpoint of run #%1").arg(ids.first()),
        QStringLiteral("run-%1.safetensors").arg(ids.first()), tr("safetensors (*.safetensors)"));
    if (!path.isEmpty())
        exportCheckpoint(ids.first(), path);
}

void RunsPage::exportCheckpoint(qint64 runId, const QString& outPath)
{
    m_exportButton->setEnabled(false);
    m_label->setText(tr("%1 — exporting run #%2 to %3…").arg(m_databasePath).arg(runId).arg(outPath));
    auto* watcher = new QFutureWatcher<RunCheckpointExport>(this);
    connect(watcher, &QFutureWatcher<RunCheckpointExport>::finished, this, [this, watcher] {
        watcher->deleteLater();
        const RunCheckpointExport result = watcher->result();
        m_exportButton->setEnabled(!m_table->selectedRunIds().isEmpty());
        m_label->setText(result.ok ? tr("%1 — run #%2 exported to %3 (%4 tensors, SHA-256 %5)")
                                         .arg(m_databasePath)
                                         .arg(result.runId)
                                         .arg(result.outPath)
                                         .arg(result.tensors)
                                         .arg(result.sha256.left(12))
                                   : tr("%1 — export failed: %2").arg(m_databasePath, result.error));
        m_label->setStyleSheet(result.ok ? QString() : QStringLiteral("color: #c0392b;"));
        emit checkpointExported(result.ok, result.ok ? result.outPath : result.error);
    });
    const QString database = m_databasePath;
    watcher->setFuture(
        QtConcurrent::run([database, runId, outPath] { return exportRunCheckpoint(database, runId, outPath); }));
}

QString RunsPage::runLabel(qint64 runId) const
{
    const int row = m_table->model()->rowOf(runId);
    const QString name = row >= 0 ? m_table->model()->runs().at(row).name : QString::number(runId);
    return QStringLiteral("%1 (#%2)").arg(name).arg(runId);
}

void RunsPage::onSelectionChanged()
{
    const QVector<qint64> ids = m_table->selectedRunIds();
    m_exportButton->setEnabled(!ids.isEmpty());
    showPreviewOf(ids.isEmpty() ? 0 : ids.first());
    m_parallel->setSelectedRuns(ids);
    QStringList names, configs;
    for (qint64 id : ids) {
        const int row = m_table->model()->rowOf(id);
        names << runLabel(id);
        configs << (row >= 0 ? m_table->model()->runs().at(row).configJson : QStringLiteral("{}"));
    }
    m_diff->setRuns(names, configs);
    loadCurves(/*listMetrics=*/true);
}

void RunsPage::selectFromParallel(qint64 runId, bool additive)
{
    QVector<qint64> ids = additive ? m_table->selectedRunIds() : QVector<qint64> {};
    if (additive && ids.contains(runId))
        ids.removeAll(runId);
    else
        ids << runId;
    m_table->selectRuns(ids);
}

namespace {

    struct LoadedCurves {
        QStringList metrics; ///< every metric of the runs (when listed)
        QString metric; ///< the metric read
        QVector<MetricCurve> curves;
        QString error;
    };

    LoadedCurves readCurves(const QString& databasePath, const QVector<QPair<qint64, QString>>& runs, bool listMetrics,
        const QStringList& metrics, const QString& wanted, MetricXAxis axis)
    {
        LoadedCurves loaded;
        if (runs.isEmpty() || !QFileInfo::exists(databasePath))
            return loaded;
        try {
            RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
            QVector<qint64> ids;
            for (const auto& run : runs)
                ids << run.first;
            loaded.metrics = listMetrics ? RunHistory::metricNames(store, ids) : metrics;
            // Keep the user's pick while the runs have it; else the training loss, as TensorBoard opens on it.
            loaded.metric = loaded.metrics.contains(wanted) ? wanted
                : loaded.metrics.contains(QStringLiteral("loss")) ? QStringLiteral("loss")
                                                                  : loaded.metrics.value(0);
            if (loaded.metric.isEmpty())
                return loaded;
            for (const auto& [id, name] : runs)
                loaded.curves << RunHistory::metricCurve(store, id, loaded.metric, axis, name);
        } catch (const std::exception& e) {
            loaded.error = QString::fromUtf8(e.what());
        }
        return loaded;
    }

} // namespace

void RunsPage::loadCurves(bool listMetrics)
{
    const quint64 generation = ++m_curveGeneration;
    QVector<QPair<qint64, QString>> runs;
    for (qint64 id : m_table->selectedRunIds())
        runs.push_back({ id, runLabel(id) });
    m_metrics->view()->setEmptyText(runs.isEmpty() ? tr("Select runs to compare") : tr("Reading curves…"));
    if (runs.isEmpty()) {
        m_metrics->view()->setCurves({});
        emit curvesLoaded(generation);
        return;
    }
    auto* watcher = new QFutureWatcher<LoadedCurves>(this);
    connect(watcher, &QFutureWatcher<LoadedCurves>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != m_curveGeneration)
            return;
        const LoadedCurves loaded = watcher->result();
        if (!loaded.error.isEmpty()) {
            m_error = loaded.error;
            m_label->setText(tr("%1 — error: %2").arg(m_databasePath, m_error));
        }
        m_applyingCurves = true;
        m_metrics->setMetrics(loaded.metrics, loaded.metric);
        m_applyingCurves = false;
        m_metrics->view()->setEmptyText(loaded.metric.isEmpty()
                ? tr("The selected runs recorded no series yet")
                : tr("No %1 on the %2 axis for the selected runs (epochs come from evaluations, wall time from "
                     "step times)")
                      .arg(loaded.metric, MetricComparePanel::axisLabel(m_metrics->xAxis())));
        m_metrics->view()->setCurves(loaded.curves);
        emit curvesLoaded(generation);
    });
    const QString path = m_databasePath;
    const QStringList metrics = m_metrics->metrics();
    const QString wanted = m_metrics->metric();
    const MetricXAxis axis = m_metrics->xAxis();
    watcher->setFuture(QtConcurrent::run([path, runs, listMetrics, metrics, wanted, axis] {
        return readCurves(path, runs, listMetrics, metrics, wanted, axis);
    }));
}

bool RunsPage::exportViewsTo(
    const QString& folder, const QSize& size, PlotView::CsvRange range, QStringList* written, QString* error)
{
    QStringList failures;
    if (!QDir().mkpath(folder))
        failures << tr("export: cannot create the folder '%1'").arg(folder);
    auto record = [&failures, written](bool ok, const QString& path, const QString& message) {
        if (ok && written)
            *written << path;
        else if (!ok)
            failures << message;
    };
    const QDir dir(folder);
    for (const char* suffix : { "png", "pdf", "svg" }) {
        QString message;
        const QString ext = QLatin1Char('.') + QLatin1String(suffix);
        QString path = dir.filePath(QStringLiteral("metric") + ext);
        record(m_metrics->view()->exportImage(path, size, &message), path, message);
        path = dir.filePath(QStringLiteral("parallel_coordinates") + ext);
        record(m_parallel->exportImage(path, size, &message), path, message);
        path = dir.filePath(QStringLiteral("config_diff") + ext);
        record(m_diff->exportImage(path, size, &message), path, message);
    }
    QString message;
    QString path = dir.filePath(QStringLiteral("metric.csv"));
    record(m_metrics->view()->exportCsv(path, range, &message), path, message);
    path = dir.filePath(QStringLiteral("parallel_coordinates.csv"));
    record(m_parallel->exportCsv(path, range, &message), path, message);
    path = dir.filePath(QStringLiteral("config_diff.csv"));
    record(m_diff->exportCsv(path, &message), path, message);
    if (error)
        *error = failures.join(QLatin1Char('\n'));
    return failures.isEmpty();
}

void RunsPage::exportViewsWithDialog()
{
    QSettings settings;
    ExportDialog dialog(settings.value(QStringLiteral("export/folder"), QDir::homePath()).toString(), this);
    dialog.setChoices(dialog.folder(), settings.value(QStringLiteral("export/size"), QSize(1200, 800)).toSize(),
        PlotView::CsvRange::Full);
    if (dialog.exec() != QDialog::Accepted)
        return;
    QString error;
    const bool ok = exportViewsTo(dialog.folder(), dialog.imageSize(), dialog.csvRange(), nullptr, &error);
    m_label->setText(ok ? tr("%1 — views written to %2").arg(m_databasePath, dialog.folder())
                        : tr("%1 — export failed: %2").arg(m_databasePath, error));
    m_label->setStyleSheet(ok ? QString() : QStringLiteral("color: #c0392b;"));
}

namespace {

    std::optional<PreviewImages> loadPreview(const QString& databasePath, qint64 runId)
    {
        try {
            RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
            if (const auto preview = readLastRunPreview(store, runId))
                return previewImagesOf(*preview);
        } catch (const std::exception&) {
            // No preview; the overlay's read of the same database shows the error on the page.
        }
        return std::nullopt;
    }

} // namespace

void RunsPage::showPreviewOf(qint64 runId)
{
    // Decoding a preview's PNGs takes a moment for large scenes: on a worker, and only the newest request counts.
    const quint64 generation = ++m_previewGeneration;
    if (runId == 0 || !QFileInfo::exists(m_databasePath)) {
        m_previewRunId = 0;
        m_preview->clear();
        m_preview->hide();
        return;
    }
    const QString path = m_databasePath;
    using LoadedPreview = std::optional<PreviewImages>;
    auto* watcher = new QFutureWatcher<LoadedPreview>(this);
    connect(watcher, &QFutureWatcher<LoadedPreview>::finished, this, [this, watcher, generation, runId] {
        watcher->deleteLater();
        if (generation != m_previewGeneration)
            return;
        const LoadedPreview loaded = watcher->result();
        m_previewRunId = loaded ? runId : 0;
        if (!loaded || !m_preview->setPreview(*loaded)) {
            m_preview->clear();
            m_preview->hide();
            return;
        }
        const int row = m_table->model()->rowOf(runId);
        const QString name = row >= 0 ? m_table->model()->runs().at(row).name : QString::number(runId);
        m_preview->setTitle(tr("Prediction preview of %1 (#%2)").arg(name).arg(runId));
        m_preview->show();
    });
    watcher->setFuture(QtConcurrent::run([path, runId] { return loadPreview(path, runId); }));
}

} // namespace dr2
