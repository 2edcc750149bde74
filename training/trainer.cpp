#include "training/trainer.h"

#include "core/device.h"
#include "core/memory_meter.h"
#include "core/rng_state.h"
#include "training/data_loader.h"
#include "training/image_dataset.h"
#include "training/memory_planner.h"
#include "training/model_factory.h"
#include "training/prediction_preview.h"
#include "training/probe_target.h"
#include "training/run_data.h"
#include "training/strategy_setup.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace dr2 {

namespace fs = std::filesystem;

/// Where the run stands; everything a resumed run needs to continue exactly.
struct Trainer::State {
    int64_t iteration = 0;
    int64_t epoch = 0;
    int64_t batchInEpoch = 0;
    double bestPrimary = 0.0;
    bool evaluated = false; ///< bestPrimary holds a real evaluation (not the initial 0)
    MetricMap lastMetrics;
    double lastLoss = 0.0;
    int64_t peakBytes = 0;
    int64_t peakStepBytes = 0;
    std::string checkpointPath;
};

namespace {

/// Thrown inside the loop when the loss or the gradients stop being finite.
struct NonFinite : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string formatCoefficients(double alpha, double beta)
{
    std::ostringstream out;
    out << "α=" << alpha << ", β=" << beta;
    return out.str();
}

double learningRate(const TrainConfig::Optim& o, int64_t iteration, int64_t total)
{
    if (iteration < o.warmupIterations)
        return o.lr * static_cast<double>(iteration + 1) / static_cast<double>(o.warmupIterations);
    const double span = static_cast<double>(std::max<int64_t>(1, total - o.warmupIterations));
    const double p = std::min(1.0, static_cast<double>(iteration - o.warmupIterations) / span);
    return o.minLr + 0.5 * (o.lr - o.minLr) * (1.0 + std::cos(M_PI * p));
}

int64_t countParameters(torch::nn::Module& module, bool trainableOnly)
{
    int64_t n = 0;
    for (const auto& p : module.parameters())
        if (!trainableOnly || p.requires_grad())
            n += p.numel();
    return n;
}

} // namespace

Trainer::Trainer(TrainConfig config)
    : m_config(std::move(config))
{
    m_config.validate();
}

Trainer::~Trainer() = default;

void Trainer::addObserver(TrainObserver* observer)
{
    m_observers.push_back(observer);
}

void Trainer::resumeFrom(const std::string& checkpointDir)
{
    if (!fs::exists(fs::path(checkpointDir) / kCheckpointFile))
        throw std::invalid_argument("--resume '" + checkpointDir + "': no " + kCheckpointFile + " there");
    m_resumeDir = checkpointDir;
}

void Trainer::pause()
{
    m_paused = true;
}

void Trainer::resume()
{
    {
        std::lock_guard<std::mutex> lock(m_pauseMutex);
        m_paused = false;
    }
    m_pauseChanged.notify_all();
}

void Trainer::cancel()
{
    {
        std::lock_guard<std::mutex> lock(m_pauseMutex);
        m_cancelled = true;
    }
    m_pauseChanged.notify_all();
}

void Trainer::emitLog(const std::string& level, const std::string& text)
{
    for (auto* o : m_observers)
        o->onLog(level, text);
}

bool Trainer::waitWhilePaused()
{
    if (m_paused && !m_cancelled) {
        emitLog("info", "paused");
        std::unique_lock<std::mutex> lock(m_pauseMutex);
        m_pauseChanged.wait(lock, [&] { return !m_paused || m_cancelled; });
        if (!m_cancelled)
            emitLog("info", "resumed");
    }
    return !m_cancelled;
}

void Trainer::chooseAutoEnd(const GradProbeTarget& target)
{
    const ScheduleOptions& options = m_schedule->options();
    ScheduleOptions path = options;
    path.tauIterations = m_config.autoEnd.points - 1;
    path.eta = 1;
    const CoefficientSchedule walk(path);
    AutoEndEvent event;
    event.targetMse = m_config.autoEnd.targetMse;
    event.chosen = options.end;
    bool found = false;
    for (int64_t k = 0; k < m_config.autoEnd.points; ++k) {
        const Coefficients point = walk.at(k);
        const auto report = probeGradientError(target, point.alpha, point.beta, { false, false, m_config.seed });
        const double mse = report.finite ? report.overall.mse : INFINITY;
        event.probes.emplace_back(point, mse);
        if (!found && mse < m_config.autoEnd.targetMse) {
            event.chosen = point;
            found = true;
        }
    }
    if (!found)
        emitLog("warning", "automatic end point: no probed point reached MSE < " + std::to_string(event.targetMse)
                + "; keeping the configured end " + formatCoefficients(options.end.alpha, options.end.beta));
    ScheduleOptions chosen = options;
    chosen.end = event.chosen;
    m_schedule = std::make_unique<CoefficientSchedule>(chosen);
    emitLog("info", "automatic end point " + formatCoefficients(event.chosen.alpha, event.chosen.beta));
    for (auto* o : m_observers)
        o->onAutoEnd(event);
}

void Trainer::chooseSegments(int64_t iteration, const GradProbeTarget& target)
{
    Backbone& backbone = m_model->backbone();
    const double alpha = backbone.alpha();
    const double beta = backbone.beta();
    // Re-choose only when the coefficients moved noticeably: each choice costs a few probes.
    if (m_segmentChosenAt.first >= 0 && std::abs(alpha - m_segmentChosenAt.first) < 0.05
        && std::abs(beta - m_segmentChosenAt.second) < 0.05)
        return;
    m_segmentChosenAt = { alpha, beta };
    // One length for every stage, searched up to the largest stage (a stage shorter than it is one segment).
    int64_t n = 1;
    for (auto* stack : backbone.stacks())
        n = std::max(n, stack->size());
    int64_t chosen = 1;
    double measured = 0.0;
    for (int64_t length = n; length >= 1; length = length == 1 ? 0 : std::max<int64_t>(1, length / 2)) {
        backbone.setSegmentEvery(length);
        const auto report = probeGradientError(target, alpha, beta, { false, false, m_config.seed });
        measured = report.finite ? report.overall.mse : INFINITY;
        if (measured <= m_config.segments.errorTarget || length == 1) {
            chosen = length;
            break;
        }
    }
    backbone.setSegmentEvery(chosen);
    if (chosen != m_segmentLength) {
        m_segmentLength = chosen;
        SegmentEvent event { iteration, alpha, beta, chosen, measured };
        for (auto* o : m_observers)
            o->onSegmentChange(event);
    }
}

EvaluationEvent Trainer::evaluate(DataLoader& loader, int64_t iteration, int64_t epoch)
{
    torch::NoGradGuard noGrad;
    m_model->eval();
    const c10::Device device = m_device;
    auto evaluation = m_model->task().startEvaluation();
    loader.startEpoch(0);
    while (auto batch = loader.next())
        evaluation->add(m_model->forward(batch->input.to(device)), batch->target.to(device));
    m_model->train();
    EvaluationEvent event;
    event.iteration = iteration;
    event.epoch = epoch;
    event.samples = evaluation->samples();
    event.metrics = evaluation->result();
    return event;
}

void Trainer::saveCheckpoint(const State& state)
{
    if (m_config.checkpoint.dir.empty())
        return;
    fs::create_directories(m_config.checkpoint.dir);
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model;
    m_model->save(model);
    archive.write("model", model);
    torch::serialize::OutputArchive optimizer;
    m_optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
    archive.write("iteration", c10::IValue(state.iteration));
    archive.write("epoch", c10::IValue(state.epoch));
    archive.write("batch_in_epoch", c10::IValue(state.batchInEpoch));
    archive.write("best_primary", c10::IValue(state.bestPrimary));
    archive.write("evaluated", c10::IValue(state.evaluated));
    archive.write("segment_length", c10::IValue(m_segmentLength));
    archive.write("segment_alpha", c10::IValue(m_segmentChosenAt.first));
    archive.write("segment_beta", c10::IValue(m_segmentChosenAt.second));
    // Dropout and drop-path masks come from the run's stream (on a GPU, its generator for that device).
    archive.write("rng_stream", RngState::capture(m_stream->generator()).tensor());
    const auto& end = m_schedule->options().end;
    archive.write("schedule_end_alpha", c10::IValue(end.alpha));
    archive.write("schedule_end_beta", c10::IValue(end.beta));
    archive.write("config", c10::IValue(m_config.toJson().dump()));

    const fs::path dir(m_config.checkpoint.dir);
    const fs::path tmp = dir / (std::string(kCheckpointFile) + ".partial");
    try {
        archive.save_to(tmp.string());
        fs::rename(tmp, dir / kCheckpointFile);
        std::ofstream(dir / "config.json.partial") << m_config.toJson().dump(2) << '\n';
        fs::rename(dir / "config.json.partial", dir / "config.json");
    } catch (const std::exception& e) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw std::runtime_error("checkpoint '" + (dir / kCheckpointFile).string() + "': cannot write (" + e.what() + ")");
    }
}

void Trainer::loadCheckpoint(State& state)
{
    const std::string path = (fs::path(m_resumeDir) / kCheckpointFile).string();
    torch::serialize::InputArchive archive;
    try {
        archive.load_from(path);
    } catch (const c10::Error& e) {
        throw std::runtime_error("resume '" + path + "': not a readable checkpoint (" + e.what_without_backtrace() + ")");
    }
    try {
        torch::serialize::InputArchive model;
        archive.read("model", model);
        m_model->load(model);
        torch::serialize::InputArchive optimizer;
        archive.read("optimizer", optimizer);
        m_optimizer->load(optimizer);
    } catch (const c10::Error& e) {
        // Since the backbone/task split the network is saved as "backbone.*" and "head.*".
        throw std::runtime_error("resume '" + path + "': the checkpoint does not fit this run's network (written for "
            "another config, or by a version before the backbone/task split): " + e.what_without_backtrace());
    }
    c10::IValue value;
    archive.read("iteration", value);
    state.iteration = value.toInt();
    archive.read("epoch", value);
    state.epoch = value.toInt();
    archive.read("batch_in_epoch", value);
    state.batchInEpoch = value.toInt();
    if (archive.try_read("best_primary", value))
        state.bestPrimary = value.toDouble();
    if (archive.try_read("evaluated", value))
        state.evaluated = value.toBool();
    archive.read("segment_length", value);
    m_segmentLength = value.toInt();
    archive.read("segment_alpha", value);
    m_segmentChosenAt.first = value.toDouble();
    archive.read("segment_beta", value);
    m_segmentChosenAt.second = value.toDouble();
    if (m_segmentLength > 0)
        m_model->backbone().setSegmentEvery(m_segmentLength);
    ScheduleOptions schedule = m_schedule->options();
    archive.read("schedule_end_alpha", value);
    schedule.end.alpha = value.toDouble();
    archive.read("schedule_end_beta", value);
    schedule.end.beta = value.toDouble();
    if (!m_schedule->isConstant())
        m_schedule = std::make_unique<CoefficientSchedule>(schedule);
    at::Tensor rng;
    if (archive.try_read("rng_stream", rng))
        RngState::fromTensor(m_stream->generator(), rng).restore();
    else
        throw std::runtime_error("resume '" + path + "': no random stream state (rng_stream) in the checkpoint: it was "
            "written by a version whose dropout drew from the process-wide generator; start the run again");
    state.checkpointPath = path;
}

RunFinishedEvent Trainer::run()
{
    const auto startTime = std::chrono::steady_clock::now();
    m_config.checkInputs(); // the config was validated on construction; its files must exist now
    refuseIfCannotFit(m_config); // before any data is loaded at the config's size
    if (m_config.threads > 0)
        torch::set_num_threads(m_config.threads);
    m_device = parseDevice(m_config.device);
    const c10::Device device = m_device;
    m_stream = std::make_unique<RandomStream>(m_config.seed, device);
    const RandomStreamScope streamScope(*m_stream);
    MemoryMeter& meter = MemoryMeter::forDevice(device);
    m_cancelled = false;

    // Data.
    const auto& d = m_config.data;
    RunData data = loadRunData(m_config);
    const auto numClasses = static_cast<int64_t>(data.classNames.size());

    TransformOptions trainTransform { m_config.model.imageSize, m_config.model.inChannels, d.randomCrop, d.flip };
    trainTransform.minScale = d.minScale;
    trainTransform.maxScale = d.maxScale;
    const TransformOptions valTransform { m_config.model.imageSize, m_config.model.inChannels, false, false };
    DataLoader trainLoader(std::move(data.train), m_config.optim.batchSize, trainTransform, /*shuffle=*/true,
        m_config.seed, /*dropLast=*/true, /*background=*/d.workers > 0);
    DataLoader valLoader(std::move(data.val), m_config.optim.batchSize, valTransform, /*shuffle=*/false, m_config.seed,
        /*dropLast=*/false, /*background=*/d.workers > 0);
    const int64_t accumulation = m_config.optim.accumulation;
    const int64_t itersPerEpoch = trainLoader.batchesPerEpoch() / accumulation;
    if (itersPerEpoch == 0)
        throw std::invalid_argument("config optim.accumulation " + std::to_string(accumulation) + ": more than the "
            + std::to_string(trainLoader.batchesPerEpoch()) + " batches of an epoch");
    const int64_t totalIterations = itersPerEpoch * m_config.optim.epochs;

    // Network and strategy.
    BuiltNetwork built = buildNetwork(m_config, numClasses, data.classNames);
    m_model = built.network;
    m_model->to(device);
    m_model->train();
    Backbone& backbone = m_model->backbone();
    Task& task = m_model->task();
    m_schedule = applyStrategy(backbone, m_config, itersPerEpoch);
    const bool reversible = backbone.mode() == ExecMode::Reversible;
    if (reversible)
        m_segmentLength = m_config.segments.every > 0 ? m_config.segments.every : backbone.segmentLength();
    m_optimizer = makeOptimizer(*m_model, m_config.optim);

    // A fixed probe batch from the validation set (no augmentation).
    valLoader.startEpoch(0);
    Batch first = *valLoader.next();
    const int64_t probeCount = std::min<int64_t>(8, first.target.samples());
    const at::Tensor probeInput = first.input.narrow(0, 0, probeCount).to(device);
    const TaskTarget probeTaskTarget = first.target.head(probeCount).to(device);
    const GradProbeTarget probe = makeProbeTarget(*m_model, probeInput, probeTaskTarget);
    // Dense tasks show their predictions on the first few validation samples after every evaluation.
    std::optional<PreviewSamples> preview;
    if (task.predictsPixels()) {
        const int64_t shown = std::min<int64_t>(4, first.target.samples());
        preview = PreviewSamples { first.input.narrow(0, 0, shown), first.target.tensor.narrow(0, 0, shown),
            valTransform.mean, valTransform.std, task.classNames() };
    }

    State state;
    if (!m_resumeDir.empty()) {
        loadCheckpoint(state);
        emitLog("info", "resumed from " + state.checkpointPath + " at iteration " + std::to_string(state.iteration));
    } else if (m_config.strategy == Strategy::Dr2Net && m_config.autoEnd.enabled) {
        chooseAutoEnd(probe);
    }

    RunStartedEvent started;
    started.name = m_config.name;
    started.strategy = toString(m_config.strategy);
    started.configJson = m_config.toJson().dump();
    started.backbone = backbone.describe();
    started.modelSummary = started.backbone.summary + ", " + task.describe();
    started.task = task.name();
    started.metrics = task.metrics();
    started.setup = { started.backbone.summary, task.name(), d.dataset, d.root, d.classes };
    started.sourceCheckpoint = built.checkpoint;
    started.checkpointDir = m_config.checkpoint.dir;
    started.device = describeDevice(device);
    started.threads = torch::get_num_threads();
    started.parameters = countParameters(*m_model, false);
    started.trainableParameters = countParameters(*m_model, true);
    started.branches = backbone.branchCount();
    started.iterationsPerEpoch = itersPerEpoch;
    started.totalIterations = totalIterations;
    started.startIteration = state.iteration;
    for (int64_t it : m_schedule->updateIterations())
        if (it <= totalIterations)
            started.plannedPath.emplace_back(it, m_schedule->at(it));
    for (auto* o : m_observers)
        o->onStarted(started);
    emitLog("info", "model from " + built.source);
    for (const auto& note : built.notes)
        emitLog(note.rfind("warning", 0) == 0 ? "warning" : "info", note);

    RunFinishedEvent finished;
    finished.primaryMetric = task.primaryMetric().name;
    auto params = m_model->parameters();
    std::vector<torch::Tensor> trainable;
    for (const auto& p : params)
        if (p.requires_grad())
            trainable.push_back(p);
    const int64_t startIteration = state.iteration;

    try {
        for (; state.epoch < m_config.optim.epochs; ++state.epoch) {
            trainLoader.startEpoch(state.epoch, state.batchInEpoch);
            while (state.batchInEpoch + accumulation <= itersPerEpoch * accumulation) {
                if (!waitWhilePaused())
                    break;
                const int64_t iteration = state.iteration;
                const Coefficients c = m_schedule->at(iteration);
                if (reversible || m_config.strategy == Strategy::Dr2Net)
                    backbone.setCoefficients(c.alpha, c.beta);
                if (reversible && m_config.segments.errorTarget > 0)
                    chooseSegments(iteration, probe);
                const double lr = learningRate(m_config.optim, iteration, totalIterations);
                for (auto& group : m_optimizer->param_groups())
                    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

                m_optimizer->zero_grad();
                PeakScope scope(meter);
                const auto t0 = std::chrono::steady_clock::now();
                double lossValue = 0.0;
                int64_t samples = 0;
                for (int64_t a = 0; a < accumulation; ++a) {
                    auto batch = trainLoader.next();
                    if (!batch)
                        throw std::logic_error("data loader ended early in epoch " + std::to_string(state.epoch));
                    const TaskTarget target = batch->target.to(device);
                    auto loss = task.loss(m_model->forward(batch->input.to(device)), target);
                    const double value = loss.item<double>();
                    if (!std::isfinite(value))
                        throw NonFinite("non-finite loss (" + std::to_string(value) + ") at iteration "
                            + std::to_string(iteration) + ", epoch " + std::to_string(state.epoch) + ", "
                            + formatCoefficients(c.alpha, c.beta));
                    (accumulation > 1 ? loss / static_cast<double>(accumulation) : loss).backward();
                    lossValue += value / static_cast<double>(accumulation);
                    samples += target.samples();
                }
                const double clip = m_config.optim.clipGrad > 0 ? m_config.optim.clipGrad : INFINITY;
                const double gradNorm = torch::nn::utils::clip_grad_norm_(trainable, clip);
                if (!std::isfinite(gradNorm))
                    throw NonFinite("non-finite gradient norm at iteration " + std::to_string(iteration) + ", epoch "
                        + std::to_string(state.epoch) + ", " + formatCoefficients(c.alpha, c.beta));
                m_optimizer->step();
                synchronize(device);
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

                IterationEvent event;
                event.iteration = iteration;
                event.epoch = state.epoch;
                event.loss = lossValue;
                event.learningRate = lr;
                event.alpha = backbone.alpha();
                event.beta = backbone.beta();
                event.gradNorm = gradNorm;
                event.stepSeconds = seconds;
                event.samplesPerSecond = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
                event.currentBytes = meter.currentBytes();
                event.peakBytes = scope.peakBytes(); // this step's own allocations, not another thread's
                event.heldBytes = scope.baselineBytes();
                event.segmentLength = reversible ? backbone.segmentLength() : 0;
                state.peakBytes = std::max(state.peakBytes, event.peakBytes);
                state.peakStepBytes = std::max(state.peakStepBytes, event.peakBytes - event.heldBytes);
                state.lastLoss = lossValue;
                for (auto* o : m_observers)
                    o->onIteration(event);

                state.iteration += 1;
                state.batchInEpoch += accumulation;
                if (reversible && m_config.probe.every > 0 && state.iteration % m_config.probe.every == 0) {
                    ProbeEvent probeEvent;
                    probeEvent.iteration = iteration;
                    probeEvent.report = probeGradientError(probe, backbone.alpha(), backbone.beta(), { false, false, m_config.seed });
                    for (auto* o : m_observers)
                        o->onProbe(probeEvent);
                }
                if (m_config.checkpoint.every > 0 && state.iteration % m_config.checkpoint.every == 0) {
                    saveCheckpoint(state);
                    state.checkpointPath = (fs::path(m_config.checkpoint.dir) / kCheckpointFile).string();
                }
            }
            if (m_cancelled)
                break;
            state.batchInEpoch = 0;
            EvaluationEvent evaluation = evaluate(valLoader, state.iteration, state.epoch);
            const MetricInfo primary = task.primaryMetric();
            const double value = evaluation.metrics.count(primary.name) ? evaluation.metrics.at(primary.name) : 0.0;
            state.lastMetrics = evaluation.metrics;
            if (!state.evaluated || (primary.higherIsBetter ? value > state.bestPrimary : value < state.bestPrimary))
                state.bestPrimary = value;
            state.evaluated = true;
            for (auto* o : m_observers)
                o->onEvaluation(evaluation);
            if (preview) {
                const PredictionPreviewEvent shown
                    = makePredictionPreview(*m_model, *preview, evaluation.iteration, evaluation.epoch);
                for (auto* o : m_observers)
                    o->onPreview(shown);
            }
        }
        if (m_cancelled) {
            finished.outcome = RunOutcome::Cancelled;
            emitLog("info", "cancelled at iteration " + std::to_string(state.iteration));
        }
        saveCheckpoint(state);
        if (!m_config.checkpoint.dir.empty())
            state.checkpointPath = (fs::path(m_config.checkpoint.dir) / kCheckpointFile).string();
    } catch (const NonFinite& e) {
        finished.outcome = RunOutcome::Failed;
        finished.message = e.what();
        emitLog("error", finished.message + (state.checkpointPath.empty() ? "" : "; last good checkpoint: " + state.checkpointPath));
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - startTime).count();
    finished.iterations = state.iteration;
    finished.bestPrimary = state.bestPrimary;
    finished.finalMetrics = state.lastMetrics;
    finished.finalLoss = state.lastLoss;
    finished.peakBytes = state.peakBytes;
    finished.peakStepBytes = state.peakStepBytes;
    finished.seconds = seconds;
    const int64_t done = state.iteration - startIteration;
    finished.secondsPerIteration = done > 0 ? seconds / static_cast<double>(done) : 0.0;
    finished.checkpointPath = state.checkpointPath;
    for (auto* o : m_observers)
        o->onFinished(finished);
    return finished;
}

} // namespace dr2
