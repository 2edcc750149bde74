#include "training/strategy_setup.h"

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace dr2 {
namespace {

/// Parameters that get weight decay: matrices and convolution kernels, not norms, biases, or what the
/// backbone names (position tables, class tokens).
bool decays(const std::string& name, const torch::Tensor& p, const std::set<std::string>& backboneExempt)
{
    const std::string prefix = "backbone.";
    if (name.compare(0, prefix.size(), prefix) == 0 && backboneExempt.count(name.substr(prefix.size())))
        return false;
    return p.dim() >= 2;
}

std::unique_ptr<CoefficientSchedule> constant(double alpha, double beta)
{
    return std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant({ alpha, beta }));
}

} // namespace

std::unique_ptr<CoefficientSchedule> applyStrategy(Backbone& backbone, const TrainConfig& config, int64_t itersPerEpoch)
{
    std::unique_ptr<CoefficientSchedule> schedule;
    switch (config.strategy) {
    case Strategy::Conventional:
        backbone.setMode(ExecMode::Plain);
        schedule = constant(1.0, 0.0);
        break;
    case Strategy::Checkpointed:
        // The conventional network (Checkpointed ignores α, β; stored as 1, 0 like conventional) with recompute per
        // segment. One segment would recompute the whole stack at once and save nothing, so without a configured
        // length each stage gets about √N branches per segment.
        backbone.setMode(ExecMode::Checkpointed);
        schedule = constant(1.0, 0.0);
        if (config.segments.every > 0) {
            backbone.setSegmentEvery(config.segments.every);
        } else {
            for (Dr2StackImpl* stack : backbone.stacks())
                stack->setSegmentEvery(defaultCheckpointSegment(stack->size()));
        }
        break;
    case Strategy::Frozen:
        backbone.setMode(ExecMode::Plain);
        for (auto& p : backbone.parameters())
            p.set_requires_grad(false);
        schedule = constant(1.0, 0.0);
        break;
    case Strategy::ReversibleScratch:
    case Strategy::HardFinetune:
        backbone.setMode(ExecMode::Reversible);
        schedule = constant(0.0, 1.0);
        break;
    case Strategy::Vanilla:
        backbone.setMode(ExecMode::Reversible);
        schedule = constant(1.0, 0.1);
        break;
    case Strategy::Dr2Net: {
        backbone.setMode(ExecMode::Reversible);
        ScheduleOptions options = config.schedule;
        if (config.tauEpochs > 0)
            options.tauIterations = std::max<int64_t>(1, std::llround(config.tauEpochs * static_cast<double>(itersPerEpoch)));
        schedule = std::make_unique<CoefficientSchedule>(options);
        break;
    }
    }
    if (isReversible(config.strategy) && config.segments.every > 0)
        backbone.setSegmentEvery(config.segments.every);
    backbone.setRecomputeOverlap(parseRecomputeOverlap(config.recomputeOverlap));
    return schedule;
}

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(NetworkImpl& network, const TrainConfig::Optim& optim)
{
    const std::set<std::string> exempt = network.backbone().noWeightDecay();
    std::vector<torch::Tensor> decay;
    std::vector<torch::Tensor> noDecay;
    for (auto& item : network.named_parameters()) {
        if (!item.value().requires_grad())
            continue;
        (decays(item.key(), item.value(), exempt) ? decay : noDecay).push_back(item.value());
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay,
        std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(optim.lr).weight_decay(optim.weightDecay)));
    groups.emplace_back(noDecay,
        std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(optim.lr).weight_decay(0.0)));
    return std::make_unique<torch::optim::AdamW>(std::move(groups));
}

} // namespace dr2
