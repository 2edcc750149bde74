#pragma once

#include "app/recording/heatmap_names.h"
#include "core/backbone_registry.h"
#include "core/grad_probe.h"
#include "training/network.h"
#include "training/task.h"
#include "training/train_config.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// What the probe batch holds.
enum class ProbeBatch {
    Random, ///< N(0, 1) images and uniform random labels (or per-pixel classes)
    /// With a config: the first images of the config's validation set (loadRunData, the Trainer's validation
    /// transform) with their labels, or a segmentation config's masks; the head has the dataset's classes.
    ConfigData,
};

/// Where a probed network comes from: a run config (the network a run of it starts from: its checkpoint when it
/// names one, else its preset, built by buildNetwork) or a backbone spec with a fresh classification head.
struct ProbeNetworkSource {
    std::optional<TrainConfig> config; ///< set: buildNetwork(*config, numClasses), seeded with config->seed
    BackboneSpec spec; ///< used when `config` is unset
    uint64_t seed = 0; ///< seeds the construction from `spec`
    int64_t numClasses = 10; ///< classes of the probe's head
    /// With `spec`: the task whose head is built ("classification", or "segmentation": a dense head, and a random
    /// class per pixel as the batch's target). With `config`, the config's task.
    std::string task = "classification";
    ProbeBatch batch = ProbeBatch::Random; ///< ConfigData needs `config`
    int64_t segmentEvery = 0; ///< > 0: reversible segments of at most this many branches
    c10::ScalarType dtype = c10::ScalarType::Float; ///< of the network and both probe passes
    c10::Device device = c10::Device(c10::kCPU);
};

/// A network ready for the gradient probe (train mode, on its device), one fixed batch, and the probe's
/// view of both (GradProbeTarget::model points into `network`, which keeps it alive when the setup is moved).
struct ProbeSetup {
    Network network { nullptr };
    std::string source; ///< "random" or the checkpoint with its format and naming
    std::vector<std::string> notes; ///< what building the network did (head kept or replaced, ...)
    torch::Tensor input; ///< [B, C, (T,) H, W]: from N(0, 1), or the dataset's normalised images
    TaskTarget target; ///< class labels [B] (a dense task: [B, H, W]): uniform over the head's classes, or the data's
    std::string batchSource; ///< what the batch is, for logs and the GUI ("8 validation images of ...", "random N(0, 1)")
    GradProbeTarget probe;
};

/// Builds `source`'s network and its batch: `batch` samples drawn from a RandomStream seeded with `batchSeed`
/// (independent of the default generator), or with ProbeBatch::ConfigData the first `batch` validation samples of
/// the config's data (fewer when the set is smaller). Throws std::invalid_argument naming the field for a bad batch
/// or spec, and the data loaders' errors.
ProbeSetup makeProbeSetup(const ProbeNetworkSource& source, int64_t batch, uint64_t batchSeed);

/// Where a sweep is recorded as a run of its own (strategy "heatmap"): the run row, the matrix as an HDF5
/// heatmap in RUN_DIR/arrays.h5 and the CSV as an artifact.
struct HeatmapSweepRecording {
    std::string databasePath; ///< empty: not recorded
    std::string filesDir; ///< run files go to FILES_DIR/run-ID (empty: a `runs` folder next to the database)
    std::string runName; ///< empty: the config's name, else "heatmap"
    std::string configJson; ///< empty: the config's JSON (or "{}" for a spec)
    std::vector<std::string> tags { "heatmap" };
    /// Group name under /heatmaps ([A-Za-z0-9_.-]) of the float32 map; a map under autocast gets the precision as a
    /// suffix (precisionHeatmapName: "sweep_bf16"), so a run can hold both.
    std::string heatmapName = "sweep";
};

/// One α×β gradient-error sweep (the paper's Fig. 3).
struct HeatmapSweepRequest {
    ProbeNetworkSource network;
    int64_t batch = 4; ///< samples in the probe batch
    uint64_t seed = 0; ///< the probe batch and the dropout masks of both passes
    Grid grid; ///< every β non-zero
    bool float64Reference = false; ///< compute the stored reference in float64
    /// Both passes' forward under this autocast (bf16; fp16 on CUDA): the map of a mixed-precision run, to set beside
    /// the paper's float32 Fig. 3. Not with float64Reference.
    Precision precision = Precision::Float32;
    /// Further autocasts swept after `precision` over the same network, batch, grid and masks (the GUI's float32
    /// map beside the bf16 one); each distinct from `precision` and from each other. Recorded in the same run.
    std::vector<Precision> alsoPrecisions;
    /// Set: the grid of `precision` as CSV (alpha,beta,mse,max_abs,rel_l2,finite), written atomically.
    std::string csvPath;
    HeatmapSweepRecording recording;
};

/// The reports of one of HeatmapSweepRequest::alsoPrecisions.
struct PrecisionReports {
    Precision precision = Precision::Float32;
    /// As HeatmapSweepResult::reports; fewer (or none) when the sweep was cancelled before its last point.
    std::vector<GradErrorReport> reports;
};

/// What a sweep found.
struct HeatmapSweepResult {
    Grid grid;
    /// One report per probed point, row-major over alphas then betas; fewer than the grid when cancelled.
    std::vector<GradErrorReport> reports;
    std::vector<PrecisionReports> alsoReports; ///< one per HeatmapSweepRequest::alsoPrecisions, in that order
    bool complete = false; ///< false: cancelled before the last point of the last precision
    std::string source; ///< "random" or the checkpoint with its format and naming
    std::string batchSource; ///< ProbeSetup::batchSource
    std::string modelSummary; ///< the backbone's one-line description
    std::vector<int64_t> branchesPerStage; ///< how each report's perBranch splits into stages
    std::string csvPath; ///< the CSV written (empty: none)
    int64_t runId = 0; ///< the recorded run (0: not recorded)
};

/// Builds the probe network of `request`, runs sweepGradientError over the grid (once per precision: `precision`
/// first, then each of `alsoPrecisions`), writes the CSV and records the run when asked (one heatmap per precision,
/// named by precisionHeatmapName). `progress(done, total)` is called after each point (on the calling thread), with
/// `total` counting the points of every precision; a set `cancel` stops the sweep after the current point (the CSV
/// and the run then hold the points done, later precisions none; the run is recorded `cancelled`). The CSV's
/// folder, the database and every precision on the probe's device (checkPrecision) are checked before the first
/// point. Throws std::invalid_argument for a bad grid, network or precision list, std::runtime_error for files that
/// cannot be written.
HeatmapSweepResult runHeatmapSweep(const HeatmapSweepRequest& request,
    const std::function<void(size_t done, size_t total)>& progress = {}, const std::atomic<bool>* cancel = nullptr);

/// The CSV of a sweep: a header line, then one line per report (17 significant digits).
std::string heatmapCsv(const std::vector<GradErrorReport>& reports);

} // namespace dr2
