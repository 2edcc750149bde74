#include "widgets/table2_summary.h"

#include <QCoreApplication>
#include <QStringList>

#include <algorithm>
#include <limits>
#include <map>

namespace dr2 {

namespace {

    const QStringList& paperOrder()
    {
        static const QStringList kOrder
            = { QStringLiteral("conventional"), QStringLiteral("checkpointed"), QStringLiteral("frozen"),
                  QStringLiteral("reversible-scratch"), QStringLiteral("hard-finetune"), QStringLiteral("vanilla"),
                  QStringLiteral("dr2net") };
        return kOrder;
    }

    // Missing values rank last whichever way the metric points.
    bool better(const RunSummary& a, const RunSummary& b)
    {
        const double worst
            = a.higherIsBetter ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        const double ta = a.finalPrimary.value_or(worst);
        const double tb = b.finalPrimary.value_or(worst);
        if (ta != tb)
            return a.higherIsBetter ? ta > tb : ta < tb;
        const qint64 ma = a.peakBytes.value_or(std::numeric_limits<qint64>::max());
        const qint64 mb = b.peakBytes.value_or(std::numeric_limits<qint64>::max());
        return ma < mb;
    }

} // namespace

QString strategyDisplayName(const QString& strategy)
{
    if (strategy == QLatin1String("conventional"))
        return QCoreApplication::translate("dr2", "Conventional finetuning");
    if (strategy == QLatin1String("checkpointed"))
        return QCoreApplication::translate("dr2", "Conventional, checkpointed (recompute per segment)");
    if (strategy == QLatin1String("frozen"))
        return QCoreApplication::translate("dr2", "Frozen backbone");
    if (strategy == QLatin1String("reversible-scratch"))
        return QCoreApplication::translate("dr2", "Reversible from scratch");
    if (strategy == QLatin1String("hard-finetune"))
        return QCoreApplication::translate("dr2", "Hard finetune (α=0, β=1)");
    if (strategy == QLatin1String("vanilla"))
        return QCoreApplication::translate("dr2", "Vanilla (α=1, β=0.1)");
    if (strategy == QLatin1String("dr2net"))
        return QCoreApplication::translate("dr2", "Dr²Net (dynamic α/β)");
    return strategy;
}

QStringList table2Setups(const QVector<Table2Row>& rows)
{
    QStringList keys;
    QStringList setups;
    for (const Table2Row& row : rows)
        if (!keys.contains(row.setupKey)) {
            keys << row.setupKey;
            setups << row.setup;
        }
    return setups;
}

QString table2PrimaryMetric(const QVector<Table2Row>& rows)
{
    if (rows.isEmpty())
        return QStringLiteral("top1");
    for (const Table2Row& row : rows)
        if (row.primaryMetric != rows.front().primaryMetric)
            return {};
    return rows.front().primaryMetric;
}

QVector<Table2Row> summarizeTable2(const QVector<RunSummary>& runs)
{
    QStringList setups; // keys, in order of first appearance
    std::map<std::pair<QString, QString>, std::pair<const RunSummary*, int>> best; // (setup key, strategy)
    for (const RunSummary& run : runs) {
        if (run.status != QLatin1String("finished") || !run.finalPrimary)
            continue;
        const QString key = run.groupKey();
        if (!setups.contains(key))
            setups << key;
        auto& slot = best[{ key, run.strategy }];
        ++slot.second;
        if (!slot.first || better(run, *slot.first))
            slot.first = &run;
    }
    QVector<Table2Row> rows;
    for (const auto& [key, entry] : best) {
        const RunSummary& run = *entry.first;
        Table2Row row;
        row.setup = run.setup;
        row.setupKey = key.first;
        row.strategy = key.second;
        row.finishedRuns = entry.second;
        row.runId = run.id;
        row.primaryMetric = run.primaryMetric;
        row.primaryLabel = run.primaryLabel;
        row.higherIsBetter = run.higherIsBetter;
        row.primaryIsFraction = run.primaryIsFraction;
        row.finalPrimary = run.finalPrimary;
        row.peakBytes = run.peakBytes;
        rows.append(row);
    }
    auto rank = [](const QString& strategy) {
        const int position = static_cast<int>(paperOrder().indexOf(strategy));
        return position < 0 ? static_cast<int>(paperOrder().size()) : position;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Table2Row& a, const Table2Row& b) {
        const qsizetype sa = setups.indexOf(a.setupKey), sb = setups.indexOf(b.setupKey);
        if (sa != sb)
            return sa < sb;
        const int ra = rank(a.strategy), rb = rank(b.strategy);
        return ra != rb ? ra < rb : a.strategy < b.strategy;
    });
    for (const QString& setup : setups) {
        const auto conventional = std::find_if(rows.begin(), rows.end(), [&setup](const Table2Row& row) {
            return row.setupKey == setup && row.strategy == QLatin1String("conventional");
        });
        if (conventional == rows.end() || !conventional->peakBytes || *conventional->peakBytes <= 0)
            continue;
        const double reference = static_cast<double>(*conventional->peakBytes);
        for (Table2Row& row : rows)
            if (row.setupKey == setup && row.peakBytes)
                row.memoryVsConventional = static_cast<double>(*row.peakBytes) / reference;
    }
    return rows;
}

} // namespace dr2
