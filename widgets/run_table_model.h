#pragma once

#include "widgets/run_summary.h"

#include <QAbstractTableModel>
#include <QVector>

namespace dr2 {

/// Table model over RunSummary values: name, strategy, status, model, best value of the primary metric (top-1
/// for classification), peak memory, time, tags.
/// DisplayRole gives formatted text; kSortRole gives raw numbers so a QSortFilterProxyModel sorts 9 % below
/// 10 % and 900 MiB below 1.2 GiB; kRunIdRole gives the run id on every cell.
class RunTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    /// The columns, in order.
    enum Column { Name, Strategy, Status, Model, BestPrimary, PeakMemory, Time, Tags, ColumnCount };
    /// Role with the raw value to sort by (numbers for numeric columns; missing values sort first).
    static constexpr int kSortRole = Qt::UserRole + 1;
    /// Role with the run id (qint64).
    static constexpr int kRunIdRole = Qt::UserRole + 2;

    /// Creates an empty model.
    explicit RunTableModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Replaces every run.
    void setRuns(const QVector<RunSummary>& runs);
    /// Updates the run with the same id in place, or appends it.
    void upsertRun(const RunSummary& run);
    /// Removes the run with `id` (no-op when absent).
    void removeRun(qint64 id);
    /// Every run, in model order.
    const QVector<RunSummary>& runs() const { return m_runs; }
    /// Row of the run with `id`, -1 when absent.
    int rowOf(qint64 id) const;
    /// The primary metric every run shares, for people ("top-1"); empty when the runs' metrics differ (then each
    /// Best cell names its metric). "top-1" when there are no runs.
    QString commonPrimaryLabel() const;
    /// Formats seconds as "42.0 s", "3 min 05 s" or "2 h 03 min".
    static QString formatDuration(double seconds);

private:
    QVector<RunSummary> m_runs;
};

} // namespace dr2
