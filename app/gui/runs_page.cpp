#include "app/gui/runs_page.h"

#include "app/gui/run_checkpoint_export.h"
#include "app/gui/run_history.h"
#include "app/gui/session_types.h"
#include "app/recording/run_preview.h"
#include "storage/run_store.h"
#include "widgets/loss_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"
#include "widgets/segmentation_preview.h"
#include "widgets/table2_view.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

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
    m_table = new RunTableView(this);
    m_table2 = new Table2View(this);
    m_comparison = new LossView(this);
    m_comparison->setTitle(tr("Loss of the selected runs"));
    m_preview = new SegmentationPreview(this);
    m_preview->hide();

    auto* top = new QHBoxLayout;
    top->addWidget(m_label, 1);
    top->addWidget(m_exportButton);
    top->addWidget(refresh);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(m_table2);
    bottom->addWidget(m_comparison);
    bottom->addWidget(m_preview);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(bottom);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(refresh, &QPushButton::clicked, this, &RunsPage::reload);
    connect(m_table, &RunTableView::selectionChanged, this, [this] {
        m_exportButton->setEnabled(!m_table->selectedRunIds().isEmpty());
        overlaySelected();
    });
    connect(m_exportButton, &QPushButton::clicked, this, &RunsPage::exportSelectedWithDialog);
    reload();
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
    m_table->model()->setRuns(runs);
    m_table2->setRuns(runs);
    m_label->setText(m_error.isEmpty()
            ? tr("%1 — %n run(s)", nullptr, runs.size()).arg(m_databasePath)
            : tr("%1 — error: %2").arg(m_databasePath, m_error));
    m_label->setStyleSheet(m_error.isEmpty() ? QString() : QStringLiteral("color: #c0392b;"));
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

void RunsPage::overlaySelected()
{
    m_comparison->clearOverlays();
    const QVector<qint64> ids = m_table->selectedRunIds();
    showPreviewOf(ids.isEmpty() ? 0 : ids.first());
    if (ids.isEmpty() || !QFileInfo::exists(m_databasePath)) {
        m_comparison->refresh();
        return;
    }
    // The plot's evaluation axis names the selected runs' primary metric (mIoU for segmentation), not always top-1.
    const int first = m_table->model()->rowOf(ids.first());
    if (first >= 0) {
        const RunSummary& run = m_table->model()->runs().at(first);
        bool shared = true;
        for (qint64 id : ids) {
            const int row = m_table->model()->rowOf(id);
            shared = shared && (row < 0 || m_table->model()->runs().at(row).primaryMetric == run.primaryMetric);
        }
        m_comparison->setPrimaryMetric(shared ? run.primaryLabel : tr("primary metric"), run.primaryIsFraction);
    }
    try {
        RunStore store(m_databasePath.toStdString(), /*createIfMissing=*/false);
        for (qint64 id : ids) {
            const int row = m_table->model()->rowOf(id);
            const QString name = row >= 0 ? m_table->model()->runs().at(row).name : QString::number(id);
            for (const auto& [series, samples] : RunHistory::series(store, id))
                if (series == LossView::kSeriesLoss)
                    m_comparison->setOverlay(QStringLiteral("%1 (#%2)").arg(name).arg(id), samples);
        }
    } catch (const std::exception& e) {
        m_error = QString::fromUtf8(e.what());
        m_label->setText(tr("%1 — error: %2").arg(m_databasePath, m_error));
    }
    m_comparison->refresh();
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
