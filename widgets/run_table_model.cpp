#include "widgets/run_table_model.h"

#include "widgets/memory_view.h"

#include <QColor>
#include <QPalette>

#include <cmath>
#include <limits>

namespace dr2 {

RunTableModel::RunTableModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

int RunTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_runs.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString RunTableModel::formatDuration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("?");
    if (seconds < 60.0)
        return QStringLiteral("%1 s").arg(seconds, 0, 'f', 1);
    const qint64 whole = static_cast<qint64>(std::llround(seconds));
    if (whole < 3600)
        return QStringLiteral("%1 min %2 s").arg(whole / 60).arg(whole % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(whole / 3600).arg((whole % 3600) / 60, 2, 10, QLatin1Char('0'));
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= m_runs.size())
        return {};
    const RunSummary& run = m_runs[index.row()];
    const int column = index.column();
    if (role == kRunIdRole)
        return run.id;
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        switch (column) {
        case Name:
            return run.name;
        case Strategy:
            return run.strategy;
        case Status:
            return run.status;
        case Model:
            return run.worldSize > 1 ? tr("%1 · %2 ranks").arg(run.model).arg(run.worldSize) : run.model;
        case BestPrimary: {
            if (!run.bestPrimary)
                return QString();
            const QString value = formatMetricValue(run.bestPrimary, run.primaryIsFraction);
            return commonPrimaryLabel().isEmpty() ? QStringLiteral("%1 %2").arg(value, run.primaryLabel) : value;
        }
        case PeakMemory:
            return run.peakBytes ? MemoryView::formatBytes(static_cast<double>(*run.peakBytes)) : QString();
        case Time:
            return run.seconds ? formatDuration(*run.seconds) : QString();
        case Tags:
            return run.tags.join(QStringLiteral(", "));
        default:
            return {};
        }
    }
    if (role == kSortRole) {
        switch (column) {
        case BestPrimary:
            return run.bestPrimary ? QVariant(*run.bestPrimary) : QVariant(std::numeric_limits<double>::lowest());
        case PeakMemory:
            return run.peakBytes ? QVariant(*run.peakBytes) : QVariant(qint64 { -1 });
        case Time:
            return run.seconds ? QVariant(*run.seconds) : QVariant(-1.0);
        default:
            return data(index, Qt::DisplayRole).toString().toLower();
        }
    }
    if (role == Qt::TextAlignmentRole) {
        if (column == BestPrimary || column == PeakMemory || column == Time)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
    }
    if (role == Qt::ForegroundRole && column == Status) {
        if (run.status == QLatin1String("failed"))
            return QColor(200, 40, 40);
        if (run.status == QLatin1String("interrupted") || run.status == QLatin1String("cancelled"))
            return QColor(190, 120, 0);
    }
    return {};
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Name:
        return tr("Name");
    case Strategy:
        return tr("Strategy");
    case Status:
        return tr("Status");
    case Model:
        return tr("Model");
    case BestPrimary: {
        const QString label = commonPrimaryLabel();
        return label.isEmpty() ? tr("Best") : tr("Best %1").arg(label);
    }
    case PeakMemory:
        return tr("Peak memory");
    case Time:
        return tr("Time");
    case Tags:
        return tr("Tags");
    default:
        return {};
    }
}

QString RunTableModel::commonPrimaryLabel() const
{
    if (m_runs.isEmpty())
        return QStringLiteral("top-1");
    for (const RunSummary& run : m_runs)
        if (run.primaryMetric != m_runs.front().primaryMetric)
            return {};
    return m_runs.front().primaryLabel;
}

void RunTableModel::setRuns(const QVector<RunSummary>& runs)
{
    beginResetModel();
    m_runs = runs;
    endResetModel();
}

int RunTableModel::rowOf(qint64 id) const
{
    for (int row = 0; row < m_runs.size(); ++row) {
        if (m_runs[row].id == id)
            return row;
    }
    return -1;
}

void RunTableModel::upsertRun(const RunSummary& run)
{
    const QString label = commonPrimaryLabel();
    const int row = rowOf(run.id);
    if (row >= 0) {
        m_runs[row] = run;
        emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
    } else {
        const int end = static_cast<int>(m_runs.size());
        beginInsertRows(QModelIndex(), end, end);
        m_runs.append(run);
        endInsertRows();
    }
    if (commonPrimaryLabel() != label) { // a run of another task: the Best column names each metric now
        emit headerDataChanged(Qt::Horizontal, BestPrimary, BestPrimary);
        emit dataChanged(index(0, BestPrimary), index(static_cast<int>(m_runs.size()) - 1, BestPrimary));
    }
}

void RunTableModel::removeRun(qint64 id)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    const QString label = commonPrimaryLabel();
    beginRemoveRows(QModelIndex(), row, row);
    m_runs.removeAt(row);
    endRemoveRows();
    if (commonPrimaryLabel() != label && !m_runs.isEmpty()) {
        emit headerDataChanged(Qt::Horizontal, BestPrimary, BestPrimary);
        emit dataChanged(index(0, BestPrimary), index(static_cast<int>(m_runs.size()) - 1, BestPrimary));
    }
}

} // namespace dr2
