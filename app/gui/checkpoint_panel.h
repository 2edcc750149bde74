#pragma once

#include "app/gui/checkpoint_inspection.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QSpinBox;
class QTableWidget;

namespace dr2 {

/// The checkpoint page: open a file (dialog, drag and drop, recent files), see the `inspect` summary or the
/// loader's error. Never throws; a broken file shows its message in red.
class CheckpointPanel : public QWidget {
    Q_OBJECT
public:
    /// Recent files kept (QSettings key "checkpoints/recent").
    static constexpr int kMaxRecent = 8;
    /// Creates the panel with the recent files from QSettings.
    explicit CheckpointPanel(QWidget* parent = nullptr);
    /// Inspects `path` and shows the result; true when it could be read as a ViT.
    bool openFile(const QString& path);
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

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void rememberRecent(const QString& path);
    void showInspection();

    CheckpointInspection m_inspection;
    QStringList m_recent;
    QComboBox* m_recentBox = nullptr;
    QSpinBox* m_heads = nullptr;
    QLabel* m_pathLabel = nullptr;
    QLabel* m_error = nullptr;
    QTableWidget* m_table = nullptr;
};

} // namespace dr2
