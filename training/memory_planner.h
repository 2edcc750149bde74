#pragma once

#include "training/train_config.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dr2 {

/// Tensor bytes of one training step (forward, loss, backward, gradient clipping, AdamW step) as the Trainer runs
/// it: what is held before the step, and the step's peak above that. Predicted by planMemory or measured by
/// measureTrainingStep.
struct StepMemory {
    int64_t parameterBytes = 0; ///< parameters and buffers of the network
    int64_t gradientBytes = 0; ///< .grad of the parameters that train
    int64_t optimizerBytes = 0; ///< AdamW's two moments per parameter that trains
    int64_t batchBytes = 0; ///< one batch of inputs and targets
    /// Everything alive before the step: the four above when predicted; measured, also what else the process holds.
    int64_t heldBytes = 0;
    int64_t stepBytes = 0; ///< the step's peak above heldBytes: activations and temporaries

    int64_t peakBytes() const { return heldBytes + stepBytes; }
};

/// What the planner predicts for one strategy.
struct StrategyPlan {
    Strategy strategy = Strategy::Conventional;
    StepMemory atConfig; ///< at the config's batch, image size and frames
    bool fits = false; ///< atConfig.peakBytes() within the budget
    int64_t largestBatch = 0; ///< at the config's image size, within the budget (0: not one sample)
    int64_t largestImageSize = 0; ///< at the config's batch, within the budget (a multiple of the patch; 0: none)
    /// Worst error of the fitted model at its own calibration steps, relative to the measured step bytes.
    double calibrationError = 0.0;
};

/// Predicted peak tensor memory of a config's training step for each strategy, without training it.
struct MemoryPlan {
    std::string model; ///< the backbone's one-line summary
    int64_t batch = 0;
    int64_t imageSize = 0;
    int64_t frames = 0;
    int64_t budgetBytes = 0;
    std::string budgetSource; ///< "--budget" or what deviceMemory() read
    std::vector<StrategyPlan> strategies; ///< in the order asked for
    int64_t calibrationSteps = 0; ///< training steps measured to fit the model
    std::vector<int64_t> calibrationImageSizes;
    std::vector<int64_t> calibrationBatches;
    std::vector<std::string> notes; ///< assumptions a reader should know (e.g. the head's class count)

    /// The plan of `strategy`; throws std::out_of_range when it was not planned.
    const StrategyPlan& of(Strategy strategy) const;
};

struct PlanOptions {
    std::vector<Strategy> strategies; ///< empty: every strategy, in Table 2 order
    int64_t budgetBytes = 0; ///< 0: the memory of the config's device (deviceMemory)
    /// Called with one line before each calibration step group (for progress output); may be empty.
    std::function<void(const std::string&)> progress;
};

/// Predicts the step memory of `config` for each strategy (the config's own strategy field is ignored; everything
/// else, including segments, is the config's).
///
/// How: a step's forward/backward peak is a plateau that does not grow (weight-gradient and recompute temporaries of
/// the largest layers) or, once activations dominate, a linear function of the per-sample tensor sizes its strategy
/// keeps — stream tokens × width, padded attention tokens × width and heads × tokens × span per stage
/// (Backbone::geometryAt), summed over the branches a strategy stores (all for conventional, segment inputs plus the
/// largest segment for checkpointed, segment boundaries plus one branch for reversible, one branch for frozen) —
/// times the batch, plus a constant. The plateau and the coefficients (non-negative least squares) are fitted to real
/// steps measured at four small image sizes, never the config's own, and batches from 2 up to where the peak leaves
/// the plateau, on the config's device and depth; the AdamW step's peak is measured too, and the held part
/// (parameters, gradients, AdamW moments, batch) is counted exactly. Nothing is ever allocated at the config's size,
/// so a plan for a config that would not fit is cheap.
///
/// Throws std::invalid_argument (naming the field) for a config the network cannot be built for.
MemoryPlan planMemory(const TrainConfig& config, const PlanOptions& options = {});

/// Builds `config`'s network and measures one training step of its strategy at its batch and image size (after an
/// unmeasured one that allocates gradients and optimizer state): the reference planMemory is checked against.
/// The held parts (parameters, gradients, optimizer, batch) are counted from the tensors.
StepMemory measureTrainingStep(const TrainConfig& config);

/// Throws std::invalid_argument with the plan's numbers and what to change when `config`'s step cannot fit the
/// device's memory; returns quietly otherwise. Cheap for configs far from the limit: a lower bound (held bytes plus
/// one stream per stage) is computed first, and the calibrated plan of the config's strategy only when that bound
/// exceeds 1/256 of the device's memory. The Trainer calls it before loading any data.
void refuseIfCannotFit(const TrainConfig& config);

/// Parses a byte size: "8GiB", "512 MiB", "2.5GB", "1000000" (bytes); binary and decimal units, case-insensitive.
/// Throws std::invalid_argument naming the text for anything else or a size that is not positive.
int64_t parseByteSize(const std::string& text);

} // namespace dr2
