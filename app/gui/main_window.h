#pragma once

#include "app/gui/session_types.h"
#include "widgets/plot_view.h"

#include <QMainWindow>

#include <functional>

class QAction;
class QLabel;
class QSystemTrayIcon;
class QTabWidget;

namespace dr2 {

class CheckpointPanel;
class LivePage;
class LogPanel;
class RunConfigPanel;
class RunsPage;
class StudiesPage;
class SweepSession;
class TrainingSession;

/// The workbench window: tabs for the checkpoint, the run config, the live plots and the recorded runs, a
/// log dock, run actions with shortcuts, a status bar (device, memory, ETA) and notifications. Pages and
/// panels are their own classes; this class only wires them. Geometry, dock state and the database are
/// restored with QSettings.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    /// Creates the window recording into `databasePath` (empty: the last one used, else RunStore's default).
    explicit MainWindow(const QString& databasePath = QString(), QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Asks a yes/no question (title, text); true for yes. The default shows a QMessageBox; tests inject answers.
    using ConfirmFunction = std::function<bool(const QString& title, const QString& text)>;

    /// Starts a run with the config panel's config; false with a message (also shown) when it cannot.
    bool startRun(QString* error = nullptr);
    /// What the Start action does: when the config's strategy needs a pretrained network and no checkpoint is set,
    /// asks to confirm first (confirm()); then startRun(). False when declined (`error` says so) or it cannot start.
    bool requestStart(QString* error = nullptr);
    /// Replaces the confirmation dialog (tests answer it; null restores the QMessageBox).
    void setConfirmFunction(ConfirmFunction confirm);
    /// Pretrains the starter checkpoint (firstrun::starterPretrainConfig) as a recorded run of the session, written
    /// beside the run database; when it finishes, the checkpoint is opened on the Checkpoint page (and so set as the
    /// config's model.checkpoint). False with a message when a run is going or the folder cannot be made.
    bool startStarterPretrain(QString* error = nullptr);
    /// Use the short starter (16 iterations) instead of the full one (tests, a first look).
    void setQuickStarter(bool quick) { m_quickStarter = quick; }
    /// Switches the session and the runs page to the run database at `path` (remembered in QSettings).
    void setDatabase(const QString& path);
    /// Pauses or resumes the run.
    void togglePause();
    /// Stops the run.
    void stopRun();
    /// Writes every live plot into `folder` (created when missing) as loss/memory/coefficients/heatmap/
    /// branch_error (and heatmap_bf16 while the second heatmap is shown) .png, .pdf and .svg at `size`, and .csv
    /// with `range`, and a segmentation run's prediction preview as preview .png, .pdf and .svg; the paths written
    /// go to `written`. False with one line per failed file in `error` (what was written stays).
    bool exportPlotsTo(const QString& folder, const QSize& size, PlotView::CsvRange range,
        QStringList* written = nullptr, QString* error = nullptr);
    /// Shows a notification (tray message when a tray exists, else the status bar); also logged.
    void notify(const QString& title, const QString& text);

    /// The pages, for tests.
    CheckpointPanel* checkpointPanel() const { return m_checkpoint; }
    /// The run config form.
    RunConfigPanel* configPanel() const { return m_config; }
    /// The live plots.
    LivePage* livePage() const { return m_live; }
    /// The runs table page.
    RunsPage* runsPage() const { return m_runs; }
    /// The studies page.
    StudiesPage* studiesPage() const { return m_studies; }
    /// The log dock's panel.
    LogPanel* logPanel() const { return m_log; }
    /// The training front end.
    TrainingSession* session() const { return m_session; }
    /// The sweep front end.
    SweepSession* sweeps() const { return m_sweeps; }
    /// The tabs.
    QTabWidget* tabs() const { return m_tabs; }
    /// The last notification shown.
    QString lastNotification() const { return m_lastNotification; }
    /// The status bar's text about the run (memory and ETA).
    QString runStatusText() const;

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void createActions();
    void connectSession();
    void openDatabase();
    void exportPlots();
    void onProgress(const RunProgress& progress);
    void onFinished(const RunFinishedInfo& info);
    void finishStarter(const RunFinishedInfo* info, const QString& failure);
    void connectFirstRun();
    void showConventionalReference(const QString& configJson);
    void updateActions();

    TrainingSession* m_session = nullptr;
    SweepSession* m_sweeps = nullptr;
    QTabWidget* m_tabs = nullptr;
    CheckpointPanel* m_checkpoint = nullptr;
    RunConfigPanel* m_config = nullptr;
    LivePage* m_live = nullptr;
    RunsPage* m_runs = nullptr;
    StudiesPage* m_studies = nullptr;
    LogPanel* m_log = nullptr;
    QLabel* m_deviceLabel = nullptr;
    QLabel* m_memoryLabel = nullptr;
    QLabel* m_etaLabel = nullptr;
    QSystemTrayIcon* m_tray = nullptr;
    QAction* m_startAction = nullptr;
    QAction* m_pauseAction = nullptr;
    QAction* m_stopAction = nullptr;
    QString m_lastNotification;
    ConfirmFunction m_confirm;
    QString m_starterOutput; ///< set while the starter pretraining runs: the checkpoint it writes
    bool m_quickStarter = false;
};

} // namespace dr2
