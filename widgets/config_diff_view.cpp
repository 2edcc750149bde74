#include "widgets/config_diff_view.h"

#include "widgets/widget_picture.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace dr2 {

ConfigDiffView::ConfigDiffView(QWidget* parent)
    : QWidget(parent)
    , m_empty(new QLabel(this))
    , m_table(new QTableWidget(this))
{
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_empty);
    layout->addWidget(m_table, 1);
    setRuns({}, {});
}

void ConfigDiffView::setRuns(const QStringList& runs, const QStringList& configs)
{
    m_diff = ConfigDiff::of(runs, configs);
    // Sized once after filling: a header that resizes to its contents on every label costs O(runs²) for 500 runs.
    m_table->setUpdatesEnabled(false);
    m_table->clear();
    m_table->setRowCount(int(m_diff.keys.size()));
    m_table->setColumnCount(int(m_diff.runs.size()));
    m_table->setHorizontalHeaderLabels(m_diff.runs);
    m_table->setVerticalHeaderLabels(m_diff.keys);
    for (int k = 0; k < m_diff.keys.size(); ++k) {
        for (int r = 0; r < m_diff.runs.size(); ++r)
            m_table->setItem(k, r, new QTableWidgetItem(m_diff.text(k, r)));
    }
    m_table->resizeColumnsToContents();
    m_table->setUpdatesEnabled(true);
    const QString empty = emptyText();
    m_empty->setText(empty);
    m_empty->setVisible(!empty.isEmpty());
    m_table->setVisible(empty.isEmpty());
}

QString ConfigDiffView::emptyText() const
{
    if (m_diff.runs.size() < 2)
        return tr("Select two or more runs to compare their configs");
    if (m_diff.keys.isEmpty())
        return tr("The selected runs have identical configs");
    return {};
}

bool ConfigDiffView::exportImage(const QString& path, const QSize& size, QString* error)
{
    return exportWidgetPicture(this, path, size, tr("Config diff of %n run(s)", nullptr, int(m_diff.runs.size())), error);
}

bool ConfigDiffView::exportCsv(const QString& path, QString* error) const
{
    return exportText(path, m_diff.toCsv(), error);
}

} // namespace dr2
