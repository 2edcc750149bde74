#include "app/gui/runs_page.h"

#include "app/gui/run_history.h"
#include "storage/run_store.h"
#include "widgets/loss_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"
#include "widgets/table2_view.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

namespace dr2 {

RunsPage::RunsPage(const QString& databasePath, QWidget* parent)
    : QWidget(parent)
    , m_databasePath(databasePath)
{
    m_label = new QLabel(this);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* refresh = new QPushButton(tr("Refresh"), this);
    m_table = new RunTableView(this);
    m_table2 = new Table2View(this);
    m_comparison = new LossView(this);
    m_comparison->setTitle(tr("Loss of the selected runs"));

    auto* top = new QHBoxLayout;
    top->addWidget(m_label, 1);
    top->addWidget(refresh);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(m_table2);
    bottom->addWidget(m_comparison);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(bottom);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(refresh, &QPushButton::clicked, this, &RunsPage::reload);
    connect(m_table, &RunTableView::selectionChanged, this, [this] { overlaySelected(); });
    reload();
}

void RunsPage::setDatabasePath(const QString& path)
{
    m_databasePath = path;
    reload();
}

bool RunsPage::reload()
{
    m_error.clear();
    QVector<RunSummary> runs;
    if (QFileInfo::exists(m_databasePath)) {
        try {
            RunStore store(m_databasePath.toStdString(), /*createIfMissing=*/false);
            runs = RunHistory::summaries(store);
        } catch (const std::exception& e) {
            m_error = QString::fromUtf8(e.what());
        }
    }
    m_table->model()->setRuns(runs);
    m_table2->setRuns(runs);
    m_label->setText(m_error.isEmpty()
            ? tr("%1 — %n run(s)", nullptr, runs.size()).arg(m_databasePath)
            : tr("%1 — error: %2").arg(m_databasePath, m_error));
    m_label->setStyleSheet(m_error.isEmpty() ? QString() : QStringLiteral("color: #c0392b;"));
    return m_error.isEmpty();
}

void RunsPage::overlaySelected()
{
    m_comparison->clearOverlays();
    const QVector<qint64> ids = m_table->selectedRunIds();
    if (ids.isEmpty() || !QFileInfo::exists(m_databasePath)) {
        m_comparison->refresh();
        return;
    }
    try {
        RunStore store(m_databasePath.toStdString(), /*createIfMissing=*/false);
        for (qint64 id : ids) {
            const int row = m_table->model()->rowOf(id);
            const QString name = row >= 0 ? m_table->model()->runs().at(row).name : QString::number(id);
            for (const auto& [series, samples] : RunHistory::series(store, id))
                if (series == LossView::kSeriesLoss)
                    m_comparison->setOverlay(QStringLiteral("%1 (#%2)").arg(name).arg(id), samples);
        }
    } catch (const std::exception& e) {
        m_error = QString::fromUtf8(e.what());
        m_label->setText(tr("%1 — error: %2").arg(m_databasePath, m_error));
    }
    m_comparison->refresh();
}

} // namespace dr2
