#pragma once

#include "core/vit.h"
#include "training/train_config.h"

#include <map>
#include <string>
#include <vector>

namespace dr2 {

/// A model ready for a run, and what was done to make it (for the log and the run record).
struct BuiltModel {
    ViT model { nullptr };
    std::vector<std::string> notes; ///< e.g. "position embedding resized 7×7 → 14×14"
    std::string source; ///< "random" or the checkpoint path
};

/// ViT options for `config` with a head of `numClasses` (before any checkpoint is read).
ViTOptions vitOptionsFor(const TrainConfig& config, int64_t numClasses);

/// Builds the model of a run: random initialisation, or pretrained weights from config.model.checkpoint
/// (any format and naming core/vit_loader reads; the architecture comes from the checkpoint). Strategies
/// that start from scratch ignore the checkpoint. Shapes that do not match fail with the key and both
/// shapes; the position embedding is resized (bicubic on the patch grid) when the resolution differs; the
/// head is re-initialised when config.model.reset_head is set or the class count differs.
BuiltModel buildModel(const TrainConfig& config, int64_t numClasses);

/// Writes the model's weights with this product's names and its architecture (plus `extra`) as
/// safetensors metadata, atomically.
void saveNativeCheckpoint(const std::string& path, ViTImpl& model, const std::map<std::string, std::string>& extra = {});

} // namespace dr2
