#include "training/trainer.h"

#include "core/device.h"
#include "core/memory_meter.h"
#include "core/rng_state.h"
#include "training/data_loader.h"
#include "training/image_dataset.h"
#include "training/model_factory.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dr2 {

namespace fs = std::filesystem;

/// Where the run stands; everything a resumed run needs to continue exactly.
struct Trainer::State {
    int64_t iteration = 0;
    int64_t epoch = 0;
    int64_t batchInEpoch = 0;
    double bestTop1 = 0.0;
    double lastTop1 = 0.0;
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

/// Parameters that get weight decay: matrices and convolution kernels, not norms, biases, tokens or gains.
bool decays(const std::string& name, const torch::Tensor& p)
{
    return p.dim() >= 2 && name != "pos_embed" && name != "cls_token";
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

GradProbeTarget Trainer::probeTarget(const at::Tensor& images, const at::Tensor& labels)
{
    return { m_model.ptr().get(), &m_model->stack(), [this, &images, &labels](c10::ScalarType dtype) {
                return torch::nn::functional::cross_entropy(m_model->forward(images.to(dtype)), labels);
            } };
}

void Trainer::chooseAutoEnd(const at::Tensor& images, const at::Tensor& labels)
{
    const ScheduleOptions& options = m_schedule->options();
    ScheduleOptions path = options;
    path.tauIterations = m_config.autoEnd.points - 1;
    path.eta = 1;
    const CoefficientSchedule walk(path);
    const GradProbeTarget target = probeTarget(images, labels);
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

void Trainer::chooseSegments(int64_t iteration, const at::Tensor& images, const at::Tensor& labels)
{
    auto& stack = m_model->stack();
    const double alpha = stack.alpha();
    const double beta = stack.beta();
    // Re-choose only when the coefficients moved noticeably: each choice costs a few probes.
    if (m_segmentChosenAt.first >= 0 && std::abs(alpha - m_segmentChosenAt.first) < 0.05
        && std::abs(beta - m_segmentChosenAt.second) < 0.05)
        return;
    m_segmentChosenAt = { alpha, beta };
    const GradProbeTarget target = probeTarget(images, labels);
    const int64_t n = stack.size();
    int64_t chosen = 1;
    double measured = 0.0;
    for (int64_t length = n; length >= 1; length = length == 1 ? 0 : std::max<int64_t>(1, length / 2)) {
        stack.setSegmentEvery(length);
        const auto report = probeGradientError(target, alpha, beta, { false, false, m_config.seed });
        measured = report.finite ? report.overall.mse : INFINITY;
        if (measured <= m_config.segments.errorTarget || length == 1) {
            chosen = length;
            break;
        }
    }
    stack.setSegmentEvery(chosen);
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
    double lossSum = 0.0;
    int64_t correct1 = 0;
    int64_t correct5 = 0;
    int64_t seen = 0;
    loader.startEpoch(0);
    while (auto batch = loader.next()) {
        auto images = batch->images.to(device);
        auto labels = batch->labels.to(device);
        auto logits = m_model->forward(images);
        lossSum += torch::nn::functional::cross_entropy(logits, labels,
                       torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
        const int64_t k = std::min<int64_t>(5, logits.size(1));
        auto top = std::get<1>(logits.topk(k, 1));
        auto hits = top.eq(labels.unsqueeze(1));
        correct1 += hits.select(1, 0).sum().item<int64_t>();
        correct5 += hits.any(1).sum().item<int64_t>();
        seen += labels.size(0);
    }
    m_model->train();
    EvaluationEvent event;
    event.iteration = iteration;
    event.epoch = epoch;
    event.samples = seen;
    event.loss = seen ? lossSum / static_cast<double>(seen) : 0.0;
    event.top1 = seen ? static_cast<double>(correct1) / static_cast<double>(seen) : 0.0;
    event.top5 = seen ? static_cast<double>(correct5) / static_cast<double>(seen) : 0.0;
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
    archive.write("best_top1", c10::IValue(state.bestTop1));
    archive.write("segment_length", c10::IValue(m_segmentLength));
    archive.write("segment_alpha", c10::IValue(m_segmentChosenAt.first));
    archive.write("segment_beta", c10::IValue(m_segmentChosenAt.second));
    archive.write("rng_cpu", RngState::capture(c10::Device(c10::kCPU)).tensor());
    const c10::Device device = m_device;
    if (!device.is_cpu()) // dropout masks on a GPU come from its own generator
        archive.write("rng_device", RngState::capture(device).tensor());
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
    torch::serialize::InputArchive model;
    archive.read("model", model);
    m_model->load(model);
    torch::serialize::InputArchive optimizer;
    archive.read("optimizer", optimizer);
    m_optimizer->load(optimizer);
    c10::IValue value;
    archive.read("iteration", value);
    state.iteration = value.toInt();
    archive.read("epoch", value);
    state.epoch = value.toInt();
    archive.read("batch_in_epoch", value);
    state.batchInEpoch = value.toInt();
    archive.read("best_top1", value);
    state.bestTop1 = value.toDouble();
    archive.read("segment_length", value);
    m_segmentLength = value.toInt();
    archive.read("segment_alpha", value);
    m_segmentChosenAt.first = value.toDouble();
    archive.read("segment_beta", value);
    m_segmentChosenAt.second = value.toDouble();
    if (m_segmentLength > 0)
        m_model->stack().setSegmentEvery(m_segmentLength);
    ScheduleOptions schedule = m_schedule->options();
    archive.read("schedule_end_alpha", value);
    schedule.end.alpha = value.toDouble();
    archive.read("schedule_end_beta", value);
    schedule.end.beta = value.toDouble();
    if (!m_schedule->isConstant())
        m_schedule = std::make_unique<CoefficientSchedule>(schedule);
    at::Tensor rng;
    archive.read("rng_cpu", rng);
    RngState::fromTensor(c10::Device(c10::kCPU), rng).restore();
    const c10::Device device = m_device;
    if (!device.is_cpu()) {
        at::Tensor deviceRng;
        if (archive.try_read("rng_device", deviceRng))
            RngState::fromTensor(device, deviceRng).restore();
    }
    state.checkpointPath = path;
}

RunFinishedEvent Trainer::run()
{
    const auto startTime = std::chrono::steady_clock::now();
    if (m_config.threads > 0)
        torch::set_num_threads(m_config.threads);
    m_device = parseDevice(m_config.device);
    const c10::Device device = m_device;
    MemoryMeter& meter = MemoryMeter::forDevice(device);
    m_cancelled = false;

    // Data.
    const auto& d = m_config.data;
    ImageDataset train;
    ImageDataset val;
    if (d.dataset == "fashion-mnist") {
        train = loadFashionMnist(d.root, /*train=*/true);
        val = d.valFraction > 0 ? ImageDataset() : loadFashionMnist(d.root, /*train=*/false);
    } else if (d.dataset == "clips") {
        train = loadClipFolder(d.root, m_config.model.imageSize, m_config.model.inChannels, m_config.model.numFrames);
    } else {
        train = loadImageFolder(d.root, m_config.model.imageSize, m_config.model.inChannels);
    }
    if (d.dataset != "fashion-mnist" || d.valFraction > 0)
        std::tie(train, val) = splitValidation(train, d.valFraction > 0 ? d.valFraction : 0.2, m_config.seed);
    train = takeSubset(selectClasses(train, d.classes), d.trainLimit, m_config.seed);
    val = takeSubset(selectClasses(val, d.classes), d.valLimit, m_config.seed + 1);
    const int64_t numClasses = train.numClasses();

    TransformOptions trainTransform { m_config.model.imageSize, m_config.model.inChannels, d.randomCrop, d.flip };
    TransformOptions valTransform { m_config.model.imageSize, m_config.model.inChannels, false, false };
    DataLoader trainLoader(train, m_config.optim.batchSize, trainTransform, /*shuffle=*/true, m_config.seed,
        /*dropLast=*/true, /*background=*/d.workers > 0);
    DataLoader valLoader(val, m_config.optim.batchSize, valTransform, /*shuffle=*/false, m_config.seed,
        /*dropLast=*/false, /*background=*/d.workers > 0);
    const int64_t accumulation = m_config.optim.accumulation;
    const int64_t itersPerEpoch = trainLoader.batchesPerEpoch() / accumulation;
    if (itersPerEpoch == 0)
        throw std::invalid_argument("config optim.accumulation " + std::to_string(accumulation) + ": more than the "
            + std::to_string(trainLoader.batchesPerEpoch()) + " batches of an epoch");
    const int64_t totalIterations = itersPerEpoch * m_config.optim.epochs;

    // Model and strategy.
    BuiltModel built = buildModel(m_config, numClasses);
    m_model = built.model;
    m_model->to(device);
    m_model->train();
    auto& stack = m_model->stack();
    switch (m_config.strategy) {
    case Strategy::Conventional:
        stack.setMode(ExecMode::Plain);
        m_schedule = std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant({ 1.0, 0.0 }));
        break;
    case Strategy::Frozen:
        stack.setMode(ExecMode::Plain);
        for (auto& item : m_model->named_parameters())
            if (item.key().rfind("head.", 0) != 0)
                item.value().set_requires_grad(false);
        m_schedule = std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant({ 1.0, 0.0 }));
        break;
    case Strategy::ReversibleScratch:
    case Strategy::HardFinetune:
        stack.setMode(ExecMode::Reversible);
        m_schedule = std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant({ 0.0, 1.0 }));
        break;
    case Strategy::Vanilla:
        stack.setMode(ExecMode::Reversible);
        m_schedule = std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant({ 1.0, 0.1 }));
        break;
    case Strategy::Dr2Net: {
        stack.setMode(ExecMode::Reversible);
        ScheduleOptions options = m_config.schedule;
        if (m_config.tauEpochs > 0)
            options.tauIterations = std::max<int64_t>(1, std::llround(m_config.tauEpochs * static_cast<double>(itersPerEpoch)));
        m_schedule = std::make_unique<CoefficientSchedule>(options);
        break;
    }
    }
    const bool reversible = stack.mode() == ExecMode::Reversible;
    if (reversible && m_config.segments.every > 0) {
        stack.setSegmentEvery(m_config.segments.every);
        m_segmentLength = m_config.segments.every;
    } else if (reversible) {
        m_segmentLength = stack.size();
    }

    // Optimizer: AdamW, no weight decay on norms, biases, tokens and layer-scale gains.
    std::vector<torch::Tensor> decay;
    std::vector<torch::Tensor> noDecay;
    for (auto& item : m_model->named_parameters()) {
        if (!item.value().requires_grad())
            continue;
        (decays(item.key(), item.value()) ? decay : noDecay).push_back(item.value());
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay,
        std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(m_config.optim.lr).weight_decay(m_config.optim.weightDecay)));
    groups.emplace_back(noDecay,
        std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(m_config.optim.lr).weight_decay(0.0)));
    m_optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups));

    // A fixed probe batch from the validation set (no augmentation).
    valLoader.startEpoch(0);
    Batch first = *valLoader.next();
    const int64_t probeCount = std::min<int64_t>(8, first.labels.size(0));
    const at::Tensor probeImages = first.images.narrow(0, 0, probeCount).to(device);
    const at::Tensor probeLabels = first.labels.narrow(0, 0, probeCount).to(device);

    State state;
    if (!m_resumeDir.empty()) {
        loadCheckpoint(state);
        emitLog("info", "resumed from " + state.checkpointPath + " at iteration " + std::to_string(state.iteration));
    } else if (m_config.strategy == Strategy::Dr2Net && m_config.autoEnd.enabled) {
        chooseAutoEnd(probeImages, probeLabels);
    }

    RunStartedEvent started;
    started.name = m_config.name;
    started.strategy = toString(m_config.strategy);
    started.configJson = m_config.toJson().dump();
    {
        const auto& o = m_model->options();
        std::ostringstream summary;
        summary << "vit " << o.embedDim << "d×" << o.depth << " (" << stack.size() << " branches, " << o.heads
                << " heads), " << o.imageSize << "² patch " << o.patchSize << ", " << o.numClasses << " classes";
        started.modelSummary = summary.str();
    }
    started.device = describeDevice(device);
    started.threads = torch::get_num_threads();
    started.parameters = countParameters(*m_model, false);
    started.trainableParameters = countParameters(*m_model, true);
    started.branches = stack.size();
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
    finished.status = "finished";
    auto params = m_model->parameters();
    std::vector<torch::Tensor> trainable;
    for (const auto& p : params)
        if (p.requires_grad())
            trainable.push_back(p);
    const auto ceOptions = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(m_config.optim.labelSmoothing);
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
                    stack.setCoefficients(c.alpha, c.beta);
                if (reversible && m_config.segments.errorTarget > 0)
                    chooseSegments(iteration, probeImages, probeLabels);
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
                    auto images = batch->images.to(device);
                    auto labels = batch->labels.to(device);
                    auto loss = torch::nn::functional::cross_entropy(m_model->forward(images), labels, ceOptions);
                    const double value = loss.item<double>();
                    if (!std::isfinite(value))
                        throw NonFinite("non-finite loss (" + std::to_string(value) + ") at iteration "
                            + std::to_string(iteration) + ", epoch " + std::to_string(state.epoch) + ", "
                            + formatCoefficients(c.alpha, c.beta));
                    (accumulation > 1 ? loss / static_cast<double>(accumulation) : loss).backward();
                    lossValue += value / static_cast<double>(accumulation);
                    samples += labels.size(0);
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
                event.alpha = stack.alpha();
                event.beta = stack.beta();
                event.gradNorm = gradNorm;
                event.stepSeconds = seconds;
                event.samplesPerSecond = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
                event.currentBytes = meter.currentBytes();
                event.peakBytes = meter.peakBytes();
                event.heldBytes = scope.baselineBytes();
                event.segmentLength = reversible ? stack.segmentLengths().front() : 0;
                state.peakBytes = std::max(state.peakBytes, event.peakBytes);
                state.peakStepBytes = std::max(state.peakStepBytes, event.peakBytes - event.heldBytes);
                state.lastLoss = lossValue;
                for (auto* o : m_observers)
                    o->onIteration(event);

                state.iteration += 1;
                state.batchInEpoch += accumulation;
                if (reversible && m_config.probe.every > 0 && state.iteration % m_config.probe.every == 0) {
                    ProbeEvent probe;
                    probe.iteration = iteration;
                    probe.report = probeGradientError(probeTarget(probeImages, probeLabels), stack.alpha(), stack.beta(), { false, false, m_config.seed });
                    for (auto* o : m_observers)
                        o->onProbe(probe);
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
            state.lastTop1 = evaluation.top1;
            state.bestTop1 = std::max(state.bestTop1, evaluation.top1);
            for (auto* o : m_observers)
                o->onEvaluation(evaluation);
        }
        if (m_cancelled) {
            finished.status = "cancelled";
            emitLog("info", "cancelled at iteration " + std::to_string(state.iteration));
        }
        saveCheckpoint(state);
        if (!m_config.checkpoint.dir.empty())
            state.checkpointPath = (fs::path(m_config.checkpoint.dir) / kCheckpointFile).string();
    } catch (const NonFinite& e) {
        finished.status = "failed";
        finished.message = e.what();
        emitLog("error", finished.message + (state.checkpointPath.empty() ? "" : "; last good checkpoint: " + state.checkpointPath));
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - startTime).count();
    finished.iterations = state.iteration;
    finished.bestTop1 = state.bestTop1;
    finished.finalTop1 = state.lastTop1;
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
