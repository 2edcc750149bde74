#include "app/gui/memory_plan_summary.h"

#include "app/recording/heatmap_sweep.h"
#include "core/device.h"
#include "core/step_profile.h"
#include "training/memory_planner.h"
#include "training/schedule.h"
#include "training/strategy_setup.h"
#include "training/train_config.h"

#include <nlohmann/json.hpp>

namespace dr2 {

StepTimeEstimate measureConfigStep(const QString& configJson)
{
    StepTimeEstimate estimate;
    try {
        const TrainConfig config = TrainConfig::fromJson(nlohmann::json::parse(configJson.toStdString()));
        ProbeNetworkSource source;
        source.config = config;
        source.numClasses = config.data.classes.empty() ? 10 : int64_t(config.data.classes.size());
        source.device = parseDevice(config.device);
        ProbeSetup setup = makeProbeSetup(source, config.optim.batchSize, config.seed);
        NetworkImpl& network = *setup.network;
        const auto schedule = applyStrategy(network.backbone(), config, /*itersPerEpoch=*/1);
        const Coefficients start = schedule->at(0);
        network.backbone().setCoefficients(start.alpha, start.beta);
        auto loss = [&network, &setup] { return network.task().probeLoss(network.forward(setup.input), setup.target); };
        const StepProfile profile = profileTrainingStep(network, loss, source.device, /*warmup=*/1, /*repeats=*/2);
        estimate.secondsPerStep = profile.medianSeconds;
        estimate.peakBytes = profile.heldBytes + profile.peakAboveHeldBytes;
        estimate.ok = true;
    } catch (const std::exception& e) {
        estimate.error = QString::fromUtf8(e.what());
    }
    return estimate;
}

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
