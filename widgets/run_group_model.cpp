#include "widgets/run_group_model.h"

#include "widgets/run_table_model.h"

#include <QFont>

#include <map>

namespace dr2 {

RunGroupModel::RunGroupModel(RunTableModel* source, QObject* parent)
    : QStandardItemModel(parent)
    , m_source(source)
{
    connect(source, &QAbstractItemModel::modelReset, this, &RunGroupModel::rebuild);
    connect(source, &QAbstractItemModel::rowsInserted, this, &RunGroupModel::rebuild);
    connect(source, &QAbstractItemModel::rowsRemoved, this, &RunGroupModel::rebuild);
    connect(source, &QAbstractItemModel::dataChanged, this, &RunGroupModel::rebuild);
    rebuild();
}

namespace {

    QList<QStandardItem*> runRow(const RunTableModel& source, int row)
    {
        QList<QStandardItem*> items;
        for (int column = 0; column < RunTableModel::ColumnCount; ++column) {
            const QModelIndex index = source.index(row, column);
            auto* item = new QStandardItem(index.data(Qt::DisplayRole).toString());
            item->setEditable(false);
            for (int role : { int(Qt::ToolTipRole), RunTableModel::kSortRole, RunTableModel::kRunIdRole,
                     int(Qt::TextAlignmentRole), int(Qt::ForegroundRole) })
                item->setData(index.data(role), role);
            items << item;
        }
        return items;
    }

} // namespace

void RunGroupModel::rebuild()
{
    clear();
    setColumnCount(RunTableModel::ColumnCount);
    for (int column = 0; column < RunTableModel::ColumnCount; ++column)
        setHeaderData(column, Qt::Horizontal, m_source->headerData(column, Qt::Horizontal));
    std::map<QString, QList<int>> groups; // setup key -> source rows
    const auto& runs = m_source->runs();
    for (int row = 0; row < runs.size(); ++row)
        groups[runs[row].groupKey()] << row;
    for (const auto& [key, rows] : groups) {
        const QString setup = runs[rows.front()].setup;
        auto* group = new QStandardItem(tr("%1 — %n run(s)", nullptr, int(rows.size()))
                                            .arg(setup.isEmpty() ? tr("unknown setup") : setup));
        group->setEditable(false);
        group->setSelectable(false);
        QFont bold = group->font();
        bold.setBold(true);
        group->setFont(bold);
        group->setData(key, kGroupKeyRole);
        group->setData(qint64 { 0 }, RunTableModel::kRunIdRole);
        group->setData(setup.toLower(), RunTableModel::kSortRole);
        group->setToolTip(setup);
        for (int row : rows)
            group->appendRow(runRow(*m_source, row));
        QList<QStandardItem*> cells { group };
        for (int column = 1; column < RunTableModel::ColumnCount; ++column) {
            auto* cell = new QStandardItem; // sorts groups by their setup in every column
            cell->setEditable(false);
            cell->setSelectable(false);
            cell->setData(setup.toLower(), RunTableModel::kSortRole);
            cells << cell;
        }
        appendRow(cells);
    }
    emit rebuilt();
}

QModelIndex RunGroupModel::indexOfRun(qint64 runId) const
{
    for (int g = 0; g < rowCount(); ++g) {
        const QStandardItem* group = item(g);
        for (int r = 0; r < group->rowCount(); ++r) {
            if (group->child(r)->data(RunTableModel::kRunIdRole).toLongLong() == runId)
                return group->child(r)->index();
        }
    }
    return {};
}

} // namespace dr2
