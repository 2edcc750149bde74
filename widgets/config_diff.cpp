#include "widgets/config_diff.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace dr2 {

namespace {

    void flattenInto(const QJsonObject& object, const QString& prefix, QMap<QString, QJsonValue>& out)
    {
        for (auto it = object.begin(); it != object.end(); ++it) {
            const QString key = prefix.isEmpty() ? it.key() : prefix + QLatin1Char('.') + it.key();
            if (it.value().isObject())
                flattenInto(it.value().toObject(), key, out);
            else
                out.insert(key, it.value());
        }
    }

} // namespace

QMap<QString, QJsonValue> flattenJson(const QString& jsonText)
{
    QMap<QString, QJsonValue> out;
    const QJsonDocument document = QJsonDocument::fromJson(jsonText.toUtf8());
    if (document.isObject())
        flattenInto(document.object(), QString(), out);
    return out;
}

QString configValueText(const QJsonValue& value)
{
    switch (value.type()) {
    case QJsonValue::Undefined:
        return QStringLiteral("–");
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double:
        return QString::number(value.toDouble(), 'g', 15);
    case QJsonValue::String:
        return value.toString();
    case QJsonValue::Array:
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact));
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
    }
    return {};
}

ConfigDiff ConfigDiff::of(const QStringList& runs, const QStringList& configs)
{
    ConfigDiff diff;
    diff.runs = runs;
    QVector<QMap<QString, QJsonValue>> flat;
    QMap<QString, bool> keys; // ordered union of every run's keys
    for (const QString& config : configs) {
        flat.push_back(flattenJson(config));
        for (auto it = flat.back().cbegin(); it != flat.back().cend(); ++it)
            keys.insert(it.key(), true);
    }
    for (auto it = keys.cbegin(); it != keys.cend(); ++it) {
        QVector<QJsonValue> row;
        bool differs = false;
        for (const auto& run : flat) {
            row.push_back(run.value(it.key(), QJsonValue(QJsonValue::Undefined)));
            differs = differs || row.back() != row.front();
        }
        if (differs) {
            diff.keys << it.key();
            diff.values.push_back(row);
        }
    }
    return diff;
}

QString csvField(const QString& field)
{
    if (!field.contains(QLatin1Char(',')) && !field.contains(QLatin1Char('"')) && !field.contains(QLatin1Char('\n')))
        return field;
    QString quoted = field;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString ConfigDiff::toCsv() const
{
    QStringList header { QStringLiteral("key") };
    for (const QString& run : runs)
        header << csvField(run);
    QString out = header.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (int k = 0; k < keys.size(); ++k) {
        QStringList row { csvField(keys[k]) };
        for (int r = 0; r < runs.size(); ++r)
            row << csvField(text(k, r));
        out += row.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

} // namespace dr2
