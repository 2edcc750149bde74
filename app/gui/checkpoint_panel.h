#pragma once

#include "app/gui/checkpoint_inspection.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QProgressBar;
class QSpinBox;
class QTableWidget;
template <typename T>
class QFutureWatcher;

namespace dr2 {

/// The checkpoint page: open a file (dialog, drag and drop, recent files), see the `inspect` summary or the
/// loader's error. The file is read on a worker thread (QtConcurrent) while a busy indicator shows, so a
/// large checkpoint never blocks the window; when several opens overlap, only the newest one's result is shown.
/// Never throws; a broken file shows its message in red.
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

public slots:
    /// Asks for a file with a dialog and opens it.
    void openWithDialog();

signals:
    /// A checkpoint was read successfully (the config panel takes its path and resolution).
    void checkpointOpened(const dr2::CheckpointInspection& inspection);
    /// The inspection of the newest opened file ended (successfully or with the loader's error).
    void inspectionFinished(const dr2::CheckpointInspection& inspection);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
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
    int m_pending = 0; // inspections still running (older ones finish but are not shown)
    quint64 m_generation = 0; // of the newest openFile()
};

} // namespace dr2
