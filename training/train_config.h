#pragma once

#include "core/precision.h"
#include "training/schedule.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// The rows of the paper's Table 2, all run by the same Trainer.
enum class Strategy {
    Conventional, ///< pretrained, plain network, all activations stored
    /// pretrained, plain network with activation checkpointing: only segment inputs stored, segments recomputed in
    /// the backward (exact gradients; the practitioner's alternative to a reversible network)
    Checkpointed,
    Frozen, ///< pretrained backbone frozen, head trained
    ReversibleScratch, ///< random init, α = 0, β = 1, reversible
    HardFinetune, ///< pretrained weights at α = 0, β = 1 from the start, reversible
    Vanilla, ///< pretrained, fixed α = 1, β = 0.1, reversible
    Dr2Net, ///< pretrained, dynamic α/β schedule, reversible
};

/// The strategy named `name`; throws std::invalid_argument listing strategyNames().
Strategy parseStrategy(const std::string& name);
/// The strategy's config name ("dr2net").
std::string toString(Strategy strategy);
/// All strategy names, in Table 2 order.
std::vector<std::string> strategyNames();
/// True when the strategy trains with reversible backprop.
bool isReversible(Strategy strategy);

/// Everything one run needs, serialisable to JSON and validated in one place (TrainConfig::fromJson).
struct TrainConfig {
    std::string name = "run";
    std::string task = "classification"; ///< what the network learns (one of taskNames())
    Strategy strategy = Strategy::Dr2Net;
    uint64_t seed = 0;
    std::string device = "cpu";
    int threads = 0; ///< intra-op threads; 0 keeps LibTorch's default
    /// Reversible backward split over a second thread (RecomputeOverlap): "auto" (where a core is free and the BLAS
    /// runs one thread), "on" or "off"
    std::string recomputeOverlap = "auto";
    /// Data-parallel ranks (0: as launched). The launcher decides (`--nproc`, WORLD_SIZE); the Trainer records the
    /// actual number here, so a run's config says how many processes trained it, and refuses another non-zero one.
    int worldSize = 0;

    struct Model {
        std::string preset = "vit-ti";
        std::string checkpoint; ///< pretrained weights (empty: random initialisation)
        int64_t depth = 0; ///< 0: the preset's (or the checkpoint's)
        int64_t embedDim = 0; ///< 0: the preset's
        int64_t heads = 0;
        int64_t imageSize = 56;
        int64_t patchSize = 4;
        int64_t windowSize = 0; ///< attention window side of windowed backbones (Swin); 0: the preset's or the checkpoint's
        int64_t inChannels = 1;
        int64_t numFrames = 0; ///< > 0: a video backbone over clips of this many frames (data.dataset "clips")
        int64_t tubeletSize = 2; ///< frames per video token
        double dropout = 0.0;
        double dropPath = 0.1;
        std::string firstSkip = "scaled";
        bool resetHead = true; ///< re-initialise the checkpoint's task head for the new task (reported)
        int64_t headDim = 64; ///< channels of a dense task's head (segmentation; a multiple of 8)
    } model;

    struct Data {
        /// fashion-mnist | folder (images) | clips (root/<class>/<clip>/<frames>) — classification;
        /// scenes (built from Fashion-MNIST items under root) | masks (root/images + root/masks) — segmentation
        std::string dataset = "fashion-mnist";
        std::string root = "/usr/share/datasets/fashion-mnist";
        std::vector<int64_t> classes; ///< subset of labels, relabelled 0..k-1 (empty: all)
        int64_t trainLimit = 0; ///< use at most this many training images (0: all)
        int64_t valLimit = 0; ///< evaluate on at most this many images (0: all)
        double valFraction = 0.0; ///< >0: split validation off the training set instead of using the test set
        bool randomCrop = true;
        bool flip = true;
        double minScale = 1.0; ///< random rescale of training samples before the crop (segmentation's scale jitter)
        double maxScale = 1.0;
        /// Built-in segmentation scenes (data.dataset "scenes"): canvases of model.image_size composed from real
        /// Fashion-MNIST items (data.classes picks the item classes), train scenes from its training split,
        /// validation scenes from its test split; generated when the run starts, seeded by the run's seed.
        struct Scenes {
            int64_t train = 512; ///< training scenes
            int64_t val = 128; ///< validation scenes
            int64_t minItems = 3; ///< items per scene
            int64_t maxItems = 8;
            double minScale = 1.0; ///< item side = 28 px × a scale drawn in [min_scale, max_scale]
            double maxScale = 4.0;
        } scenes;
        int workers = 1; ///< background loader threads (0: load on the training thread)
    } data;

    struct Optim {
        int64_t epochs = 1;
        int64_t batchSize = 64;
        int64_t accumulation = 1; ///< gradient accumulation steps per optimizer step
        double lr = 1e-3;
        double minLr = 1e-5;
        double weightDecay = 0.05;
        int64_t warmupIterations = 50;
        double clipGrad = 1.0; ///< max global gradient norm (0: off)
        double labelSmoothing = 0.1;
        /// What the branches compute in: fp32, or autocast to bf16 (CPU or CUDA) or fp16 (CUDA, with loss scaling).
        /// The (x, y) streams and the reversible reconstruction stay float32 either way.
        Precision precision = Precision::Float32;
    } optim;

    ScheduleOptions schedule; ///< used by the dr2net strategy; tau from tauEpochs when set
    double tauEpochs = 0.0; ///< >0: τ = tauEpochs × iterations per epoch

    struct AutoEnd {
        bool enabled = false;
        double targetMse = 1e-7;
        int points = 8; ///< probed points along the path
    } autoEnd;

    struct Segments {
        /// fixed segment length in branches (0: one segment; for the checkpointed strategy about √N branches per stage)
        int64_t every = 0;
        double errorTarget = 0.0; ///< >0: choose the segment length from probes to keep the MSE below this
    } segments;

    struct Probe {
        int64_t every = 0; ///< probe the gradient error every K iterations (0: never)
    } probe;

    struct Checkpoint {
        std::string dir; ///< where resumable checkpoints go (empty: none)
        int64_t every = 0; ///< iterations between checkpoints (0: only at the end)
    } checkpoint;

    std::string output; ///< pretrain: where the final safetensors checkpoint is written

    /// Whether fromJson/load also run checkInputs(). Skip (the default): the config only describes a run (`schedule`,
    /// the GUI form, a recorded run's config whose files may have moved since); the Trainer checks before training.
    enum class InputCheck { Check, Skip };

    /// Parses and validates (every field of configFields()); unknown keys and out-of-range values throw
    /// std::invalid_argument naming the field. With InputCheck::Check also checkInputs().
    static TrainConfig fromJson(const nlohmann::json& json, InputCheck inputs = InputCheck::Skip);
    /// The config as JSON (every field, so a run records exactly what it used).
    nlohmann::json toJson() const;
    /// Reads a JSON file and applies "key.path=value" overrides (applyOverride), then fromJson(json, inputs).
    static TrainConfig load(
        const std::string& path, const std::vector<std::string>& overrides, InputCheck inputs = InputCheck::Skip);
    /// Range and choice checks of every field and across fields; pure (no filesystem access); called by fromJson.
    void validate() const;
    /// Checks that the inputs exist: model.checkpoint (when set) is a readable file, data.root an existing
    /// directory; throws std::invalid_argument naming the field. Called before training.
    void checkInputs() const;
};

/// Applies one "a.b.c=value" override to a JSON object: the key must be a field of configFields() (or an object
/// holding fields); the value is parsed as JSON, else taken as a string (always a string for a string field).
/// Throws std::invalid_argument naming the assignment on a malformed or unknown one.
void applyOverride(nlohmann::json& json, const std::string& assignment);

} // namespace dr2
