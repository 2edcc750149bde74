#pragma once

#include <QSet>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class QTreeView;

namespace dr2 {

class RunGroupModel;
class RunTableModel;

/// The run table: a filter field over a sortable table of runs (RunTableModel behind a
/// QSortFilterProxyModel), shown grouped by setup in collapsible groups (RunGroupModel in a tree) or flat.
/// Several runs can be selected to overlay their curves; both presentations share one selection.
class RunTableView : public QWidget {
    Q_OBJECT
public:
    /// Creates the view with its own empty model, grouped by setup.
    explicit RunTableView(QWidget* parent = nullptr);

    /// The model holding the runs (fill it with setRuns()/upsertRun()).
    RunTableModel* model() const { return m_model; }
    /// The sort/filter proxy between the model and the flat table.
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    /// The flat table (its selection is the view's selection, also while the grouped tree is shown).
    QTableView* table() const { return m_table; }
    /// The grouped tree.
    QTreeView* tree() const { return m_tree; }
    /// The runs grouped by setup.
    RunGroupModel* groups() const { return m_groups; }
    /// The sort/filter proxy between the groups and the tree.
    QSortFilterProxyModel* groupProxy() const { return m_groupProxy; }
    /// Shows the runs grouped by setup (true, the default) or flat.
    void setGrouped(bool grouped);
    /// True when the runs are shown grouped.
    bool isGrouped() const;
    /// Shows only runs with `text` in any column (case-insensitive; empty shows all).
    void setFilterText(const QString& text);
    /// Ids of the selected runs, in table order.
    QVector<qint64> selectedRunIds() const;
    /// Selects exactly the runs with ids in `runIds` (others deselected); selectionChanged() follows.
    void selectRuns(const QVector<qint64>& runIds);

signals:
    /// The selection changed; `runIds` in table order.
    void selectionChanged(const QVector<qint64>& runIds);
    /// A run was double-clicked (open it).
    void runActivated(qint64 runId);

private:
    void setUpTree();
    void syncTreeFromTable();
    void syncTableFromTree();
    void restoreGroups();

    RunTableModel* m_model = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    RunGroupModel* m_groups = nullptr;
    QSortFilterProxyModel* m_groupProxy = nullptr;
    QTreeView* m_tree = nullptr;
    QLineEdit* m_filter = nullptr;
    QCheckBox* m_grouped = nullptr;
    QSet<QString> m_collapsed; // setup keys the user collapsed
    bool m_syncing = false;
};

} // namespace dr2
