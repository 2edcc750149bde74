#pragma once

#include "training/network.h"
#include "training/schedule.h"
#include "training/train_config.h"

#include <memory>

namespace torch::optim {
class Optimizer;
}

namespace dr2 {

/// Puts a run's backbone into its strategy's setup and returns the strategy's α/β schedule: the execution mode,
/// segments (checkpointed: segments.every, or about √N branches per stage; reversible strategies: segments.every
/// when set) and, for the frozen strategy, backbone parameters that need no gradient. τ of the dr2net schedule is
/// config.tauEpochs × `itersPerEpoch` when tauEpochs is set. The one setup the Trainer trains and the memory planner
/// measures.
std::unique_ptr<CoefficientSchedule> applyStrategy(Backbone& backbone, const TrainConfig& config, int64_t itersPerEpoch);

/// The run's optimizer: AdamW over the network's parameters that need gradients, without weight decay on norms,
/// biases and what the backbone exempts (position tables, class tokens).
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(NetworkImpl& network, const TrainConfig::Optim& optim);

} // namespace dr2
