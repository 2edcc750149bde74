#include "widgets/table2_view.h"

#include "widgets/file_export.h"
#include "widgets/memory_view.h"

#include <QFile>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QTextStream>
#include <QVBoxLayout>

namespace dr2 {

Table2View::Table2View(QWidget* parent)
    : QWidget(parent)
    , m_table(new QTableWidget(0, ColumnCount, this))
    , m_caption(new QLabel(this))
{
    m_table->setHorizontalHeaderLabels(
        { tr("Strategy"), tr("Finished runs"), tr("Final top-1"), tr("Peak memory"), tr("Memory vs conventional"),
            tr("Setup") });
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_caption->setWordWrap(true);
    m_caption->setText(tr("Final result (the task's primary metric, e.g. top-1 accuracy) and peak tensor memory "
                          "per strategy (best finished run of each), compared within runs of the same model, task, "
                          "input and data."));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_caption);
    layout->addWidget(m_table);
}

void Table2View::setRuns(const QVector<RunSummary>& runs)
{
    m_rows = summarizeTable2(runs);
    bool oneMetric = !table2PrimaryMetric(m_rows).isEmpty();
    QString label = m_rows.isEmpty() ? QStringLiteral("top-1") : m_rows.front().primaryLabel;
    if (m_rows.isEmpty() && !runs.isEmpty()) {
        // No finished run yet: the header names the metric the listed runs share (mIoU for segmentation runs).
        label = runs.front().primaryLabel;
        for (const RunSummary& run : runs)
            oneMetric = oneMetric && run.primaryMetric == runs.front().primaryMetric;
    }
    m_table->setHorizontalHeaderItem(
        FinalPrimary, new QTableWidgetItem(oneMetric ? tr("Final %1").arg(label) : tr("Final (primary metric)")));
    m_table->setRowCount(static_cast<int>(m_rows.size()));
    for (int r = 0; r < m_rows.size(); ++r) {
        const Table2Row& row = m_rows[r];
        auto set = [this, r](int column, const QString& text, bool number) {
            auto* item = new QTableWidgetItem(text);
            item->setTextAlignment(number ? (Qt::AlignRight | Qt::AlignVCenter) : (Qt::AlignLeft | Qt::AlignVCenter));
            m_table->setItem(r, column, item);
        };
        set(Strategy, strategyDisplayName(row.strategy), false);
        set(FinishedRuns, QString::number(row.finishedRuns), true);
        QString result = formatMetricValue(row.finalPrimary, row.primaryIsFraction);
        if (!oneMetric && row.finalPrimary)
            result += QStringLiteral(" %1").arg(row.primaryLabel);
        set(FinalPrimary, result, true);
        set(PeakMemory,
            row.peakBytes ? MemoryView::formatBytes(static_cast<double>(*row.peakBytes)) : QStringLiteral("–"), true);
        set(VsConventional,
            row.memoryVsConventional ? QStringLiteral("%1 %").arg(*row.memoryVsConventional * 100.0, 0, 'f', 1)
                                     : QStringLiteral("–"),
            true);
        set(Setup, row.setup.isEmpty() ? QStringLiteral("–") : row.setup, false);
        if (!oneMetric || !row.higherIsBetter)
            m_table->item(r, FinalPrimary)
                ->setToolTip(row.higherIsBetter ? tr("%1: higher is better").arg(row.primaryLabel)
                                                : tr("%1: lower is better").arg(row.primaryLabel));
    }
    m_table->setColumnHidden(Setup, table2Setups(m_rows).size() < 2);
}

bool Table2View::exportCsv(const QString& path, QString* error) const
{
    return writeFileAtomically(
        path,
        [this](const QString& tempPath, QString* cause) {
            QFile file(tempPath);
            if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
                *cause = file.errorString();
                return false;
            }
            QTextStream out(&file);
            const QString metric = table2PrimaryMetric(m_rows);
            out << "strategy,finished_runs,run_id,final_" << (metric.isEmpty() ? QStringLiteral("primary") : metric)
                << ",peak_bytes,memory_vs_conventional,setup" << (metric.isEmpty() ? ",primary_metric" : "") << "\n";
            for (const Table2Row& row : m_rows) {
                out << row.strategy << ',' << row.finishedRuns << ',' << row.runId << ','
                    << (row.finalPrimary ? QString::number(*row.finalPrimary, 'g', 17) : QString()) << ','
                    << (row.peakBytes ? QString::number(*row.peakBytes) : QString()) << ','
                    << (row.memoryVsConventional ? QString::number(*row.memoryVsConventional, 'g', 17) : QString())
                    << ",\"" << QString(row.setup).replace(QLatin1Char('"'), QStringLiteral("\"\"")) << '"';
                if (metric.isEmpty())
                    out << ',' << row.primaryMetric;
                out << "\n";
            }
            out.flush();
            if (out.status() != QTextStream::Ok || !file.flush()) {
                *cause = QStringLiteral("write failed: %1").arg(file.errorString());
                return false;
            }
            return true;
        },
        error);
}

} // namespace dr2
