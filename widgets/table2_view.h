#pragma once

#include "widgets/table2_summary.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace dr2 {

/// The "Table 2" view: final top-1 accuracy and peak memory per strategy (the paper's Table 2 rows), with
/// each strategy's memory relative to conventional finetuning.
class Table2View : public QWidget {
    Q_OBJECT
public:
    /// The columns, in order.
    enum Column { Strategy, FinishedRuns, FinalTop1, PeakMemory, VsConventional, Setup, ColumnCount };

    /// Creates an empty table.
    explicit Table2View(QWidget* parent = nullptr);

    /// Rebuilds the table from `runs` (see summarizeTable2()); the Setup column is shown only when the rows come
    /// from more than one setup.
    void setRuns(const QVector<RunSummary>& runs);
    /// The rows shown.
    const QVector<Table2Row>& rows() const { return m_rows; }
    /// The table widget.
    QTableWidget* table() const { return m_table; }
    /// Writes the rows as CSV (strategy,finished_runs,run_id,final_top1,peak_bytes,memory_vs_conventional,setup;
    /// the setup quoted).
    /// Returns false with a message naming the file on failure.
    bool exportCsv(const QString& path, QString* error = nullptr) const;

private:
    QVector<Table2Row> m_rows;
    QTableWidget* m_table = nullptr;
    QLabel* m_caption = nullptr;
};

} // namespace dr2
