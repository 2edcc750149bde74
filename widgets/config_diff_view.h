#pragma once

#include "widgets/config_diff.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace dr2 {

/// The config diff of the selected runs: one row per dotted config key whose value differs, one column per run;
/// an empty state asks for two or more runs, or says the configs are identical. Exports PNG/PDF/SVG and CSV.
class ConfigDiffView : public QWidget {
    Q_OBJECT
public:
    /// Creates the view in its empty state.
    explicit ConfigDiffView(QWidget* parent = nullptr);

    /// Shows the diff of the runs named `runs` with config JSON texts `configs` (same length).
    void setRuns(const QStringList& runs, const QStringList& configs);
    /// The diff shown.
    const ConfigDiff& diff() const { return m_diff; }
    /// The empty-state text shown now (empty while the table is shown).
    QString emptyText() const;
    /// The table.
    QTableWidget* table() const { return m_table; }

    /// Writes the view as PNG, PDF or SVG (by suffix) at `size`; false with one line in `error`.
    bool exportImage(const QString& path, const QSize& size, QString* error = nullptr);
    /// Writes the diff as CSV (key, then one column per run); false with one line in `error`.
    bool exportCsv(const QString& path, QString* error = nullptr) const;

private:
    ConfigDiff m_diff;
    QLabel* m_empty = nullptr;
    QTableWidget* m_table = nullptr;
};

} // namespace dr2
