#include "app/gui/memory_plan_summary.h"

#include "training/memory_planner.h"
#include "training/train_config.h"

#include <nlohmann/json.hpp>

namespace dr2 {

MemoryPlanSummary planConfigMemory(const QString& configJson)
{
    MemoryPlanSummary summary;
    try {
        const TrainConfig config = TrainConfig::fromJson(nlohmann::json::parse(configJson.toStdString()));
        const MemoryPlan plan = planMemory(config);
        const QString frames = plan.frames > 0 ? QStringLiteral(", %1 frames").arg(plan.frames) : QString();
        const QString budget = QString::number(double(plan.budgetBytes) / (1024.0 * 1024.0 * 1024.0), 'f', 1);
        summary.header = QString::fromStdString(plan.model) + QStringLiteral(" · batch ") + QString::number(plan.batch)
            + QStringLiteral(", image ") + QString::number(plan.imageSize) + QStringLiteral("²") + frames
            + QStringLiteral(" · budget ") + budget + QStringLiteral(" GiB (") + QString::fromStdString(plan.budgetSource)
            + QStringLiteral(")");
        for (const StrategyPlan& s : plan.strategies)
            summary.rows.push_back({ QString::fromStdString(toString(s.strategy)), s.atConfig.heldBytes,
                s.atConfig.stepBytes, s.atConfig.peakBytes(), s.fits, s.largestBatch, s.largestImageSize });
        summary.calibrationSteps = plan.calibrationSteps;
        summary.ok = true;
    } catch (const std::exception& e) {
        summary.error = QString::fromUtf8(e.what());
    }
    return summary;
}

} // namespace dr2
