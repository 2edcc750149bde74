#include "app/gui/main_window.h"

#include "app/gui/checkpoint_panel.h"
#include "app/gui/export_dialog.h"
#include "app/gui/first_run.h"
#include "app/gui/live_page.h"
#include "app/gui/log_panel.h"
#include "app/gui/run_history.h"
#include "app/gui/run_config_panel.h"
#include "app/gui/runs_page.h"
#include "app/gui/studies_page.h"
#include "app/gui/sweep_session.h"
#include "app/gui/training_session.h"
#include "storage/run_store.h"
#include "widgets/memory_view.h"
#include "widgets/plot_view.h"
#include "widgets/segmentation_preview.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace dr2 {

MainWindow::MainWindow(const QString& databasePath, QWidget* parent)
    : QMainWindow(parent)
{
    setWindowTitle(tr("Dr²Net Workbench"));
    setObjectName(QStringLiteral("MainWindow"));
    QSettings settings;
    QString database = databasePath;
    if (database.isEmpty())
        database = settings.value(QStringLiteral("database")).toString();
    if (database.isEmpty())
        database = QString::fromStdString(RunStore::defaultPath());

    m_session = new TrainingSession(this);
    m_session->setDatabasePath(database);
    m_sweeps = new SweepSession(this);
    m_checkpoint = new CheckpointPanel(this);
    m_config = new RunConfigPanel(this);
    // A new user's first Start must end in minutes, not hours: the first-run finetune, not TrainConfig's defaults.
    m_config->setConfigJson(QString::fromStdString(firstrun::defaultFinetuneConfig().dump()));
    m_live = new LivePage(m_session, m_sweeps, this);
    m_live->setConfigProvider([this] { return m_config->configJson(); });
    m_runs = new RunsPage(database, this);
    m_studies = new StudiesPage(database, this);
    m_log = new LogPanel(this);

    m_tabs = new QTabWidget(this);
    m_tabs->addTab(m_checkpoint, tr("&Checkpoint"));
    m_tabs->addTab(m_config, tr("Con&figure"));
    m_tabs->addTab(m_live, tr("&Live"));
    m_tabs->addTab(m_runs, tr("R&uns"));
    m_tabs->addTab(m_studies, tr("&Studies"));
    setCentralWidget(m_tabs);
    auto* dock = new QDockWidget(tr("Log"), this);
    dock->setObjectName(QStringLiteral("logDock"));
    dock->setWidget(m_log);
    addDockWidget(Qt::BottomDockWidgetArea, dock);

    m_deviceLabel = new QLabel(tr("device: cpu"), this);
    m_memoryLabel = new QLabel(this);
    m_etaLabel = new QLabel(this);
    statusBar()->addPermanentWidget(m_deviceLabel);
    statusBar()->addPermanentWidget(m_memoryLabel);
    statusBar()->addPermanentWidget(m_etaLabel);
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new QSystemTrayIcon(windowIcon(), this);
        m_tray->show();
    }

    createActions();
    connectSession();
    connect(m_checkpoint, &CheckpointPanel::checkpointOpened, this, [this](const CheckpointInspection& inspection) {
        m_config->setValue(QStringLiteral("model.checkpoint"), inspection.path.toStdString());
        m_log->appendLine(QStringLiteral("info"), tr("checkpoint %1 opened").arg(inspection.path));
    });
    connect(m_live, &LivePage::sweepFailed, this, [this](const QString& message) {
        notify(tr("Heatmap sweep failed"), message);
    });
    connect(m_config, &RunConfigPanel::configChanged, this, [this] { updateActions(); });
    connect(m_studies, &StudiesPage::compareRequested, this, [this](const QVector<qint64>& runIds) {
        m_runs->reload(); // the study's newest runs must be in the table to be selected
        m_runs->selectRuns(runIds);
        m_tabs->setCurrentWidget(m_runs);
    });
    connect(m_studies, &StudiesPage::studyFinished, m_runs, &RunsPage::reloadInBackground);
    connectFirstRun();

    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry")))
        resize(1400, 900);
    updateActions();
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open checkpoint…"), m_checkpoint, &CheckpointPanel::openWithDialog);
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("&Load config…"), m_config, &RunConfigPanel::loadWithDialog)
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    file->addAction(tr("&Save config…"), m_config, &RunConfigPanel::saveWithDialog)->setShortcut(QKeySequence::Save);
    file->addAction(tr("Open run &database…"), this, &MainWindow::openDatabase);
    file->addAction(tr("&Export plots…"), this, &MainWindow::exportPlots)->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    file->addSeparator();
    file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    m_startAction = run->addAction(tr("&Start"), this, [this] { requestStart(); });
    m_startAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_pauseAction = run->addAction(tr("&Pause / resume"), this, &MainWindow::togglePause);
    m_pauseAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    m_stopAction = run->addAction(tr("S&top"), this, &MainWindow::stopRun);
    m_stopAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    run->addSeparator();
    run->addAction(tr("Heatmap s&weep"), this, [this] {
        QString error;
        if (!m_live->startSweep(&error))
            notify(tr("Heatmap sweep"), error);
        else
            m_tabs->setCurrentWidget(m_live);
    });
    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (int i = 0; i < m_tabs->count(); ++i) {
        QAction* page = view->addAction(m_tabs->tabText(i).remove(QLatin1Char('&')), this,
            [this, i] { m_tabs->setCurrentIndex(i); });
        page->setShortcut(QKeySequence(Qt::ALT | Qt::Key(Qt::Key_1 + i)));
    }
    view->addAction(tr("&Refresh runs"), m_runs, &RunsPage::reload)->setShortcut(QKeySequence::Refresh);

    QToolBar* toolbar = addToolBar(tr("Run"));
    toolbar->setObjectName(QStringLiteral("runToolbar"));
    toolbar->addAction(open);
    toolbar->addAction(m_startAction);
    toolbar->addAction(m_pauseAction);
    toolbar->addAction(m_stopAction);
}

void MainWindow::connectSession()
{
    connect(m_session, &TrainingSession::started, this, [this](const RunStartedInfo& info) {
        m_deviceLabel->setText(tr("device: %1").arg(info.device));
        m_log->appendLine(QStringLiteral("info"),
            tr("run '%1' (%2): %3, %4 iterations").arg(info.name, info.strategy, info.modelSummary).arg(info.totalIterations));
        m_runs->reloadInBackground();
    });
    connect(m_session, &TrainingSession::progress, this, &MainWindow::onProgress);
    connect(m_session, &TrainingSession::evaluated, this, [this](const EvaluationInfo& e) {
        QStringList parts;
        for (auto it = e.metrics.constBegin(); it != e.metrics.constEnd(); ++it)
            parts << QStringLiteral("%1 %2").arg(it.key()).arg(it.value(), 0, 'g', 4);
        m_log->appendLine(QStringLiteral("info"), tr("evaluation at %1: %2").arg(e.iteration).arg(parts.join(QStringLiteral(", "))));
    });
    connect(m_session, &TrainingSession::segmentChanged, this, [this](const SegmentInfo& s) {
        m_log->appendLine(QStringLiteral("info"), tr("segment length %1 at iteration %2 (MSE %3)")
                                                      .arg(s.segmentLength).arg(s.iteration).arg(s.measuredMse, 0, 'g', 3));
    });
    connect(m_session, &TrainingSession::logMessage, m_log, &LogPanel::appendLine);
    connect(m_session, &TrainingSession::pausedChanged, this, [this] { updateActions(); });
    connect(m_session, &TrainingSession::nanDetected, this, [this](qint64 iteration) {
        notify(tr("NaN in training"), tr("the loss became NaN/Inf at iteration %1").arg(iteration));
    });
    connect(m_session, &TrainingSession::finished, this, &MainWindow::onFinished);
    connect(m_session, &TrainingSession::failed, this, [this](const QString& message) {
        notify(tr("Run failed"), message);
        QTimer::singleShot(0, this, &MainWindow::updateActions);
        m_runs->reloadInBackground();
    });
}

bool MainWindow::startRun(QString* error)
{
    QString message;
    if (!m_config->isValid())
        message = m_config->validationMessage();
    else if (!m_session->start(m_config->configJson(), &message))
        ; // message set
    else {
        m_log->clear();
        m_log->appendLine(QStringLiteral("info"), tr("starting run"));
        showConventionalReference(m_config->configJson());
        m_tabs->setCurrentWidget(m_live);
        updateActions();
        return true;
    }
    if (error)
        *error = message;
    notify(tr("Cannot start run"), message);
    return false;
}

bool MainWindow::requestStart(QString* error)
{
    if (firstrun::startsWithoutPretrained(m_config->configJson())) {
        const QString text = tr("This strategy finetunes a pretrained network, but no checkpoint is set: the run "
                                "would start from random weights (for dr2net that is \"reversible from scratch\").\n\n"
                                "Open a checkpoint or pretrain a starter one on the Checkpoint page first.\n\n"
                                "Start from random weights anyway?");
        const bool yes = m_confirm ? m_confirm(tr("No pretrained checkpoint"), text)
                                   : QMessageBox::question(this, tr("No pretrained checkpoint"), text,
                                         QMessageBox::Yes | QMessageBox::No, QMessageBox::No)
                == QMessageBox::Yes;
        if (!yes) {
            if (error)
                *error = tr("not started: no pretrained checkpoint");
            m_tabs->setCurrentWidget(m_checkpoint);
            return false;
        }
    }
    return startRun(error);
}

void MainWindow::setConfirmFunction(ConfirmFunction confirm)
{
    m_confirm = std::move(confirm);
}

void MainWindow::connectFirstRun()
{
    connect(m_checkpoint, &CheckpointPanel::starterPretrainRequested, this, [this] {
        QString error;
        if (!startStarterPretrain(&error))
            notify(tr("Starter checkpoint"), error);
    });
    connect(m_checkpoint, &CheckpointPanel::demoDatabaseRequested, this, [this](const QString& path) {
        setDatabase(path);
        m_tabs->setCurrentWidget(m_runs);
    });
    connect(m_session, &TrainingSession::failed, this, [this](const QString& message) { finishStarter(nullptr, message); });
    const QString demo = QString::fromStdString(RunStore::defaultPath());
    if (QFileInfo::exists(demo))
        m_checkpoint->setDemoDatabase(demo);
}

bool MainWindow::startStarterPretrain(QString* error)
{
    const QString output = firstrun::starterCheckpointPath(m_session->databasePath());
    QString message;
    if (!QDir().mkpath(QFileInfo(output).absolutePath()))
        message = tr("cannot create the folder '%1'").arg(QFileInfo(output).absolutePath());
    else if (m_session->start(
                 QString::fromStdString(firstrun::starterPretrainConfig(output, m_quickStarter).dump()), &message)) {
        m_starterOutput = output;
        m_checkpoint->setStarterStatus(tr("pretraining… (progress on the Live page; writes %1)").arg(output), true);
        m_log->clear();
        m_log->appendLine(QStringLiteral("info"), tr("pretraining the starter checkpoint %1").arg(output));
        m_tabs->setCurrentWidget(m_live);
        updateActions();
        return true;
    }
    if (error)
        *error = message;
    return false;
}

void MainWindow::finishStarter(const RunFinishedInfo* info, const QString& failure)
{
    if (m_starterOutput.isEmpty())
        return;
    const QString output = m_starterOutput;
    m_starterOutput.clear();
    if (!info || info->end != RunEnd::Finished) {
        m_checkpoint->setStarterStatus(
            info ? tr("the starter pretraining was %1").arg(info->status) : tr("the starter pretraining failed: %1").arg(failure),
            false);
        return;
    }
    m_checkpoint->setStarterStatus(tr("done in %1 s: %2 %3; opened below")
                                       .arg(info->seconds, 0, 'f', 0)
                                       .arg(info->primaryLabel.isEmpty() ? info->primaryMetric : info->primaryLabel)
                                       .arg(info->primaryIsFraction ? QString::number(100.0 * info->finalPrimary, 'f', 1) + QStringLiteral(" %")
                                                                    : QString::number(info->finalPrimary, 'g', 4)),
        false);
    m_checkpoint->openFile(output);
    m_tabs->setCurrentWidget(m_checkpoint);
}

void MainWindow::setDatabase(const QString& path)
{
    m_session->setDatabasePath(path);
    m_runs->setDatabasePath(path);
    m_studies->setDatabasePath(path);
    QSettings().setValue(QStringLiteral("database"), path);
}

void MainWindow::showConventionalReference(const QString& configJson)
{
    // The saving is the point: show the peak of a finished conventional run of the same model, resolution and
    // batch size. The database is read on a worker; a newer run's lookup supersedes this one.
    MemoryView* memory = m_live->memoryView();
    memory->setReferencePeak(-1);
    const QString database = m_runs->databasePath();
    if (!QFileInfo::exists(database))
        return;
    using Lookup = std::optional<RunHistory::Reference>;
    const quint64 generation = m_session->generation();
    auto* watcher = new QFutureWatcher<Lookup>(this);
    connect(watcher, &QFutureWatcher<Lookup>::finished, this, [this, watcher, generation, memory] {
        watcher->deleteLater();
        const Lookup reference = watcher->result();
        if (!reference || generation != m_session->generation())
            return;
        memory->setReferencePeak(reference->peakBytes, tr("conventional peak (%1, #%2)").arg(reference->name).arg(reference->runId));
        m_log->appendLine(QStringLiteral("info"), tr("memory reference: conventional run #%1 peaked at %2")
                                                      .arg(reference->runId).arg(MemoryView::formatBytes(double(reference->peakBytes))));
    });
    const std::string config = configJson.toStdString();
    watcher->setFuture(QtConcurrent::run([database, config]() -> Lookup {
        try {
            RunStore store(database.toStdString(), /*createIfMissing=*/false);
            return RunHistory::conventionalReference(store, config);
        } catch (const std::exception&) {
            return std::nullopt; // no reference line; the runs page shows database errors
        }
    }));
}

void MainWindow::togglePause()
{
    if (m_session->isPaused())
        m_session->resume();
    else
        m_session->pause();
}

void MainWindow::stopRun()
{
    m_session->stop();
}

void MainWindow::notify(const QString& title, const QString& text)
{
    m_lastNotification = title + QStringLiteral(": ") + text;
    m_log->appendLine(QStringLiteral("info"), m_lastNotification);
    if (m_tray && m_tray->isVisible() && QSystemTrayIcon::supportsMessages())
        m_tray->showMessage(title, text);
    else
        statusBar()->showMessage(m_lastNotification, 15000);
}

QString MainWindow::runStatusText() const
{
    return m_memoryLabel->text() + QStringLiteral(" | ") + m_etaLabel->text();
}

void MainWindow::onProgress(const RunProgress& p)
{
    const QString rss = p.rssBytes >= 0 ? tr(", process RSS %1").arg(MemoryView::formatBytes(double(p.rssBytes))) : QString();
    m_memoryLabel->setText(tr("tensors %1 (peak %2)%3").arg(MemoryView::formatBytes(double(p.currentBytes)),
        MemoryView::formatBytes(double(p.peakBytes)), rss));
    const double remaining = double(std::max<qint64>(0, p.totalIterations - p.iteration)) * p.secondsPerIteration;
    m_etaLabel->setText(tr("iteration %1/%2, ETA %3 s").arg(p.iteration).arg(p.totalIterations).arg(remaining, 0, 'f', 0));
}

void MainWindow::onFinished(const RunFinishedInfo& info)
{
    if (info.end == RunEnd::Finished)
        notify(tr("Run finished"), tr("%1 iterations, best %2 %3, %4 s")
                                       .arg(info.iterations)
                                       .arg(info.primaryLabel.isEmpty() ? info.primaryMetric : info.primaryLabel)
                                       .arg(info.primaryIsFraction ? QString::number(100.0 * info.bestPrimary, 'f', 1) + QStringLiteral(" %")
                                                                   : QString::number(info.bestPrimary, 'g', 4))
                                       .arg(info.seconds, 0, 'f', 1));
    else if (info.end == RunEnd::Cancelled)
        m_log->appendLine(QStringLiteral("info"), tr("run stopped after %1 iterations").arg(info.iterations));
    // "failed" is notified through failed().
    if (info.end != RunEnd::Failed)
        finishStarter(&info, QString());
    m_runs->reloadInBackground();
    // The session marks itself idle right after finished(): update once that has happened.
    QTimer::singleShot(0, this, &MainWindow::updateActions);
}

void MainWindow::updateActions()
{
    const bool running = m_session->isRunning();
    m_startAction->setEnabled(!running && m_config->isValid());
    m_pauseAction->setEnabled(running);
    m_pauseAction->setText(m_session->isPaused() ? tr("&Resume") : tr("&Pause"));
    m_stopAction->setEnabled(running);
}

void MainWindow::openDatabase()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Run database"), m_runs->databasePath(),
        tr("SQLite (*.sqlite *.db);;All files (*)"), nullptr, QFileDialog::DontConfirmOverwrite);
    if (path.isEmpty())
        return;
    setDatabase(path);
}

void MainWindow::exportPlots()
{
    QSettings settings;
    ExportDialog dialog(settings.value(QStringLiteral("export/folder"), QDir::homePath()).toString(), this);
    dialog.setChoices(dialog.folder(), settings.value(QStringLiteral("export/size"), QSize(1200, 800)).toSize(),
        PlotView::CsvRange(settings.value(QStringLiteral("export/csvRange"), int(PlotView::CsvRange::Full)).toInt()));
    if (dialog.exec() != QDialog::Accepted)
        return;
    settings.setValue(QStringLiteral("export/folder"), dialog.folder());
    settings.setValue(QStringLiteral("export/size"), dialog.imageSize());
    settings.setValue(QStringLiteral("export/csvRange"), int(dialog.csvRange()));
    QString error;
    if (exportPlotsTo(dialog.folder(), dialog.imageSize(), dialog.csvRange(), nullptr, &error))
        notify(tr("Export"), tr("plots written to %1").arg(dialog.folder()));
    else
        QMessageBox::warning(this, tr("Export"), error);
}

bool MainWindow::exportPlotsTo(
    const QString& folder, const QSize& size, PlotView::CsvRange range, QStringList* written, QString* error)
{
    if (!QDir().mkpath(folder)) {
        if (error)
            *error = tr("export: cannot create the folder '%1'").arg(folder);
        return false;
    }
    const QStringList names = m_live->plotNames();
    const QList<PlotView*> plots = m_live->plots();
    QStringList failures;
    for (int i = 0; i < plots.size() && i < names.size(); ++i) {
        QString message;
        const QString base = QDir(folder).filePath(names[i]);
        for (const char* suffix : { "png", "pdf", "svg" }) {
            const QString path = base + QLatin1Char('.') + QLatin1String(suffix);
            if (plots[i]->exportImage(path, size, &message)) {
                if (written)
                    *written << path;
            } else {
                failures << message;
            }
        }
        const QString csv = base + QStringLiteral(".csv");
        if (plots[i]->exportCsv(csv, range, &message)) {
            if (written)
                *written << csv;
        } else {
            failures << message;
        }
    }
    // The prediction preview of a segmentation run, as pictures only (it has no series for a CSV).
    const SegmentationPreview* preview = m_live->previewView();
    if (m_live->showsPreview() && preview->hasPreview()) {
        for (const char* suffix : { "png", "pdf", "svg" }) {
            QString message;
            const QString path = QDir(folder).filePath(QStringLiteral("preview.") + QLatin1String(suffix));
            if (preview->exportImage(path, size, &message)) {
                if (written)
                    *written << path;
            } else {
                failures << message;
            }
        }
    }
    if (error)
        *error = failures.join(QLatin1Char('\n'));
    return failures.isEmpty();
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("database"), m_runs->databasePath());
    m_session->stop();
    m_sweeps->cancel();
    m_studies->stop();
    QMainWindow::closeEvent(event);
}

} // namespace dr2
