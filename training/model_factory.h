#pragma once

#include "core/backbone_registry.h"
#include "training/network.h"
#include "training/train_config.h"

#include <map>
#include <string>
#include <vector>

namespace dr2 {

/// A network ready for a run, and what was done to make it (for the log and the run record).
struct BuiltNetwork {
    Network network { nullptr };
    std::vector<std::string> notes; ///< e.g. "position embedding resized 7×7 → 14×14"
    std::string source; ///< "random" or the checkpoint path with its format and naming
    std::string checkpoint; ///< the weights file the network was loaded from; empty: random initialisation
};

/// The pretrained weights a run of `config` starts from: model.checkpoint, except for strategies that start from
/// random weights (reversible-scratch); empty when none. The one rule buildNetwork, the Trainer and the recorder use.
std::string sourceCheckpointOf(const TrainConfig& config);

/// The backbone `config` describes when built from scratch (preset plus overrides).
BackboneSpec backboneSpecFor(const TrainConfig& config);

/// Builds the network of a run: the backbone (random initialisation, or pretrained weights from
/// config.model.checkpoint in any format and naming a registered family reads; the architecture then comes from
/// the checkpoint and config values it overrides are reported in the notes) and the task's head for `numClasses`
/// (the checkpoint's head is kept only when model.reset_head is off and it fits). Strategies that start from
/// scratch take only the checkpoint's architecture (random weights, a new head; the model's config values when the
/// file is not there). Construction draws from the default generator seeded with config.seed.
/// `classNames` names the classes where the task shows them (segmentation's per-class IoU); may be empty.
BuiltNetwork buildNetwork(
    const TrainConfig& config, int64_t numClasses, const std::vector<std::string>& classNames = {});

/// Writes the network's weights in the product's layout (Network::exportTensors) with its ArchitectureRecord
/// (plus `extra`) as safetensors metadata, atomically.
void saveNativeCheckpoint(const std::string& path, NetworkImpl& network, const std::map<std::string, std::string>& extra = {});

} // namespace dr2
