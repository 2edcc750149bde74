#pragma once

#include <QJsonValue>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QVector>

namespace dr2 {

/// The leaves of a JSON object under dotted keys ("optim.lr", "model.depth"); arrays are leaves. Text that
/// is not a JSON object flattens to nothing.
QMap<QString, QJsonValue> flattenJson(const QString& jsonText);

/// A leaf value for tables: numbers as the shortest exact text, strings as they are, arrays as compact JSON,
/// a missing value (undefined) as "–".
QString configValueText(const QJsonValue& value);

/// The config keys whose values differ among runs (missing counts as a value), with each run's value.
struct ConfigDiff {
    QStringList runs; ///< run names, in the order given
    QStringList keys; ///< differing dotted keys, in name order
    QVector<QVector<QJsonValue>> values; ///< values[k][r]: key k of run r (undefined when missing)

    /// The diff of `configs` (JSON texts) of the runs named `runs` (same length).
    static ConfigDiff of(const QStringList& runs, const QStringList& configs);
    /// Cell text of key `k` for run `r`.
    QString text(int k, int r) const { return configValueText(values[k][r]); }
    /// The diff as CSV: a "key" column, then one column per run; fields quoted where needed.
    QString toCsv() const;
};

/// Quotes `field` for CSV when it holds a comma, a quote or a line break (RFC 4180).
QString csvField(const QString& field);

} // namespace dr2
