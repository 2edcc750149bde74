#pragma once

#include <QProcess>
#include <QString>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTextBrowser;

namespace dr2 {

struct StudyPageData;

/// The studies page: pick a study spec (a built-in one or a file), see its planned runs and where each stands in
/// the run database, run what is left as a `dr2net-cli study --json` child process (progress, ETA, Stop = SIGINT so
/// every run saves a checkpoint), and read the per-level tables and the paper claims' verdicts. "Compare in Runs"
/// hands the finished runs to the runs page; "Save report…" writes the study report (ReportRenderer::renderStudy).
/// The spec and the database are read on a worker thread; a newer read supersedes an older one.
class StudiesPage : public QWidget {
    Q_OBJECT
public:
    /// Creates the page for the database at `databasePath`.
    explicit StudiesPage(const QString& databasePath, QWidget* parent = nullptr);
    /// Interrupts a study still running (its runs checkpoint) and waits for it a little.
    ~StudiesPage() override;

    /// The dr2net-cli the page runs: $DR2_CLI when set, else dr2net-cli beside this program, else the build
    /// tree's ../cli/dr2net-cli; empty when none exists.
    static QString cliPath();

    /// Switches to another database and re-reads the study's state.
    void setDatabasePath(const QString& path);
    /// The database the study records into.
    QString databasePath() const { return m_databasePath; }
    /// Picks the spec file `path` (added to the spec picker); the statuses are read again.
    void setSpecFile(const QString& path);
    /// The spec picked: a built-in name or a file path.
    QString spec() const;
    /// Uses the spec's quick profile or not.
    void setQuick(bool quick);
    /// Runs trained at once.
    void setWorkers(int workers);
    /// The study's folder (beside the database); empty until the spec is read.
    QString studyDirectory() const { return m_studyDir; }

    /// Starts `dr2net-cli study` for the picked spec; false with a message (also shown) when it cannot.
    bool start(QString* error = nullptr);
    /// Interrupts the study: SIGINT, so every run saves a checkpoint and stops (a rerun resumes them).
    void stop();
    /// A study process is running.
    bool isRunning() const;
    /// Reads the spec and the run database again on a worker thread; statusesLoaded() follows.
    void refresh();
    /// Writes the study report (ReportRenderer::renderStudy) to `outPath`; false with one line in `error`.
    bool saveReport(const QString& outPath, QString* error = nullptr);
    /// Asks for a file name and saves the report there.
    void saveReportWithDialog();

    /// The planned runs: levels, seed, state, run id, best primary metric.
    QTableWidget* runTable() const { return m_table; }
    /// The summary (tables and claims) as Markdown.
    QTextBrowser* summaryView() const { return m_summary; }
    /// Finished runs / runs, with the running runs' fractions.
    QProgressBar* progressBar() const { return m_progress; }
    /// The one-line status (what runs, the outcome, errors).
    QString statusText() const;
    /// The ETA label's text.
    QString etaText() const;
    /// Runs the last study process started (run_started events, the pretraining included).
    int runsStarted() const { return m_runsStarted; }
    /// The recorded ids of the study's finished runs, in plan order.
    QVector<qint64> finishedRunIds() const { return m_finishedIds; }
    /// The last read error (empty when fine).
    QString errorText() const { return m_error; }

signals:
    /// The study process started.
    void studyStarted();
    /// The study process ended with `exitCode` (0 all finished, 3 interrupted, 4 some failed, other: an error, -1
    /// crashed or could not start); the table and summary already show the database after it.
    void studyFinished(int exitCode);
    /// A read of the spec and the database is shown.
    void statusesLoaded();
    /// "Compare in Runs": the study's finished runs.
    void compareRequested(const QVector<qint64>& runIds);

private:
    void onSpecPicked(int index);
    void onStdout();
    void onStderr();
    void onEvent(const QByteArray& line);
    void onProcessFinished(int exitCode, QProcess::ExitStatus status);
    void showData(const StudyPageData& data);
    void setStatus(const QString& text, bool error = false);
    void updateButtons();
    void updateProgress(double finished, int runs);
    QString specArgument() const;

    QString m_databasePath;
    QString m_studyDir;
    QString m_error;
    QComboBox* m_specs = nullptr;
    QCheckBox* m_quick = nullptr;
    QSpinBox* m_workers = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_report = nullptr;
    QLabel* m_description = nullptr;
    QLabel* m_folder = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_eta = nullptr;
    QProgressBar* m_progress = nullptr;
    QTableWidget* m_table = nullptr;
    QTextBrowser* m_summary = nullptr;
    QPlainTextEdit* m_log = nullptr;
    QProcess* m_process = nullptr;
    QByteArray m_stdoutBuffer;
    QByteArray m_stderrBuffer;
    QString m_lastStderr;
    quint64 m_generation = 0; // of the newest read
    int m_runsStarted = 0;
    int m_failedRuns = 0;
    int m_totalRuns = 0;
    bool m_stopping = false;
    int m_pendingExit = 0; // set when the process ended: studyFinished() follows the next read
    bool m_exitPending = false;
    int m_lastSpecIndex = 0;
    QVector<qint64> m_finishedIds;
};

} // namespace dr2
