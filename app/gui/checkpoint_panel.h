#pragma once

#include "app/gui/checkpoint_inspection.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QGroupBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
template <typename T>
class QFutureWatcher;

namespace dr2 {

/// The checkpoint page: open a file (dialog, drag and drop, recent files), see the `inspect` summary or the
/// loader's error. The file is read on a worker thread (QtConcurrent) while a busy indicator shows, so a
/// large checkpoint never blocks the window; when several opens overlap, only the newest one's result is shown.
/// Never throws; a broken file shows its message in red. Until a checkpoint has been read, an empty state offers
/// the ways to get one: open a file, pretrain a starter checkpoint on Fashion-MNIST (the main window runs it), or
/// open the demo's run database when one exists.
class CheckpointPanel : public QWidget {
    Q_OBJECT
public:
    /// Recent files kept (QSettings key "checkpoints/recent").
    static constexpr int kMaxRecent = 8;
    /// Creates the panel with the recent files from QSettings.
    explicit CheckpointPanel(QWidget* parent = nullptr);
    /// Starts inspecting `path` on a worker and shows the result when it arrives (inspectionFinished(), and
    /// checkpointOpened() when a registered backbone family could read it). Returns at once.
    void openFile(const QString& path);
    /// True while an inspection runs.
    bool isBusy() const;
    /// Heads used for checkpoints without metadata (0: infer).
    void setHeadsOverride(int heads);
    /// The last inspection shown.
    const CheckpointInspection& inspection() const { return m_inspection; }
    /// The recent files, newest first.
    QStringList recentFiles() const { return m_recent; }
    /// The summary table (key, value).
    QTableWidget* summaryTable() const { return m_table; }
    /// The error line (empty when the last file was read).
    QString errorText() const;

    /// Shows the "open the demo's run database" choice of the empty state for `path` (empty: hidden).
    void setDemoDatabase(const QString& path);
    /// The line under the starter choice: what the starter pretraining is doing (empty: the default hint); `busy`
    /// disables the button while it runs.
    void setStarterStatus(const QString& text, bool busy);
    /// The starter choice's status line.
    QString starterStatus() const;
    /// True while the empty state (the first-run choices) is shown.
    bool showsEmptyState() const;
    /// The empty state's buttons, for tests: open, pretrain a starter, open the demo's database.
    QPushButton* starterButton() const { return m_starterButton; }
    /// The demo database button (hidden without a demo database).
    QPushButton* demoButton() const { return m_demoButton; }

public slots:
    /// Asks for a file with a dialog and opens it.
    void openWithDialog();

signals:
    /// A checkpoint was read successfully (the config panel takes its path and resolution).
    void checkpointOpened(const dr2::CheckpointInspection& inspection);
    /// The inspection of the newest opened file ended (successfully or with the loader's error).
    void inspectionFinished(const dr2::CheckpointInspection& inspection);
    /// The user chose to pretrain a starter checkpoint.
    void starterPretrainRequested();
    /// The user chose to open the demo's run database at `path`.
    void demoDatabaseRequested(const QString& path);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    QGroupBox* createEmptyState();
    void rememberRecent(const QString& path);
    void showInspection();
    void onInspected(quint64 generation, const CheckpointInspection& inspection);

    CheckpointInspection m_inspection;
    QStringList m_recent;
    QComboBox* m_recentBox = nullptr;
    QSpinBox* m_heads = nullptr;
    QLabel* m_pathLabel = nullptr;
    QLabel* m_error = nullptr;
    QTableWidget* m_table = nullptr;
    QProgressBar* m_busy = nullptr;
    QGroupBox* m_emptyState = nullptr;
    QPushButton* m_starterButton = nullptr;
    QLabel* m_starterStatus = nullptr;
    QPushButton* m_demoButton = nullptr;
    QString m_demoDatabase;
    int m_pending = 0; // inspections still running (older ones finish but are not shown)
    quint64 m_generation = 0; // of the newest openFile()
};

} // namespace dr2
