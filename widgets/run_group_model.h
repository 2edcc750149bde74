#pragma once

#include <QStandardItemModel>

namespace dr2 {

class RunTableModel;

/// The runs of a RunTableModel grouped by setup (RunSummary::groupKey()) as a two-level tree for a QTreeView:
/// one row per setup ("setup — n runs", its key under kGroupKeyRole), the runs below it with the run table's
/// columns, display text, sort values (RunTableModel::kSortRole) and run ids (RunTableModel::kRunIdRole; 0 on
/// group rows). Follows the source model: rebuilt whenever its runs change.
class RunGroupModel : public QStandardItemModel {
    Q_OBJECT
public:
    /// Role of a group row's setup key.
    static constexpr int kGroupKeyRole = Qt::UserRole + 10;

    /// Creates the tree over `source` (not owned; must outlive this model).
    explicit RunGroupModel(RunTableModel* source, QObject* parent = nullptr);

    /// Number of setups (groups).
    int groupCount() const { return rowCount(); }
    /// The index (column 0) of run `runId`, invalid when absent.
    QModelIndex indexOfRun(qint64 runId) const;
    /// Builds the tree again from the source model.
    void rebuild();

signals:
    /// The tree was rebuilt (views restore expansion and selection).
    void rebuilt();

private:
    RunTableModel* m_source = nullptr;
};

} // namespace dr2
