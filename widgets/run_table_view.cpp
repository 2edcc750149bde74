#include "widgets/run_table_view.h"

#include "widgets/run_group_model.h"
#include "widgets/run_table_model.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHash>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>

namespace dr2 {

RunTableView::RunTableView(QWidget* parent)
    : QWidget(parent)
    , m_model(new RunTableModel(this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_table(new QTableView(this))
    , m_groups(new RunGroupModel(m_model, this))
    , m_groupProxy(new QSortFilterProxyModel(this))
    , m_tree(new QTreeView(this))
    , m_filter(new QLineEdit(this))
    , m_grouped(new QCheckBox(tr("Group by setup"), this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(RunTableModel::kSortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setDynamicSortFilter(true);

    m_filter->setPlaceholderText(tr("Filter runs: name, strategy, status, model or tag"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setFilterFixedString(text);
        m_groupProxy->setFilterFixedString(text);
    });
    m_grouped->setToolTip(tr("Runs of the same model, task and data in one collapsible group"));
    m_grouped->setChecked(true);
    connect(m_grouped, &QCheckBox::toggled, this, &RunTableView::setGrouped);

    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(RunTableModel::Name, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        if (!m_syncing)
            syncTreeFromTable();
        emit selectionChanged(selectedRunIds());
    });
    connect(m_table, &QTableView::doubleClicked, this,
        [this](const QModelIndex& index) { emit runActivated(index.data(RunTableModel::kRunIdRole).toLongLong()); });
    setUpTree();

    auto* top = new QHBoxLayout;
    top->addWidget(m_filter, 1);
    top->addWidget(m_grouped);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(top);
    layout->addWidget(m_table);
    layout->addWidget(m_tree);
    setGrouped(true);
}

void RunTableView::setUpTree()
{
    m_groupProxy->setSourceModel(m_groups);
    m_groupProxy->setSortRole(RunTableModel::kSortRole);
    m_groupProxy->setFilterKeyColumn(-1);
    m_groupProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_groupProxy->setRecursiveFilteringEnabled(true);
    m_groupProxy->setDynamicSortFilter(true);
    m_tree->setModel(m_groupProxy);
    m_tree->setSortingEnabled(true);
    m_tree->sortByColumn(RunTableModel::Name, Qt::AscendingOrder);
    m_tree->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_tree->setAlternatingRowColors(true);
    m_tree->setUniformRowHeights(true); // 500 runs scroll smoothly
    m_tree->header()->setStretchLastSection(true);
    connect(m_tree->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        if (!m_syncing)
            syncTableFromTree();
    });
    connect(m_tree, &QTreeView::doubleClicked, this, [this](const QModelIndex& index) {
        if (const qint64 id = index.siblingAtColumn(0).data(RunTableModel::kRunIdRole).toLongLong())
            emit runActivated(id);
    });
    connect(m_tree, &QTreeView::collapsed, this,
        [this](const QModelIndex& index) { m_collapsed.insert(index.data(RunGroupModel::kGroupKeyRole).toString()); });
    connect(m_tree, &QTreeView::expanded, this,
        [this](const QModelIndex& index) { m_collapsed.remove(index.data(RunGroupModel::kGroupKeyRole).toString()); });
    connect(m_groups, &RunGroupModel::rebuilt, this, &RunTableView::restoreGroups);
    restoreGroups();
}

void RunTableView::restoreGroups()
{
    const QSet<QString> collapsed = m_collapsed; // expanding below would forget them
    for (int g = 0; g < m_groupProxy->rowCount(); ++g) {
        const QModelIndex group = m_groupProxy->index(g, 0);
        m_tree->setFirstColumnSpanned(g, QModelIndex(), true);
        m_tree->setExpanded(group, !collapsed.contains(group.data(RunGroupModel::kGroupKeyRole).toString()));
    }
    m_collapsed = collapsed;
    m_tree->resizeColumnToContents(0);
    syncTreeFromTable();
}

void RunTableView::setGrouped(bool grouped)
{
    m_grouped->setChecked(grouped);
    m_tree->setVisible(grouped);
    m_table->setVisible(!grouped);
}

bool RunTableView::isGrouped() const
{
    return m_grouped->isChecked();
}

void RunTableView::setFilterText(const QString& text)
{
    m_filter->setText(text);
}

QVector<qint64> RunTableView::selectedRunIds() const
{
    QVector<qint64> ids;
    QModelIndexList rows = m_table->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    for (const QModelIndex& index : rows)
        ids << index.data(RunTableModel::kRunIdRole).toLongLong();
    return ids;
}

void RunTableView::selectRuns(const QVector<qint64>& runIds)
{
    QItemSelection selection;
    for (qint64 id : runIds) {
        const int row = m_model->rowOf(id);
        const QModelIndex index = row >= 0 ? m_proxy->mapFromSource(m_model->index(row, 0)) : QModelIndex();
        if (index.isValid())
            selection.select(index, index);
    }
    m_table->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void RunTableView::syncTreeFromTable()
{
    const QVector<qint64> ids = selectedRunIds();
    const QSet<qint64> wanted(ids.begin(), ids.end());
    QItemSelection selection;
    for (int g = 0; g < m_groupProxy->rowCount(); ++g) {
        const QModelIndex group = m_groupProxy->index(g, 0);
        for (int r = 0; r < m_groupProxy->rowCount(group); ++r) {
            const QModelIndex run = m_groupProxy->index(r, 0, group);
            if (wanted.contains(run.data(RunTableModel::kRunIdRole).toLongLong()))
                selection.select(run, run);
        }
    }
    m_syncing = true;
    m_tree->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_syncing = false;
}

void RunTableView::syncTableFromTree()
{
    QVector<qint64> ids;
    for (const QModelIndex& index : m_tree->selectionModel()->selectedRows()) {
        if (const qint64 id = index.data(RunTableModel::kRunIdRole).toLongLong())
            ids << id;
    }
    m_syncing = true;
    selectRuns(ids);
    m_syncing = false;
}

} // namespace dr2
