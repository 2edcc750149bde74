#pragma once

#include <QVector>
#include <QWidget>

class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace dr2 {

class RunTableModel;

/// The run table: a filter field over a sortable table of runs (RunTableModel behind a
/// QSortFilterProxyModel). Several runs can be selected to overlay their curves.
class RunTableView : public QWidget {
    Q_OBJECT
public:
    /// Creates the view with its own empty model.
    explicit RunTableView(QWidget* parent = nullptr);

    /// The model holding the runs (fill it with setRuns()/upsertRun()).
    RunTableModel* model() const { return m_model; }
    /// The sort/filter proxy between the model and the table.
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    /// The table widget.
    QTableView* table() const { return m_table; }
    /// Shows only runs with `text` in any column (case-insensitive; empty shows all).
    void setFilterText(const QString& text);
    /// Ids of the selected runs, in table order.
    QVector<qint64> selectedRunIds() const;

signals:
    /// The selection changed; `runIds` in table order.
    void selectionChanged(const QVector<qint64>& runIds);
    /// A run was double-clicked (open it).
    void runActivated(qint64 runId);

private:
    RunTableModel* m_model = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    QLineEdit* m_filter = nullptr;
};

} // namespace dr2
