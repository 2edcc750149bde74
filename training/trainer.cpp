#include "training/trainer.h"

#include "core/autocast.h"
#include "core/device.h"
#include "core/memory_meter.h"
#include "core/rng_state.h"
#include "training/data_loader.h"
#include "training/grad_scaler.h"
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
    GradScalerState lossScale; ///< float16 loss scaling (unused otherwise)
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

GradProbeOptions Trainer::probeOptions() const
{
    // Probes measure the error of the run's own precision: under bf16 it grows far faster with depth than in fp32,
    // so end points and segment lengths chosen from an fp32 probe would be far too optimistic.
    GradProbeOptions options;
    options.seed = m_config.seed;
    options.precision = m_config.optim.precision;
    return options;
}

template <class Call> void Trainer::notify(const Call& call)
{
    if (leader())
        for (auto* o : m_observers)
            call(*o);
}

void Trainer::emitLog(const std::string& level, const std::string& text)
{
    // Every rank's errors reach its own observers (a rank's failure is news wherever it happens); the rest is
    // rank 0's to tell.
    if (level != "error" && !leader())
        return;
    const std::string line = m_group.distributed() && !leader() ? "rank " + std::to_string(m_group.rank) + ": " + text : text;
    for (auto* o : m_observers)
        o->onLog(level, line);
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
    AutoEndEvent event;
    event.targetMse = m_config.autoEnd.targetMse;
    event.chosen = options.end;
    bool found = false;
    if (leader()) { // the other ranks take rank 0's choice: probes need not agree to the last bit across ranks
        ScheduleOptions path = options;
        path.tauIterations = m_config.autoEnd.points - 1;
        path.eta = 1;
        const CoefficientSchedule walk(path);
        for (int64_t k = 0; k < m_config.autoEnd.points; ++k) {
            const Coefficients point = walk.at(k);
            const auto report = probeGradientError(target, point.alpha, point.beta, probeOptions());
            const double mse = report.finite ? report.overall.mse : INFINITY;
            event.probes.emplace_back(point, mse);
            if (!found && mse < m_config.autoEnd.targetMse) {
                event.chosen = point;
                found = true;
            }
        }
    }
    at::Tensor chosen = torch::tensor({ event.chosen.alpha, event.chosen.beta, found ? 1.0 : 0.0 }, torch::kDouble);
    m_parallel->broadcast(chosen);
    event.chosen = { chosen[0].item<double>(), chosen[1].item<double>() };
    if (chosen[2].item<double>() == 0.0)
        emitLog("warning", "automatic end point: no probed point reached MSE < " + std::to_string(event.targetMse)
                + "; keeping the configured end " + formatCoefficients(options.end.alpha, options.end.beta));
    ScheduleOptions schedule = options;
    schedule.end = event.chosen;
    m_schedule = std::make_unique<CoefficientSchedule>(schedule);
    emitLog("info", "automatic end point " + formatCoefficients(event.chosen.alpha, event.chosen.beta));
    notify([&](TrainObserver& o) { o.onAutoEnd(event); });
}

void Trainer::chooseSegments(int64_t iteration, const GradProbeTarget& target)
{
    Backbone& backbone = m_model->backbone();
    const double alpha = backbone.alpha();
    const double beta = backbone.beta();
    // Re-choose only when the coefficients moved noticeably: each choice costs a few probes. Every rank sees the
    // same coefficients, so every rank takes this branch together.
    if (m_segmentChosenAt.first >= 0 && std::abs(alpha - m_segmentChosenAt.first) < 0.05
        && std::abs(beta - m_segmentChosenAt.second) < 0.05)
        return;
    m_segmentChosenAt = { alpha, beta };
    int64_t chosen = 1;
    double measured = 0.0;
    if (leader()) {
        // One length for every stage, searched up to the largest stage (a stage shorter than it is one segment).
        int64_t n = 1;
        for (auto* stack : backbone.stacks())
            n = std::max(n, stack->size());
        for (int64_t length = n; length >= 1; length = length == 1 ? 0 : std::max<int64_t>(1, length / 2)) {
            backbone.setSegmentEvery(length);
            const auto report = probeGradientError(target, alpha, beta, probeOptions());
            measured = report.finite ? report.overall.mse : INFINITY;
            if (measured <= m_config.segments.errorTarget || length == 1) {
                chosen = length;
                break;
            }
        }
    }
    at::Tensor decision = torch::tensor({ static_cast<double>(chosen), measured }, torch::kDouble);
    m_parallel->broadcast(decision);
    chosen = std::llround(decision[0].item<double>());
    measured = decision[1].item<double>();
    backbone.setSegmentEvery(chosen);
    if (chosen != m_segmentLength) {
        m_segmentLength = chosen;
        const SegmentEvent event { iteration, alpha, beta, chosen, measured };
        notify([&](TrainObserver& o) { o.onSegmentChange(event); });
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
    // Each rank evaluated its shard of the validation set; the metrics are those of the whole set.
    at::Tensor sums = evaluation->sums();
    m_parallel->sum(sums);
    evaluation->setSums(sums);
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
    // Every rank's dropout stream goes into the one checkpoint (a collective: all ranks call this together).
    const std::vector<at::Tensor> streams = m_parallel->gatherAll(RngState::capture(m_stream->generator()).tensor());
    if (!leader())
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
    // Dropout and drop-path masks come from the run's stream (on a GPU, its generator for that device); rank r's
    // is row r of rng_streams, rank 0's also rng_stream (what a checkpoint of one process has always had).
    archive.write("rng_stream", streams.front());
    archive.write("rng_streams", torch::stack(streams));
    archive.write("world_size", c10::IValue(static_cast<int64_t>(m_group.worldSize)));
    archive.write("loss_scale", c10::IValue(state.lossScale.scale));
    archive.write("loss_scale_good_steps", c10::IValue(state.lossScale.goodSteps));
    archive.write("loss_scale_skipped", c10::IValue(state.lossScale.skippedSteps));
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
    c10::IValue value;
    const int64_t worldSize = archive.try_read("world_size", value) ? value.toInt() : 1;
    if (worldSize != m_group.worldSize)
        throw std::invalid_argument("resume '" + path + "': written by a run of " + std::to_string(worldSize)
            + " rank(s), this run has " + std::to_string(m_group.worldSize) + "; resume with the same world size "
            "(--nproc " + std::to_string(worldSize) + ") to continue exactly");
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
    if (archive.try_read("loss_scale", value))
        state.lossScale.scale = value.toDouble();
    if (archive.try_read("loss_scale_good_steps", value))
        state.lossScale.goodSteps = value.toInt();
    if (archive.try_read("loss_scale_skipped", value))
        state.lossScale.skippedSteps = value.toInt();
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
    if (archive.try_read("rng_streams", rng))
        RngState::fromTensor(m_stream->generator(), rng[m_group.rank].clone()).restore();
    else if (archive.try_read("rng_stream", rng))
        RngState::fromTensor(m_stream->generator(), rng).restore();
    else
        throw std::runtime_error("resume '" + path + "': no random stream state (rng_stream) in the checkpoint: it was "
            "written by a version whose dropout drew from the process-wide generator; start the run again");
    state.checkpointPath = path;
}

/// What one run trains with, built by prepare() before the first iteration.
struct Trainer::Session {
    std::unique_ptr<DataLoader> train;
    std::unique_ptr<DataLoader> val;
    int64_t accumulation = 1;
    int64_t itersPerEpoch = 0;
    int64_t totalIterations = 0;
    bool reversible = false;
    std::vector<torch::Tensor> trainable;
    /// A fixed probe batch from the validation set (no augmentation), the same on every rank.
    std::optional<GradProbeTarget> probe;
    /// Dense tasks show their predictions on the first few validation samples after every evaluation.
    std::optional<PreviewSamples> preview;
    BuiltNetwork built;
    RunSetup setup;
    /// float16 autocast's loss scaling (disabled, a plain step, in fp32 and bf16).
    GradScaler scaler { GradScalerOptions { false } };
};

std::unique_ptr<Trainer::Session> Trainer::prepare()
{
    auto session = std::make_unique<Session>();
    const c10::Device device = m_device;
    const auto& d = m_config.data;
    RunData data = loadRunData(m_config);
    const auto numClasses = static_cast<int64_t>(data.classNames.size());

    TransformOptions trainTransform { m_config.model.imageSize, m_config.model.inChannels, d.randomCrop, d.flip };
    trainTransform.minScale = d.minScale;
    trainTransform.maxScale = d.maxScale;
    const TransformOptions valTransform { m_config.model.imageSize, m_config.model.inChannels, false, false };
    session->train = std::make_unique<DataLoader>(std::move(data.train), m_config.optim.batchSize, trainTransform,
        /*shuffle=*/true, m_config.seed, /*dropLast=*/true, /*background=*/d.workers > 0);
    session->val = std::make_unique<DataLoader>(std::move(data.val), m_config.optim.batchSize, valTransform,
        /*shuffle=*/false, m_config.seed, /*dropLast=*/false, /*background=*/d.workers > 0);
    session->train->setShard(m_group.rank, m_group.worldSize);
    session->accumulation = m_config.optim.accumulation;
    session->itersPerEpoch = session->train->batchesPerEpoch() / session->accumulation;
    if (session->itersPerEpoch == 0)
        throw std::invalid_argument("config optim.accumulation " + std::to_string(session->accumulation)
            + ": more than the " + std::to_string(session->train->batchesPerEpoch()) + " batches of an epoch");
    session->totalIterations = session->itersPerEpoch * m_config.optim.epochs;

    // Network and strategy; rank 0's initial weights (random heads included) are every rank's.
    session->built = buildNetwork(m_config, numClasses, data.classNames);
    m_model = session->built.network;
    m_model->to(device);
    m_model->train();
    m_parallel->broadcastModule(*m_model);
    Backbone& backbone = m_model->backbone();
    Task& task = m_model->task();
    m_schedule = applyStrategy(backbone, m_config, session->itersPerEpoch);
    session->reversible = backbone.mode() == ExecMode::Reversible;
    if (session->reversible)
        m_segmentLength = m_config.segments.every > 0 ? m_config.segments.every : backbone.segmentLength();
    m_optimizer = makeOptimizer(*m_model, m_config.optim);
    session->scaler = GradScaler(GradScalerOptions { m_config.optim.precision == Precision::Float16 });
    for (const auto& p : m_model->parameters())
        if (p.requires_grad())
            session->trainable.push_back(p);

    // The probe and preview batch is the validation set's first, before the set is split between ranks.
    session->val->startEpoch(0);
    const Batch first = *session->val->next();
    session->val->setShard(m_group.rank, m_group.worldSize);
    const int64_t probeCount = std::min<int64_t>(8, first.target.samples());
    session->probe = makeProbeTarget(
        *m_model, first.input.narrow(0, 0, probeCount).to(device), first.target.head(probeCount).to(device));
    if (task.predictsPixels()) {
        const int64_t shown = std::min<int64_t>(4, first.target.samples());
        session->preview = PreviewSamples { first.input.narrow(0, 0, shown), first.target.tensor.narrow(0, 0, shown),
            valTransform.mean, valTransform.std, task.classNames() };
    }
    session->setup = { backbone.describe().summary, task.name(), d.dataset, d.root, d.classes };
    return session;
}

void Trainer::announce(const Session& session, const State& state)
{
    Backbone& backbone = m_model->backbone();
    const Task& task = m_model->task();
    RunStartedEvent started;
    started.name = m_config.name;
    started.strategy = toString(m_config.strategy);
    started.configJson = m_config.toJson().dump();
    started.backbone = backbone.describe();
    started.modelSummary = started.backbone.summary + ", " + task.describe();
    started.task = task.name();
    started.metrics = task.metrics();
    started.setup = session.setup;
    started.sourceCheckpoint = session.built.checkpoint;
    started.checkpointDir = m_config.checkpoint.dir;
    started.device = describeDevice(m_device);
    started.threads = torch::get_num_threads();
    const std::vector<Dr2StackImpl*> stacks = backbone.stacks();
    started.recomputeOverlap = !stacks.empty() && stacks.front()->overlapsBackward(m_device);
    started.worldSize = m_group.worldSize;
    started.parameters = countParameters(*m_model, false);
    started.trainableParameters = countParameters(*m_model, true);
    started.branches = backbone.branchCount();
    started.iterationsPerEpoch = session.itersPerEpoch;
    started.totalIterations = session.totalIterations;
    started.startIteration = state.iteration;
    for (int64_t it : m_schedule->updateIterations())
        if (it <= session.totalIterations)
            started.plannedPath.emplace_back(it, m_schedule->at(it));
    notify([&](TrainObserver& o) { o.onStarted(started); });
    emitLog("info", "model from " + session.built.source);
    for (const auto& note : session.built.notes)
        emitLog(note.rfind("warning", 0) == 0 ? "warning" : "info", note);
    if (m_group.distributed())
        emitLog("info", "data parallel: " + std::to_string(m_group.worldSize) + " ranks over " + m_parallel->backend()
                + ", " + std::to_string(m_config.optim.batchSize) + " samples per rank and batch");
}

IterationEvent Trainer::step(State& state, Session& session)
{
    Backbone& backbone = m_model->backbone();
    Task& task = m_model->task();
    const c10::Device device = m_device;
    const int64_t iteration = state.iteration;
    const Coefficients c = m_schedule->at(iteration);
    if (session.reversible || m_config.strategy == Strategy::Dr2Net)
        backbone.setCoefficients(c.alpha, c.beta);
    if (session.reversible && m_config.segments.errorTarget > 0)
        chooseSegments(iteration, *session.probe);
    const double lr = learningRate(m_config.optim, iteration, session.totalIterations);
    for (auto& group : m_optimizer->param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

    m_optimizer->zero_grad();
    MemoryMeter& meter = MemoryMeter::forDevice(device);
    PeakScope scope(meter);
    const auto t0 = std::chrono::steady_clock::now();
    double lossValue = 0.0;
    double nonFiniteLoss = 0.0;
    int64_t samples = 0;
    for (int64_t a = 0; a < session.accumulation; ++a) {
        auto batch = session.train->next();
        if (!batch)
            throw std::logic_error("data loader ended early in epoch " + std::to_string(state.epoch));
        const TaskTarget target = batch->target.to(device);
        torch::Tensor loss;
        {
            // Only the forward and the loss run under autocast (as torch.autocast is meant to be used); the
            // reversible backward re-enters the state each segment's forward saw, wherever backward() is called.
            const AutocastScope autocast(device, m_config.optim.precision);
            loss = task.loss(m_model->forward(batch->input.to(device)), target);
        }
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
            nonFiniteLoss = value; // every rank must reach the reduction below before any of them stops
            break;
        }
        session.scaler.scale(session.accumulation > 1 ? loss / static_cast<double>(session.accumulation) : loss)
            .backward();
        lossValue += value / static_cast<double>(session.accumulation);
        samples += target.samples();
    }
    // One small all-reduce agrees on the batch's loss and size, a NaN anywhere, and a cancel on any rank.
    m_parallel->heartbeat(iteration);
    at::Tensor agreed = torch::tensor({ lossValue, static_cast<double>(samples), nonFiniteLoss != 0.0 ? 1.0 : 0.0,
                                          m_cancelled ? 1.0 : 0.0 },
        torch::kDouble);
    m_parallel->sum(agreed);
    if (agreed[2].item<double>() > 0)
        throw NonFinite("non-finite loss (" + (nonFiniteLoss != 0.0 ? std::to_string(nonFiniteLoss) : "on another rank")
            + ") at iteration " + std::to_string(iteration) + ", epoch " + std::to_string(state.epoch) + ", "
            + formatCoefficients(c.alpha, c.beta));
    // This step still completes on every rank; the loop stops after it, on all of them (see stopping()).
    m_stopAgreed = agreed[3].item<double>() > 0;
    lossValue = agreed[0].item<double>() / static_cast<double>(m_group.worldSize);
    samples = std::llround(agreed[1].item<double>());
    // Averaged before unscaling: an overflow on one rank reaches every rank, so all of them skip the same step.
    m_parallel->averageGradients(session.trainable);
    session.scaler.unscale(*m_optimizer);
    const double clip = m_config.optim.clipGrad > 0 ? m_config.optim.clipGrad : INFINITY;
    const double gradNorm = torch::nn::utils::clip_grad_norm_(session.trainable, clip);
    if (!std::isfinite(gradNorm) && !session.scaler.enabled())
        throw NonFinite("non-finite gradient norm at iteration " + std::to_string(iteration) + ", epoch "
            + std::to_string(state.epoch) + ", " + formatCoefficients(c.alpha, c.beta));
    if (!session.scaler.step(*m_optimizer))
        emitLog("warning", "float16 gradients overflowed at iteration " + std::to_string(iteration)
                + ": step skipped, loss scale " + std::to_string(session.scaler.scaleValue()) + " halved");
    session.scaler.update();
    state.lossScale = session.scaler.state();
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
    event.segmentLength = session.reversible ? backbone.segmentLength() : 0;
    return event;
}

void Trainer::afterStep(State& state, Session& session, int64_t iteration)
{
    if (leader() && session.reversible && m_config.probe.every > 0 && state.iteration % m_config.probe.every == 0) {
        Backbone& backbone = m_model->backbone();
        ProbeEvent probeEvent;
        probeEvent.iteration = iteration;
        probeEvent.report
            = probeGradientError(*session.probe, backbone.alpha(), backbone.beta(), probeOptions());
        notify([&](TrainObserver& o) { o.onProbe(probeEvent); });
    }
    if (m_config.checkpoint.every > 0 && state.iteration % m_config.checkpoint.every == 0) {
        saveCheckpoint(state);
        state.checkpointPath = (fs::path(m_config.checkpoint.dir) / kCheckpointFile).string();
    }
}

void Trainer::trainEpoch(State& state, Session& session)
{
    session.train->startEpoch(state.epoch, state.batchInEpoch);
    while (state.batchInEpoch + session.accumulation <= session.itersPerEpoch * session.accumulation) {
        // A group of one stops (or waits) here; a group stops together after the step that saw a cancel.
        if (!m_group.distributed() && !waitWhilePaused())
            break;
        const int64_t iteration = state.iteration;
        const IterationEvent event = step(state, session);
        state.peakBytes = std::max(state.peakBytes, event.peakBytes);
        state.peakStepBytes = std::max(state.peakStepBytes, event.peakBytes - event.heldBytes);
        state.lastLoss = event.loss;
        notify([&](TrainObserver& o) { o.onIteration(event); });
        state.iteration += 1;
        state.batchInEpoch += session.accumulation;
        afterStep(state, session, iteration);
        if (m_group.distributed() && stopping())
            break;
    }
}

void Trainer::evaluateEpoch(State& state, Session& session)
{
    const Task& task = m_model->task();
    EvaluationEvent evaluation = evaluate(*session.val, state.iteration, state.epoch);
    const MetricInfo primary = task.primaryMetric();
    const double value = evaluation.metrics.count(primary.name) ? evaluation.metrics.at(primary.name) : 0.0;
    state.lastMetrics = evaluation.metrics;
    if (!state.evaluated || (primary.higherIsBetter ? value > state.bestPrimary : value < state.bestPrimary))
        state.bestPrimary = value;
    state.evaluated = true;
    notify([&](TrainObserver& o) { o.onEvaluation(evaluation); });
    if (session.preview && leader()) {
        const PredictionPreviewEvent shown
            = makePredictionPreview(*m_model, *session.preview, evaluation.iteration, evaluation.epoch);
        notify([&](TrainObserver& o) { o.onPreview(shown); });
    }
}

RunFinishedEvent Trainer::run()
{
    const auto startTime = std::chrono::steady_clock::now();
    m_config.checkInputs(); // the config was validated on construction; its files must exist now
    refuseIfCannotFit(m_config); // before any data is loaded at the config's size
    if (m_config.threads > 0)
        torch::set_num_threads(m_config.threads);
    m_device = parseDevice(m_config.device);
    checkPrecision(m_config.optim.precision, m_device, "optim.precision"); // `device: auto` is resolved only now
    if (m_config.worldSize != 0 && m_config.worldSize != m_group.worldSize)
        throw std::invalid_argument("config world_size " + std::to_string(m_config.worldSize) + ": this process is one of "
            + std::to_string(m_group.worldSize) + " rank(s); start it with `dr2net-cli train --nproc "
            + std::to_string(m_config.worldSize) + "` (or a launcher setting WORLD_SIZE), or set world_size to 0");
    m_config.worldSize = m_group.worldSize; // recorded with the run (started.configJson, checkpoints)
    m_parallel = std::make_unique<DataParallel>(m_group, m_device);
    m_stream = std::make_unique<RandomStream>(rankSeed(m_config.seed, m_group.rank), m_device);
    const RandomStreamScope streamScope(*m_stream);
    m_cancelled = false;
    m_stopAgreed = false;

    std::unique_ptr<Session> session = prepare();
    State state;
    if (!m_resumeDir.empty()) {
        loadCheckpoint(state);
        session->scaler.restore(state.lossScale);
        emitLog("info", "resumed from " + state.checkpointPath + " at iteration " + std::to_string(state.iteration));
    } else if (m_config.strategy == Strategy::Dr2Net && m_config.autoEnd.enabled) {
        chooseAutoEnd(*session->probe);
    }
    announce(*session, state);

    RunFinishedEvent finished;
    finished.primaryMetric = m_model->task().primaryMetric().name;
    const int64_t startIteration = state.iteration;
    const auto fail = [&](const std::string& message) {
        finished.outcome = RunOutcome::Failed;
        finished.message = message;
        emitLog("error", message + (state.checkpointPath.empty() ? "" : "; last good checkpoint: " + state.checkpointPath));
    };
    try {
        for (; state.epoch < m_config.optim.epochs; ++state.epoch) {
            trainEpoch(state, *session);
            if (stopping())
                break;
            state.batchInEpoch = 0;
            evaluateEpoch(state, *session);
        }
        if (stopping()) {
            finished.outcome = RunOutcome::Cancelled;
            emitLog("info", "cancelled at iteration " + std::to_string(state.iteration));
        }
        saveCheckpoint(state);
        if (!m_config.checkpoint.dir.empty())
            state.checkpointPath = (fs::path(m_config.checkpoint.dir) / kCheckpointFile).string();
    } catch (const NonFinite& e) {
        fail(e.what());
    } catch (const DistributedError& e) {
        fail(e.what()); // a peer died or hung: what was recorded stays, the run is marked failed
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
