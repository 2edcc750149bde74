#pragma once

#include <QString>
#include <QWidget>

class QLabel;

namespace dr2 {

class LossView;
class RunTableView;
class Table2View;

/// The runs page: every recorded run of the database in a sortable, filterable table, the "Table 2" summary
/// per strategy, and the loss curves of the selected runs overlaid for comparison.
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
    /// The last error reading the database (empty when fine).
    QString errorText() const { return m_error; }

public slots:
    /// Reads the runs again; true on success (a missing database is an empty list).
    bool reload();

private:
    void overlaySelected();

    QString m_databasePath;
    QString m_error;
    QLabel* m_label = nullptr;
    RunTableView* m_table = nullptr;
    Table2View* m_table2 = nullptr;
    LossView* m_comparison = nullptr;
};

} // namespace dr2
