#pragma once

#include <QString>

#include <nlohmann/json.hpp>

namespace dr2 {

/// What a new user can do without a checkpoint of their own: the workbench's default finetune config and the
/// starter pretraining that makes the checkpoint it finetunes. Both also ship as files
/// (resources/configs/pretrain-fmnist-starter.json, finetune-fmnist-starter-dr2net.json; a test keeps them equal).
namespace firstrun {

    /// The Configure page's default: Dr²Net finetuning of a ViT-Ti (192-d × 12, 28², patch 7) on Fashion-MNIST
    /// classes 5-9, 2000 images, 2 epochs (62 iterations; a few minutes on 2 cores). model.checkpoint is empty
    /// until a checkpoint is opened or the starter pretraining has run.
    nlohmann::json defaultFinetuneConfig();

    /// Conventional pretraining of the same ViT-Ti on Fashion-MNIST classes 0-4, writing `outputPath`: 3000 images,
    /// batch 32, 2 epochs (186 iterations, about 2-4 minutes on 2 cores). `quick`: 512 images, 1 epoch
    /// (16 iterations), for tests and a first look.
    nlohmann::json starterPretrainConfig(const QString& outputPath, bool quick = false);

    /// Where the starter checkpoint goes for the run database `databasePath`: a `starter` folder beside it.
    QString starterCheckpointPath(const QString& databasePath);

    /// True when `configJson`'s strategy finetunes a pretrained network (conventional, checkpointed, frozen,
    /// hard-finetune, vanilla, dr2net) but model.checkpoint is empty, so the run would start from random weights
    /// (for dr2net that is "reversible from scratch"). A conventional or checkpointed config with an `output` is a
    /// pretraining and needs none. False for JSON that does not parse as a config (validation reports that).
    bool startsWithoutPretrained(const QString& configJson);

} // namespace firstrun

} // namespace dr2
