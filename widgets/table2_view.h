#pragma once

#include "widgets/table2_summary.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace dr2 {

/// The "Table 2" view: the final primary metric (top-1 accuracy for classification) and peak memory per strategy
/// (the paper's Table 2 rows), with each strategy's memory relative to conventional finetuning.
class Table2View : public QWidget {
    Q_OBJECT
public:
    /// The columns, in order.
    enum Column { Strategy, FinishedRuns, FinalPrimary, PeakMemory, VsConventional, Setup, ColumnCount };

    /// Creates an empty table.
    explicit Table2View(QWidget* parent = nullptr);

    /// Rebuilds the table from `runs` (see summarizeTable2()); the Setup column is shown only when the rows come
    /// from more than one setup. The result column is titled by the rows' common primary metric ("Final top-1");
    /// when the rows' metrics differ, each cell names its metric.
    void setRuns(const QVector<RunSummary>& runs);
    /// The rows shown.
    const QVector<Table2Row>& rows() const { return m_rows; }
    /// The table widget.
    QTableWidget* table() const { return m_table; }
    /// Writes the rows as CSV (strategy,finished_runs,run_id,final_top1,peak_bytes,memory_vs_conventional,setup;
    /// the setup quoted). The result column is final_<metric> for the rows' common primary metric; when the
    /// metrics differ it is final_primary, followed by a last column primary_metric.
    /// Returns false with a message naming the file on failure.
    bool exportCsv(const QString& path, QString* error = nullptr) const;

private:
    QVector<Table2Row> m_rows;
    QTableWidget* m_table = nullptr;
    QLabel* m_caption = nullptr;
};

} // namespace dr2
