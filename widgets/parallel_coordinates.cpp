#include "widgets/parallel_coordinates.h"

#include "widgets/config_diff.h"

#include <QJsonValue>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace dr2 {

namespace {

    constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

    /// A numeric axis from optional values: positions scaled into [0, 1] (0.5 when every value is equal).
    ParallelAxis numericAxis(const QString& name, const QVector<std::optional<double>>& values, const QStringList& texts)
    {
        ParallelAxis axis;
        axis.name = name;
        axis.texts = texts;
        bool any = false;
        for (const auto& value : values) {
            if (!value)
                continue;
            axis.low = any ? std::min(axis.low, *value) : *value;
            axis.high = any ? std::max(axis.high, *value) : *value;
            any = true;
        }
        for (const auto& value : values) {
            const double span = axis.high - axis.low;
            axis.positions << (!value ? kMissing : span > 0.0 ? (*value - axis.low) / span : 0.5);
        }
        return axis;
    }

    std::optional<ParallelAxis> configAxis(const ConfigDiff& diff, int k)
    {
        const QVector<QJsonValue>& values = diff.values[k];
        QStringList texts;
        bool numeric = true;
        QVector<std::optional<double>> numbers;
        for (int r = 0; r < values.size(); ++r) {
            texts << diff.text(k, r);
            numeric = numeric && (values[r].isDouble() || values[r].isUndefined());
            numbers << (values[r].isDouble() ? std::optional<double>(values[r].toDouble()) : std::nullopt);
        }
        if (numeric)
            return numericAxis(diff.keys[k], numbers, texts);
        ParallelAxis axis;
        axis.name = diff.keys[k];
        axis.categorical = true;
        axis.texts = texts;
        for (int r = 0; r < values.size(); ++r) {
            if (!values[r].isUndefined() && !axis.categories.contains(texts[r]))
                axis.categories << texts[r];
        }
        if (axis.categories.size() > kMaxCategories)
            return std::nullopt;
        std::sort(axis.categories.begin(), axis.categories.end());
        const double last = std::max<qsizetype>(1, axis.categories.size() - 1);
        for (int r = 0; r < values.size(); ++r) {
            const qsizetype index = values[r].isUndefined() ? -1 : axis.categories.indexOf(texts[r]);
            axis.positions << (index < 0 ? kMissing : axis.categories.size() == 1 ? 0.5 : double(index) / last);
        }
        return axis;
    }

} // namespace

QVector<ParallelAxis> parallelAxes(const QVector<RunSummary>& runs)
{
    QVector<ParallelAxis> axes;
    if (runs.size() >= 2) {
        QStringList names, configs;
        for (const RunSummary& run : runs) {
            names << run.name;
            configs << run.configJson;
        }
        const ConfigDiff diff = ConfigDiff::of(names, configs);
        for (int k = 0; k < diff.keys.size(); ++k) {
            if (auto axis = configAxis(diff, k))
                axes << *axis;
        }
    }
    QVector<std::optional<double>> primary, peak;
    QStringList primaryTexts, peakTexts;
    for (const RunSummary& run : runs) {
        primary << run.finalPrimary;
        primaryTexts << formatMetricValue(run.finalPrimary, run.primaryIsFraction);
        const std::optional<double> mib
            = run.peakBytes ? std::optional<double>(double(*run.peakBytes) / (1024.0 * 1024.0)) : std::nullopt;
        peak << mib;
        peakTexts << (mib ? QString::number(*mib, 'f', 1) : QStringLiteral("–"));
    }
    const QString label = runs.isEmpty() ? QStringLiteral("primary metric") : runs.front().primaryLabel;
    axes << numericAxis(QStringLiteral("final %1").arg(label), primary, primaryTexts);
    axes << numericAxis(QStringLiteral("peak memory (MiB)"), peak, peakTexts);
    return axes;
}

} // namespace dr2
