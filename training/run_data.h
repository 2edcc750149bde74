#pragma once

#include "training/image_dataset.h"
#include "training/train_config.h"

#include <string>
#include <utility>

namespace dr2 {

/// The training and validation sets of a run, as the config asks for them.
struct RunData {
    ImageDataset train;
    ImageDataset val;
    /// Class index → name of what the task predicts (classification: the selected classes; segmentation: every
    /// mask value, "background" first for the built-in scenes).
    std::vector<std::string> classNames;
};

/// Loads (or, for the built-in scenes, generates) the config's data:
///  - fashion-mnist: its own train/test split (or a seeded data.val_fraction split of the training set);
///  - folder / clips: one tree, split by a seeded fraction (data.val_fraction, else 0.2);
///  - scenes: data.scenes.train scenes from Fashion-MNIST's training items and data.scenes.val from its test items
///    under data.root, at model.image_size, seeded by the run's seed;
///  - masks: root/train + root/val when both exist, else root split by a seeded fraction.
/// Then restricted to data.classes (classification) and data.train_limit / val_limit. Throws std::invalid_argument
/// naming the config field when task and dataset do not go together, and the loaders' one-line errors.
RunData loadRunData(const TrainConfig& config);

/// Throws std::invalid_argument when the config's task cannot train on its dataset (segmentation needs scenes or
/// masks; classification cannot use them). Pure; loadRunData calls it.
void checkTaskData(const TrainConfig& config);

} // namespace dr2
