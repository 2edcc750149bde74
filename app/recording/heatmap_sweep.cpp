#include "app/recording/heatmap_sweep.h"

#include "app/recording/run_recording_observer.h"
#include "core/autocast.h"
#include "core/random_stream.h"
#include "training/data_loader.h"
#include "training/model_factory.h"
#include "training/probe_target.h"
#include "training/run_data.h"
#include "training/task_registry.h"

#include "storage/atomic_file.h"
#include "storage/run_recorder.h"
#include "storage/run_store.h"
#include "storage/sha256.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace dr2 {

namespace fs = std::filesystem;

namespace {

    void checkGrid(const Grid& grid)
    {
        if (grid.alphas.empty() || grid.betas.empty())
            throw std::invalid_argument("heatmap grid: expected at least one α and one β, found "
                + std::to_string(grid.alphas.size()) + "×" + std::to_string(grid.betas.size()));
        for (double beta : grid.betas)
            if (beta == 0.0)
                throw std::invalid_argument("heatmap grid: β = 0 cannot be reversed; start above 0");
    }

    /// The per-run folder RunRecordingObserver uses (FILES_DIR/run-ID, FILES_DIR defaulting to `runs` next to the
    /// database), absolute: the paths are recorded as artifacts and must not depend on the working directory.
    fs::path runDirectory(const HeatmapSweepRecording& recording, int64_t runId)
    {
        const fs::path filesRoot = recording.filesDir.empty()
            ? fs::path(RunRecordingObserver::defaultFilesDir(recording.databasePath))
            : fs::path(recording.filesDir);
        return fs::absolute(filesRoot / ("run-" + std::to_string(runId))).lexically_normal();
    }

    /// The sweep as an HDF5 heatmap: every metric over the whole grid, NaN where the probe diverged or (cancelled)
    /// never ran.
    HeatmapRecord heatmapRecord(const std::string& name, const Grid& grid, const std::vector<GradErrorReport>& reports)
    {
        HeatmapRecord heatmap;
        heatmap.name = name;
        heatmap.alphas = grid.alphas;
        heatmap.betas = grid.betas;
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const size_t cells = grid.alphas.size() * grid.betas.size();
        for (const char* metric : { "mse", "max_abs", "rel_l2" })
            heatmap.metrics[metric].assign(cells, nan);
        for (size_t i = 0; i < reports.size() && i < cells; ++i) {
            const GradErrorReport& r = reports[i];
            if (!r.finite)
                continue;
            heatmap.metrics["mse"][i] = r.overall.mse;
            heatmap.metrics["max_abs"][i] = r.overall.maxAbs;
            heatmap.metrics["rel_l2"][i] = r.overall.relL2;
        }
        return heatmap;
    }

    /// The first `batch` validation samples of `config`'s data as the Trainer evaluates them (its loader and
    /// validation transform: labels, or a segmentation config's masks). Sets `numClasses` to the data's classes.
    Batch configDataBatch(const TrainConfig& config, int64_t batch, int64_t* numClasses, std::string* description)
    {
        RunData data = loadRunData(config);
        const bool useVal = data.val.size() > 0;
        ImageDataset pool = useVal ? std::move(data.val) : std::move(data.train);
        if (pool.size() == 0)
            throw std::invalid_argument("probe batch: config data." + config.data.dataset + " has no images");
        *numClasses = std::max<int64_t>(1, static_cast<int64_t>(data.classNames.size()));
        const int64_t samples = std::min(batch, pool.size());
        *description = std::to_string(samples) + (useVal ? " validation" : " training") + " images of " + pool.source;
        const TransformOptions transform { config.model.imageSize, config.model.inChannels, false, false };
        DataLoader loader(std::move(pool), samples, transform, /*shuffle=*/false, config.seed, /*dropLast=*/false,
            /*background=*/false);
        loader.startEpoch(0);
        std::optional<Batch> first = loader.next();
        if (!first)
            throw std::invalid_argument("probe batch: no batch from config data." + config.data.dataset);
        return std::move(*first);
    }

} // namespace

std::string precisionHeatmapName(const std::string& base, Precision precision)
{
    return precision == Precision::Float32 ? base : base + "_" + toString(precision);
}

Precision heatmapNamePrecision(const std::string& name)
{
    for (Precision precision : allPrecisions()) {
        if (precision == Precision::Float32)
            continue;
        const std::string suffix = "_" + toString(precision);
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            return precision;
    }
    return Precision::Float32;
}

ProbeSetup makeProbeSetup(const ProbeNetworkSource& source, int64_t batch, uint64_t batchSeed)
{
    if (batch <= 0)
        throw std::invalid_argument("probe batch: expected > 0 samples, found " + std::to_string(batch));
    if (source.segmentEvery < 0)
        throw std::invalid_argument(
            "probe segment length: expected >= 0 branches, found " + std::to_string(source.segmentEvery));
    if (source.dtype != torch::kFloat32 && source.dtype != torch::kFloat64)
        throw std::invalid_argument(
            "probe dtype: expected float32 or float64, found " + std::string(c10::toString(source.dtype)));
    if (source.batch == ProbeBatch::ConfigData && !source.config)
        throw std::invalid_argument("probe batch: a batch of the config's data needs a config");
    ProbeSetup setup;
    int64_t numClasses = source.numClasses;
    std::optional<Batch> dataBatch;
    if (source.batch == ProbeBatch::ConfigData)
        dataBatch = configDataBatch(*source.config, batch, &numClasses, &setup.batchSource);
    if (source.config) {
        BuiltNetwork built = buildNetwork(*source.config, numClasses);
        setup.network = built.network;
        setup.source = built.source;
        setup.notes = std::move(built.notes);
    } else {
        // Module constructors draw from the default generator; the section keeps other threads' seeds out.
        SeededDefaultGenerator seeded(source.seed);
        BackbonePtr backbone = createBackbone(source.spec);
        std::shared_ptr<Task> task = createTask(taskOptions(source.task, source.numClasses));
        setup.notes = task->buildHead(*backbone, /*pretrained=*/ {}, /*reuse=*/false);
        setup.network = Network(std::move(backbone), std::move(task));
        setup.source = "random";
    }
    Backbone& backbone = setup.network->backbone();
    if (source.segmentEvery > 0)
        backbone.setSegmentEvery(source.segmentEvery);
    setup.network->to(source.dtype);
    setup.network->to(source.device);
    setup.network->train();

    if (dataBatch) {
        setup.input = dataBatch->input.to(source.dtype).to(source.device);
        setup.target = dataBatch->target.to(source.device);
        setup.probe = makeProbeTarget(*setup.network, setup.input, setup.target);
        return setup;
    }
    // The batch comes from its own stream, so it is the same whatever else drew from the default generator.
    setup.batchSource = "random N(0, 1) batch of " + std::to_string(batch);
    RandomStream stream(batchSeed);
    setup.input = torch::randn(backbone.inputShape().sizes(batch), stream.generator()).to(source.device);
    const InputShape shape = backbone.inputShape();
    const std::vector<int64_t> targetSizes = setup.network->task().predictsPixels()
        ? std::vector<int64_t> { batch, shape.height, shape.width }
        : std::vector<int64_t> { batch };
    setup.target.tensor
        = torch::randint(0, source.numClasses, targetSizes, stream.generator(), torch::kLong).to(source.device);
    setup.probe = makeProbeTarget(*setup.network, setup.input, setup.target);
    return setup;
}

std::string heatmapCsv(const std::vector<GradErrorReport>& reports)
{
    std::ostringstream csv;
    csv.precision(17);
    csv << "alpha,beta,mse,max_abs,rel_l2,finite\n";
    for (const auto& r : reports)
        csv << r.alpha << ',' << r.beta << ',' << r.overall.mse << ',' << r.overall.maxAbs << ',' << r.overall.relL2
            << ',' << (r.finite ? 1 : 0) << '\n';
    return csv.str();
}

HeatmapSweepResult runHeatmapSweep(const HeatmapSweepRequest& request,
    const std::function<void(size_t done, size_t total)>& progress, const std::atomic<bool>* cancel)
{
    const Grid& grid = request.grid;
    checkGrid(grid);
    std::vector<Precision> precisions { request.precision };
    for (Precision precision : request.alsoPrecisions) {
        if (std::find(precisions.begin(), precisions.end(), precision) != precisions.end())
            throw std::invalid_argument(
                "heatmap precisions: " + toString(precision) + " is asked for twice; each map needs its own precision");
        precisions.push_back(precision);
    }
    ProbeSetup setup = makeProbeSetup(request.network, request.batch, request.seed);
    for (Precision precision : precisions)
        checkPrecision(precision, setup.input.device(), "heatmap precision");
    const BackboneDescription description = setup.network->backbone().describe();

    HeatmapSweepResult result;
    result.grid = grid;
    result.source = setup.source;
    result.batchSource = setup.batchSource;
    result.modelSummary = description.summary;
    for (const auto& stage : description.stages)
        result.branchesPerStage.push_back(stage.branches);

    // Everything that can fail for a bad path fails here, in seconds, not after the sweep.
    std::optional<AtomicFile> csv;
    if (!request.csvPath.empty())
        csv.emplace(request.csvPath);
    const HeatmapSweepRecording& recording = request.recording;
    std::unique_ptr<RunRecorder> recorder;
    if (!recording.databasePath.empty()) {
        const std::optional<TrainConfig>& config = request.network.config;
        RunRecord run;
        run.name = !recording.runName.empty() ? recording.runName : config ? config->name : "heatmap";
        run.strategy = "heatmap";
        run.modelSummary = description.summary + ", gradient-error sweep " + std::to_string(grid.alphas.size()) + "×"
            + std::to_string(grid.betas.size());
        if (config && setup.source != "random") {
            run.sourceCheckpoint = config->model.checkpoint;
            run.sourceSha256 = sha256OfFile(config->model.checkpoint);
        }
        run.configJson = !recording.configJson.empty() ? recording.configJson : config ? config->toJson().dump() : "{}";
        run.tags = recording.tags;
        const fs::path database(recording.databasePath);
        if (!database.parent_path().empty())
            fs::create_directories(database.parent_path());
        const int64_t id = RunStore(recording.databasePath).createRun(run);
        const fs::path runDir = runDirectory(recording, id);
        fs::create_directories(runDir);
        RunRecorderOptions options;
        options.arraysPath = (runDir / "arrays.h5").string();
        RunRecord existing;
        existing.id = id;
        // Closes the run `failed` if the sweep throws.
        recorder = std::make_unique<RunRecorder>(recording.databasePath, existing, options);
        result.runId = id;
    }

    // Every precision probes the same network, batch and dropout masks, so the maps differ by precision alone.
    const size_t cells = grid.alphas.size() * grid.betas.size();
    const size_t total = cells * precisions.size();
    bool stopped = false;
    for (size_t k = 0; k < precisions.size() && !stopped; ++k) {
        GradProbeOptions options;
        options.seed = request.seed;
        options.float64Reference = request.float64Reference;
        options.precision = precisions[k];
        std::vector<GradErrorReport> reports
            = sweepGradientError(setup.probe, grid, options, [&](size_t done, size_t /*cells*/) {
                  if (progress)
                      progress(k * cells + done, total);
                  return !(cancel && cancel->load());
              });
        // A cancel during a precision's last point still stops before the next precision begins.
        stopped = reports.size() < cells || (cancel && cancel->load());
        if (k == 0)
            result.reports = std::move(reports);
        else
            result.alsoReports.push_back({ precisions[k], std::move(reports) });
    }
    // A cancelled sweep still lists every precision asked for, the ones never begun without reports.
    for (size_t k = result.alsoReports.size() + 1; k < precisions.size(); ++k)
        result.alsoReports.push_back({ precisions[k], {} });
    result.complete = result.reports.size() == cells
        && std::all_of(result.alsoReports.begin(), result.alsoReports.end(),
            [cells](const PrecisionReports& also) { return also.reports.size() == cells; });

    if (csv) {
        csv->write(heatmapCsv(result.reports));
        csv->commit();
        result.csvPath = request.csvPath;
    }
    if (recorder) {
        recorder->addHeatmap(
            heatmapRecord(precisionHeatmapName(recording.heatmapName, request.precision), grid, result.reports));
        for (const PrecisionReports& also : result.alsoReports)
            recorder->addHeatmap(
                heatmapRecord(precisionHeatmapName(recording.heatmapName, also.precision), grid, also.reports));
        if (csv) {
            ArtifactRecord artifact;
            artifact.path = fs::absolute(request.csvPath).lexically_normal().string();
            artifact.kind = "csv";
            artifact.sha256 = sha256OfFile(request.csvPath);
            artifact.bytes = static_cast<int64_t>(fs::file_size(request.csvPath));
            recorder->addArtifact(artifact);
        }
        double best = std::numeric_limits<double>::infinity();
        for (const auto& r : result.reports)
            if (r.finite && r.alpha == 0.0)
                best = std::min(best, r.overall.mse);
        std::vector<std::string> precisionNames;
        precisionNames.reserve(precisions.size());
        for (Precision precision : precisions)
            precisionNames.push_back(toString(precision));
        recorder->close(result.complete ? RunStatus::Finished : RunStatus::Cancelled,
            nlohmann::json { { "points", result.reports.size() },
                { "mse_at_alpha_0_min", std::isfinite(best) ? best : -1.0 }, { "precisions", precisionNames } }
                .dump());
    }
    return result;
}

} // namespace dr2
