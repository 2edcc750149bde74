#pragma once

#include "widgets/run_summary.h"

#include <QString>
#include <QVector>
#include <QWidget>

class QLabel;
class QPushButton;

namespace dr2 {

class LossView;
class RunTableView;
class SegmentationPreview;
class Table2View;

/// The runs page: every recorded run of the database in a sortable, filterable table, the "Table 2" summary
/// per strategy, the loss curves of the selected runs overlaid for comparison, the last prediction preview of the
/// first selected run when it recorded one (segmentation), and "Export checkpoint…" of the selected run's finetuned
/// weights (the CLI's export, on a worker thread).
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
    /// The comparison plot (loss of the selected runs).
    LossView* comparison() const { return m_comparison; }
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

signals:
    /// A checkpoint export ended: `ok`, and the written file or the error (one line).
    void checkpointExported(bool ok, const QString& pathOrError);

private:
    void overlaySelected();
    void showPreviewOf(qint64 runId);
    void showRuns(const QVector<RunSummary>& runs, const QString& error);

    QString m_databasePath;
    QString m_error;
    QLabel* m_label = nullptr;
    RunTableView* m_table = nullptr;
    Table2View* m_table2 = nullptr;
    LossView* m_comparison = nullptr;
    SegmentationPreview* m_preview = nullptr;
    QPushButton* m_exportButton = nullptr;
    quint64 m_generation = 0; // of the newest reload
    quint64 m_previewGeneration = 0; // of the newest preview read
    qint64 m_previewRunId = 0;
};

} // namespace dr2
