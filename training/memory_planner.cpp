#include "training/memory_planner.h"

#include "core/device.h"
#include "core/memory_meter.h"
#include "core/random_stream.h"
#include "training/model_factory.h"
#include "training/strategy_setup.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

namespace dr2 {
namespace {

/// How a strategy's step keeps activations: what the planner's features sum over.
enum class Keeping { Plain, Frozen, Checkpointed, Reversible };

/// True when any backbone parameter needs a gradient (every strategy but frozen).
bool backboneTrains(Backbone& backbone)
{
    for (const auto& p : backbone.parameters())
        if (p.requires_grad())
            return true;
    return false;
}

/// How the backbone, set up by applyStrategy, keeps activations: read from its mode and frozen state rather than
/// from a second table of strategies.
Keeping keepingOf(Backbone& backbone)
{
    switch (backbone.mode()) {
    case ExecMode::Checkpointed:
        return Keeping::Checkpointed;
    case ExecMode::Reversible:
        return Keeping::Reversible;
    default:
        return backboneTrains(backbone) ? Keeping::Plain : Keeping::Frozen;
    }
}

/// Per-sample features (in elements) a step's activation bytes are linear in; the constant is fitted separately.
constexpr size_t kFeatures = 6;
using Features = std::array<double, kFeatures>;

/// What a strategy keeps, summed over the stages of `geometry` with each stack's segment lengths `segments`:
/// [one branch's stream, padded and attention sizes (times the largest segment for checkpointed, times every
/// branch for conventional), the stage outputs, the segment boundaries, the input's pixels]. The last is what a
/// dense head keeps (its maps at stride 4 and the full-size logits grow with the pixels, whatever the backbone
/// keeps); for a classifier the fit gives it no weight.
Features featuresOf(Keeping keeping, const BackboneGeometry& geometry, const std::vector<std::vector<int64_t>>& segments,
    const InputShape& input)
{
    const double pixels = static_cast<double>(input.height) * static_cast<double>(input.width);
    Features f {};
    double stageOutputs = 0.0;
    double boundaries = 0.0;
    double bestWeight = -1.0;
    std::array<double, 3> best {};
    std::array<double, 3> all {};
    for (size_t s = 0; s < geometry.stages.size(); ++s) {
        const StageGeometry& g = geometry.stages[s];
        const double stream = static_cast<double>(g.tokens) * static_cast<double>(g.width);
        const double padded = static_cast<double>(g.attentionTokens) * static_cast<double>(g.width);
        const double attention
            = static_cast<double>(g.heads) * static_cast<double>(g.attentionTokens) * static_cast<double>(g.attentionSpan);
        const double branches = static_cast<double>(g.branches);
        const std::vector<int64_t>& lengths = s < segments.size() ? segments[s] : std::vector<int64_t> {};
        const double longest = lengths.empty() ? branches : static_cast<double>(*std::max_element(lengths.begin(), lengths.end()));
        const double count = lengths.empty() ? 1.0 : static_cast<double>(lengths.size());
        stageOutputs += stream;
        boundaries += count * stream;
        for (size_t k = 0; k < 3; ++k)
            all[k] += branches * std::array<double, 3> { stream, padded, attention }[k];
        // The recompute that sets a checkpointed or reversible step's peak: the stage with the most to hold at once.
        const double span = keeping == Keeping::Checkpointed ? longest : 1.0;
        if (span * stream > bestWeight) {
            bestWeight = span * stream;
            best = { span * stream, span * padded, span * attention };
        }
    }
    if (keeping == Keeping::Plain) {
        f = { all[0], all[1], all[2], stageOutputs, 0.0, pixels };
    } else {
        f = { best[0], best[1], best[2], stageOutputs, keeping == Keeping::Frozen ? 0.0 : boundaries, pixels };
    }
    return f;
}

/// Non-negative least squares for a handful of unknowns: the best of every subset of columns whose unconstrained
/// solution is non-negative (exact for a problem this small). Columns are scaled to unit maximum first.
std::vector<double> nonNegativeLeastSquares(const std::vector<std::vector<double>>& rows, const std::vector<double>& y)
{
    const size_t n = rows.front().size();
    std::vector<double> scale(n, 0.0);
    for (const auto& row : rows)
        for (size_t j = 0; j < n; ++j)
            scale[j] = std::max(scale[j], std::abs(row[j]));
    std::vector<double> best(n, 0.0);
    double bestResidual = INFINITY;
    for (uint32_t mask = 1; mask < (1U << n); ++mask) {
        std::vector<size_t> cols;
        for (size_t j = 0; j < n; ++j)
            if ((mask & (1U << j)) && scale[j] > 0.0)
                cols.push_back(j);
        if (cols.size() != static_cast<size_t>(__builtin_popcount(mask)))
            continue;
        const size_t m = cols.size();
        // Normal equations A'A w = A'y, solved by Gaussian elimination with partial pivoting.
        std::vector<std::vector<double>> a(m, std::vector<double>(m + 1, 0.0));
        for (size_t r = 0; r < rows.size(); ++r)
            for (size_t i = 0; i < m; ++i) {
                const double xi = rows[r][cols[i]] / scale[cols[i]];
                for (size_t k = 0; k < m; ++k)
                    a[i][k] += xi * rows[r][cols[k]] / scale[cols[k]];
                a[i][m] += xi * y[r];
            }
        bool singular = false;
        for (size_t i = 0; i < m && !singular; ++i) {
            size_t pivot = i;
            for (size_t k = i + 1; k < m; ++k)
                if (std::abs(a[k][i]) > std::abs(a[pivot][i]))
                    pivot = k;
            std::swap(a[i], a[pivot]);
            if (std::abs(a[i][i]) < 1e-9 * (1.0 + std::abs(a[0][0]))) {
                singular = true; // collinear columns (ViT's padded and stream sizes are one): a smaller subset covers it
                break;
            }
            for (size_t k = 0; k < m; ++k) {
                if (k == i)
                    continue;
                const double factor = a[k][i] / a[i][i];
                for (size_t c = i; c <= m; ++c)
                    a[k][c] -= factor * a[i][c];
            }
        }
        if (singular)
            continue;
        std::vector<double> w(n, 0.0);
        bool negative = false;
        for (size_t i = 0; i < m; ++i) {
            w[cols[i]] = a[i][m] / a[i][i] / scale[cols[i]];
            negative = negative || w[cols[i]] < 0.0;
        }
        if (negative)
            continue;
        double residual = 0.0;
        for (size_t r = 0; r < rows.size(); ++r) {
            double predicted = 0.0;
            for (size_t j = 0; j < n; ++j)
                predicted += w[j] * rows[r][j];
            residual += (predicted - y[r]) * (predicted - y[r]);
        }
        if (residual < bestResidual * (1.0 - 1e-9)) {
            bestResidual = residual;
            best = w;
        }
    }
    return best;
}

int64_t bytesOf(const std::vector<torch::Tensor>& tensors)
{
    int64_t bytes = 0;
    for (const auto& t : tensors)
        if (t.defined())
            bytes += static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
    return bytes;
}

/// Bytes of a network's parameters and buffers, and of the parameters that train (need gradients).
struct NetworkBytes {
    int64_t all = 0;
    int64_t trainable = 0;
};

NetworkBytes networkBytes(torch::nn::Module& network)
{
    NetworkBytes bytes;
    std::vector<torch::Tensor> trainable;
    for (const auto& p : network.parameters())
        if (p.requires_grad())
            trainable.push_back(p);
    bytes.all = bytesOf(network.parameters()) + bytesOf(network.buffers());
    bytes.trainable = bytesOf(trainable);
    return bytes;
}

/// Classes of the config's task, without reading its data: selected classes (all 10 of Fashion-MNIST when none
/// are), plus background for segmentation scenes. A user's mask folder is not read: its class count only sizes the
/// head's 1×1 classifier and its logits, and 16 stands in for it.
int64_t numClassesOf(const TrainConfig& config)
{
    const int64_t selected = config.data.classes.empty() ? 10 : static_cast<int64_t>(config.data.classes.size());
    if (config.task != "segmentation")
        return selected;
    return config.data.dataset == "masks" ? 16 : 1 + selected;
}

bool predictsPixels(const TrainConfig& config)
{
    return config.task == "segmentation";
}

InputShape inputAt(const TrainConfig& config, int64_t imageSize)
{
    return { config.model.inChannels, imageSize, imageSize, config.model.numFrames };
}

/// Input elements of one sample.
int64_t inputElements(const InputShape& shape)
{
    return shape.channels * shape.height * shape.width * std::max<int64_t>(shape.frames, 1);
}

/// Bytes of one batch: float32 input and int64 labels (a mask per pixel for a dense task).
int64_t batchBytesOf(const TrainConfig& config, const InputShape& shape, int64_t batch)
{
    const int64_t labels = predictsPixels(config) ? shape.height * shape.width * 8 : 8;
    return batch * (inputElements(shape) * 4 + labels);
}

/// A network of `config` at `imageSize`, in its strategy's setup, with its optimizer.
struct Setup {
    Network network { nullptr };
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    std::vector<torch::Tensor> trainable;
    bool warmedUp = false; ///< gradients and AdamW's moments exist (after one step)
};

Setup buildSetup(const TrainConfig& config, int64_t imageSize, const c10::Device& device)
{
    TrainConfig at = config;
    at.model.imageSize = imageSize;
    Setup setup;
    setup.network = buildNetwork(at, numClassesOf(config)).network;
    setup.network->to(device);
    setup.network->train();
    const auto schedule = applyStrategy(setup.network->backbone(), at, /*itersPerEpoch=*/1);
    const Coefficients start = schedule->at(0);
    setup.network->backbone().setCoefficients(start.alpha, start.beta);
    setup.optimizer = makeOptimizer(*setup.network, at.optim);
    for (const auto& p : setup.network->parameters())
        if (p.requires_grad())
            setup.trainable.push_back(p);
    return setup;
}

/// One measured step, in its two phases: their peaks differ in kind (activations grow with batch and size, AdamW's
/// temporaries follow the largest parameter), so the step's peak is the larger of two separately fitted figures.
struct Measured {
    int64_t held = 0;
    int64_t forwardBackward = 0; ///< peak above held of the forward, loss and backward
    int64_t optimizer = 0; ///< peak above held of gradient clipping and the AdamW step
    int64_t step() const { return std::max(forwardBackward, optimizer); }
};

/// One step measured as the Trainer's loop runs it, after an unmeasured one on a fresh setup (it allocates the
/// gradients and AdamW's moments, which a run holds from its first step on).
Measured measureStep(Setup& setup, const TrainConfig& config, int64_t batch, const c10::Device& device)
{
    NetworkImpl& network = *setup.network;
    const InputShape shape = network.backbone().inputShape();
    const torch::Tensor input = torch::randn(shape.sizes(batch), torch::TensorOptions(device));
    // Random labels (a mask per pixel for a dense task): a step's memory does not depend on their values.
    const std::vector<int64_t> targetSizes = network.task().predictsPixels()
        ? std::vector<int64_t> { batch, shape.height, shape.width }
        : std::vector<int64_t> { batch };
    const TaskTarget target { torch::randint(numClassesOf(config), targetSizes, torch::TensorOptions(device).dtype(torch::kLong)), {} };
    const double clip = config.optim.clipGrad > 0 ? config.optim.clipGrad : INFINITY;
    auto forwardBackward = [&] { network.task().loss(network.forward(input), target).backward(); };
    auto optimizerStep = [&] {
        torch::nn::utils::clip_grad_norm_(setup.trainable, clip);
        setup.optimizer->step();
    };
    if (!setup.warmedUp) {
        setup.optimizer->zero_grad();
        forwardBackward();
        optimizerStep();
        setup.warmedUp = true;
    }
    setup.optimizer->zero_grad();
    MemoryMeter& meter = MemoryMeter::forDevice(device);
    Measured m;
    synchronize(device);
    {
        PeakScope scope(meter);
        forwardBackward();
        synchronize(device);
        m.held = scope.baselineBytes();
        m.forwardBackward = scope.peakAboveBaseline();
    }
    PeakScope scope(meter);
    optimizerStep();
    synchronize(device);
    m.optimizer = scope.baselineBytes() - m.held + scope.peakAboveBaseline();
    return m;
}

std::vector<std::vector<int64_t>> segmentsOf(Backbone& backbone)
{
    std::vector<std::vector<int64_t>> segments;
    for (Dr2StackImpl* stack : backbone.stacks())
        segments.push_back(stack->segmentLengths());
    return segments;
}

/// Pixels per first-stage position along a side: the granularity image sizes are planned in.
int64_t patchOf(Backbone& backbone)
{
    const BackboneDescription description = backbone.describe();
    return description.stages.empty() ? 1 : std::max<int64_t>(description.stages.front().stride, 1);
}

std::string formatBytes(int64_t bytes)
{
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(2);
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024.0 * 1024.0)
        out << b / (1024.0 * 1024.0 * 1024.0) << " GiB";
    else
        out << b / (1024.0 * 1024.0) << " MiB";
    return out.str();
}

/// The fitted model of one strategy's step, and what does not depend on the image size.
struct StepModel {
    Keeping keeping = Keeping::Plain;
    std::vector<std::vector<int64_t>> segments;
    std::vector<double> weights; ///< forward/backward: kFeatures per-sample weights, then the constant
    int64_t optimizerPeak = 0; ///< the optimizer phase's peak at the calibration sizes
    int64_t plateau = 0; ///< the smallest forward/backward peak measured: what a step needs however small
    double calibrationError = 0.0;
    // Counted at the calibration network, corrected for the input-sized parameters.
    int64_t parameterBytesAtCalibration = 0;
    int64_t trainableBytesAtCalibration = 0;
    int64_t inputSizedAtCalibration = 0; ///< elements
    bool inputSizedTrains = false;
    int64_t calibrationSteps = 0;
};

/// The plan of one step of the model at (batch, imageSize).
StepMemory predict(const StepModel& model, Backbone& backbone, const TrainConfig& config, int64_t batch, int64_t imageSize)
{
    const InputShape shape = inputAt(config, imageSize);
    const BackboneGeometry geometry = backbone.geometryAt(shape);
    const Features f = featuresOf(model.keeping, geometry, model.segments, shape);
    double perSample = 0.0;
    for (size_t k = 0; k < kFeatures; ++k)
        perSample += model.weights[k] * f[k];
    const int64_t inputSizedDelta = (geometry.inputSizedParameters - model.inputSizedAtCalibration) * 4;
    StepMemory memory;
    memory.parameterBytes = model.parameterBytesAtCalibration + inputSizedDelta;
    memory.gradientBytes = model.trainableBytesAtCalibration + (model.inputSizedTrains ? inputSizedDelta : 0);
    memory.optimizerBytes = 2 * memory.gradientBytes;
    memory.batchBytes = batchBytesOf(config, shape, batch);
    memory.heldBytes = memory.parameterBytes + memory.gradientBytes + memory.optimizerBytes + memory.batchBytes;
    // AdamW's temporaries are about two copies of the parameter being updated: at a large size that is the
    // input-sized one (ViT's position embedding).
    const int64_t optimizer = std::max<int64_t>(model.optimizerPeak, int64_t { 8 } * geometry.inputSizedParameters);
    // Saturated far beyond any memory (an exbibyte), so that absurd sizes stay comparable instead of overflowing.
    constexpr double kSaturated = 1e18;
    const double linear = std::min(static_cast<double>(batch) * perSample + model.weights[kFeatures], kSaturated);
    const int64_t forwardBackward = std::max<int64_t>(model.plateau, std::llround(linear));
    memory.stepBytes = std::max<int64_t>(optimizer, forwardBackward);
    return memory;
}

/// Image sizes to calibrate at: an eighth, a quarter, half and three quarters of the config's first-stage grid, kept
/// between 4 and 32 positions a side so that calibrating stays cheap. Never the config's own size: the prediction
/// there is always an extrapolation, as it is for the sizes a user asks about. The largest size matters most for
/// global attention, whose scores grow with the square of the tokens and are a small share of a small step.
std::vector<int64_t> calibrationSizes(int64_t imageSize, int64_t patch)
{
    const int64_t grid = std::max<int64_t>(imageSize / patch, 1);
    std::vector<int64_t> grids;
    for (double fraction : { 0.125, 0.25, 0.5, 0.75 }) {
        const auto g = std::clamp<int64_t>(std::llround(static_cast<double>(grid) * fraction), 4, 32);
        if (g != grid && std::find(grids.begin(), grids.end(), g) == grids.end())
            grids.push_back(g);
    }
    for (int64_t g : { 6, 8, 5, 12, 7, 10 }) // too few distinct sizes (a small config): fill from small grids
        if (grids.size() < 4 && g != grid && std::find(grids.begin(), grids.end(), g) == grids.end())
            grids.push_back(g);
    std::sort(grids.begin(), grids.end());
    std::vector<int64_t> sizes;
    sizes.reserve(grids.size());
    for (int64_t g : grids)
        sizes.push_back(g * patch);
    return sizes;
}

constexpr std::array<int64_t, 2> kCalibrationBatches { 2, 4 };
constexpr int64_t kLargestCalibrationBatch = 32;
/// A peak this much above the smallest one is on the linear (activation) branch.
constexpr double kAbovePlateau = 1.5;
constexpr int64_t kProbeImageSize = 224; ///< the largest size the planner builds a network at to read its geometry

/// The size the planner builds `config`'s network at to read its geometry: the config's own when it is small, else
/// 224 (= 16·14 = 32·7), or the largest multiple of a configured patch below it. The config's own may be far too
/// large to allocate.
int64_t probeImageSize(const TrainConfig& config)
{
    if (config.model.imageSize <= kProbeImageSize)
        return config.model.imageSize;
    const int64_t patch = config.model.patchSize;
    return patch > 0 && kProbeImageSize % patch != 0 ? std::max(patch, kProbeImageSize / patch * patch) : kProbeImageSize;
}

/// Fits the step model of `config.strategy` from measured steps at the calibration sizes.
///
/// A small step's forward/backward peak is a plateau that does not grow with the batch (weight-gradient and
/// recompute temporaries of the largest layers), and a large one's grows linearly with the activations kept: the
/// peak is the larger of the two. So each size is measured at batches 2 and 4, doubled (up to 32) until the peak
/// clearly leaves the plateau; the plateau is the smallest peak seen; and the linear model is fitted to the steps
/// above it.
StepModel calibrate(const TrainConfig& config, const std::vector<int64_t>& sizes, const c10::Device& device,
    const std::function<void(const std::string&)>& progress)
{
    StepModel model;
    std::vector<std::vector<double>> rows;
    std::vector<double> measured;
    double plateau = INFINITY;
    for (int64_t size : sizes) {
        Setup setup = buildSetup(config, size, device);
        Backbone& backbone = setup.network->backbone();
        model.keeping = keepingOf(backbone);
        model.segments = segmentsOf(backbone);
        const BackboneGeometry geometry = backbone.geometryAt(backbone.inputShape());
        const Features f = featuresOf(model.keeping, geometry, model.segments, backbone.inputShape());
        if (size == sizes.front()) {
            const NetworkBytes bytes = networkBytes(*setup.network);
            model.parameterBytesAtCalibration = bytes.all;
            model.trainableBytesAtCalibration = bytes.trainable;
            model.inputSizedAtCalibration = geometry.inputSizedParameters;
            model.inputSizedTrains = backboneTrains(backbone);
        }
        for (int64_t batch = kCalibrationBatches.front();; batch *= 2) {
            const Measured m = measureStep(setup, config, batch, device);
            std::vector<double> row;
            for (double x : f)
                row.push_back(static_cast<double>(batch) * x);
            row.push_back(1.0);
            rows.push_back(row);
            measured.push_back(static_cast<double>(m.forwardBackward));
            plateau = std::min(plateau, static_cast<double>(m.forwardBackward));
            model.optimizerPeak = std::max(model.optimizerPeak, m.optimizer);
            model.calibrationSteps += 1;
            if (progress)
                progress("plan: " + toString(config.strategy) + " at " + std::to_string(size) + "², batch "
                    + std::to_string(batch) + ": forward/backward peak " + formatBytes(m.forwardBackward)
                    + ", optimizer step " + formatBytes(m.optimizer));
            if (batch >= kCalibrationBatches.back()
                && (static_cast<double>(m.forwardBackward) > kAbovePlateau * plateau || batch >= kLargestCalibrationBatch))
                break;
        }
    }
    model.plateau = static_cast<int64_t>(plateau);
    // The linear part from the steps above the plateau (all of them if too few are).
    std::vector<size_t> linear;
    for (size_t r = 0; r < rows.size(); ++r)
        if (measured[r] > kAbovePlateau * plateau)
            linear.push_back(r);
    if (linear.size() < 3) {
        linear.resize(rows.size());
        for (size_t r = 0; r < rows.size(); ++r)
            linear[r] = r;
    }
    // Bytes count, not relative errors: the largest steps, furthest from the plateau, say most about larger sizes.
    std::vector<std::vector<double>> linearRows;
    linearRows.reserve(linear.size());
    for (size_t r : linear)
        linearRows.push_back(rows[r]);
    // Floors the fit may not go below, so that a term too small to see at the calibration sizes still extrapolates:
    // attention keeps at least one float per score of each attention branch it holds (the softmax output), half the
    // branches of a stack, and the branch a reversible or frozen step runs is one of them.
    std::vector<double> floor(kFeatures + 1, 0.0);
    floor[2] = model.keeping == Keeping::Plain || model.keeping == Keeping::Checkpointed ? 2.0 : 4.0;
    std::vector<double> rest;
    rest.reserve(linear.size());
    for (size_t r : linear)
        rest.push_back(measured[r]);
    for (size_t i = 0; i < linear.size(); ++i)
        for (size_t j = 0; j < floor.size(); ++j)
            rest[i] -= floor[j] * linearRows[i][j];
    model.weights = nonNegativeLeastSquares(linearRows, rest);
    for (size_t j = 0; j < floor.size(); ++j)
        model.weights[j] += floor[j];
    for (size_t r = 0; r < rows.size(); ++r) {
        double predicted = 0.0;
        for (size_t j = 0; j < rows[r].size(); ++j)
            predicted += model.weights[j] * rows[r][j];
        predicted = std::max(predicted, plateau);
        model.calibrationError = std::max(model.calibrationError, std::abs(predicted - measured[r]) / std::max(measured[r], 1.0));
    }
    return model;
}

/// Which strategies share one measured setup: the reversible ones differ only in α/β (not in what they keep), the
/// others each keep activations their own way; all on the same network.
std::string setupKey(const TrainConfig& config, Strategy strategy)
{
    TrainConfig as = config;
    as.strategy = strategy;
    return (isReversible(strategy) ? std::string("reversible") : toString(strategy)) + "|" + sourceCheckpointOf(as);
}

StrategyPlan planStrategy(const StepModel& model, Backbone& backbone, const TrainConfig& config, Strategy strategy,
    int64_t budget, int64_t patch)
{
    StrategyPlan plan;
    plan.strategy = strategy;
    plan.calibrationError = model.calibrationError;
    const int64_t batch = config.optim.batchSize;
    plan.atConfig = predict(model, backbone, config, batch, config.model.imageSize);
    plan.fits = plan.atConfig.peakBytes() <= budget;

    // Largest batch at the config's size, and largest image size at the config's batch: the predicted peak grows
    // with both, so doubling finds a bound and bisection the edge.
    auto largest = [](int64_t start, int64_t cap, const std::function<bool(int64_t)>& fits) -> int64_t {
        int64_t lo = 0; // fits (0: nothing known to fit)
        int64_t hi = std::max<int64_t>(start, 1);
        while (fits(hi) && hi < cap) {
            lo = hi;
            hi *= 2;
        }
        if (lo == 0) {
            if (!fits(1))
                return 0;
            lo = 1;
        }
        if (fits(hi))
            return hi; // the cap
        while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            (fits(mid) ? lo : hi) = mid;
        }
        return lo;
    };
    constexpr int64_t kLargestBatch = int64_t { 1 } << 30;
    plan.largestBatch = largest(batch, kLargestBatch, [&](int64_t b) {
        return predict(model, backbone, config, b, config.model.imageSize).peakBytes() <= budget;
    });
    auto fitsAt = [&](int64_t grid) {
        try {
            return predict(model, backbone, config, batch, grid * patch).peakBytes() <= budget;
        } catch (const std::invalid_argument&) {
            return false; // a size the family does not accept
        }
    };
    constexpr int64_t kLargestSide = int64_t { 1 } << 20;
    plan.largestImageSize = patch * largest(std::max<int64_t>(config.model.imageSize / patch, 1), kLargestSide / patch, fitsAt);
    return plan;
}

} // namespace

const StrategyPlan& MemoryPlan::of(Strategy strategy) const
{
    for (const auto& plan : strategies)
        if (plan.strategy == strategy)
            return plan;
    throw std::out_of_range("memory plan: strategy " + toString(strategy) + " was not planned");
}

MemoryPlan planMemory(const TrainConfig& config, const PlanOptions& options)
{
    config.validate();
    const c10::Device device = parseDevice(config.device);
    std::vector<Strategy> strategies = options.strategies;
    if (strategies.empty())
        for (const auto& name : strategyNames())
            strategies.push_back(parseStrategy(name));

    MemoryPlan plan;
    plan.batch = config.optim.batchSize;
    plan.imageSize = config.model.imageSize;
    plan.frames = config.model.numFrames;
    if (options.budgetBytes > 0) {
        plan.budgetBytes = options.budgetBytes;
        plan.budgetSource = "--budget";
    } else {
        const DeviceMemory memory = deviceMemory(device);
        plan.budgetBytes = memory.bytes;
        plan.budgetSource = memory.what;
    }
    plan.calibrationBatches.assign(kCalibrationBatches.begin(), kCalibrationBatches.end());
    if (config.data.classes.empty())
        plan.notes.push_back("the head is planned for 10 classes (data.classes is empty)");
    if (config.segments.errorTarget > 0)
        plan.notes.push_back("reversible strategies are planned with their starting segments; segments.error_target "
            "may shorten them during the run, which adds segment boundaries");

    RandomStream stream(config.seed, device);
    const RandomStreamScope streamScope(stream);
    std::map<std::string, StepModel> models;
    std::map<std::string, Network> probes; // a small network per setup: geometry at any size, no allocation there
    for (Strategy strategy : strategies) {
        const std::string key = setupKey(config, strategy);
        TrainConfig as = config;
        as.strategy = strategy;
        if (!models.count(key)) {
            // Geometry at any size comes from a small network of the same architecture.
            TrainConfig small = as;
            small.model.imageSize = probeImageSize(config);
            Network probe = buildNetwork(small, numClassesOf(config)).network;
            const std::vector<int64_t> sizes = calibrationSizes(config.model.imageSize, patchOf(probe->backbone()));
            if (plan.calibrationImageSizes.empty())
                plan.calibrationImageSizes = sizes;
            models[key] = calibrate(as, sizes, device, options.progress);
            plan.calibrationSteps += models[key].calibrationSteps;
            probes.emplace(key, probe);
        }
        Backbone& backbone = probes.at(key)->backbone();
        if (plan.model.empty())
            plan.model = backbone.describe().summary;
        plan.strategies.push_back(planStrategy(models[key], backbone, as, strategy, plan.budgetBytes, patchOf(backbone)));
    }
    return plan;
}

StepMemory measureTrainingStep(const TrainConfig& config)
{
    config.validate();
    const c10::Device device = parseDevice(config.device);
    RandomStream stream(config.seed, device);
    const RandomStreamScope streamScope(stream);
    Setup setup = buildSetup(config, config.model.imageSize, device);
    const Measured m = measureStep(setup, config, config.optim.batchSize, device);
    StepMemory memory;
    const NetworkBytes bytes = networkBytes(*setup.network);
    memory.parameterBytes = bytes.all;
    memory.gradientBytes = bytes.trainable;
    memory.optimizerBytes = 2 * memory.gradientBytes;
    memory.batchBytes = batchBytesOf(config, setup.network->backbone().inputShape(), config.optim.batchSize);
    memory.heldBytes = m.held;
    memory.stepBytes = m.step();
    return memory;
}

void refuseIfCannotFit(const TrainConfig& config)
{
    const c10::Device device = parseDevice(config.device);
    const DeviceMemory memory = deviceMemory(device);
    TrainConfig small = config;
    small.model.imageSize = probeImageSize(config);
    Network probe = buildNetwork(small, numClassesOf(config)).network;
    Backbone& backbone = probe->backbone();
    applyStrategy(backbone, small, 1);
    const InputShape shape = inputAt(config, config.model.imageSize);
    const BackboneGeometry geometry = backbone.geometryAt(shape);
    const BackboneGeometry probeGeometry = backbone.geometryAt(backbone.inputShape());

    // Held bytes exactly, and two bounds on the step: at least one stream per stage alive (any strategy), at most
    // generous bytes per element of every branch's activations (above what any strategy was measured to keep).
    const NetworkBytes bytes = networkBytes(*probe);
    const int64_t parameters = bytes.all;
    const int64_t trainable = bytes.trainable;
    const int64_t inputSized = (geometry.inputSizedParameters - probeGeometry.inputSizedParameters) * 4;
    const double batch = static_cast<double>(config.optim.batchSize);
    const double held = static_cast<double>(parameters + inputSized)
        + 3.0 * static_cast<double>(trainable + (backboneTrains(backbone) ? inputSized : 0))
        + batch * (static_cast<double>(inputElements(shape)) * 4.0 + 8.0);
    double streams = 0.0;
    double everything = 0.0;
    for (const StageGeometry& g : geometry.stages) {
        const double u = static_cast<double>(g.tokens) * static_cast<double>(g.width);
        const double p = static_cast<double>(g.attentionTokens) * static_cast<double>(g.width);
        const double a = static_cast<double>(g.heads) * static_cast<double>(g.attentionTokens) * static_cast<double>(g.attentionSpan);
        streams += u * 4.0;
        everything += static_cast<double>(g.branches) * (48.0 * u + 16.0 * p + 12.0 * a);
    }
    const double lower = held + batch * streams;
    const double upper = held + batch * everything + 64.0 * 1024 * 1024;
    const auto budget = static_cast<double>(memory.bytes);
    if (upper <= budget)
        return;
    const std::string what = "config (strategy " + toString(config.strategy) + ", batch " + std::to_string(config.optim.batchSize)
        + ", image " + std::to_string(config.model.imageSize) + "²"
        + (config.model.numFrames > 0 ? ", " + std::to_string(config.model.numFrames) + " frames" : std::string()) + ")";
    if (lower > budget)
        throw std::invalid_argument(what + ": a training step needs more than " + formatBytes(static_cast<int64_t>(lower))
            + " of tensor memory (parameters, gradients, AdamW moments and one batch: " + formatBytes(static_cast<int64_t>(held))
            + "; one activation stream per stage: " + formatBytes(static_cast<int64_t>(batch * streams)) + "), more than the "
            + formatBytes(memory.bytes) + " " + memory.what + "; lower optim.batch_size or model.image_size "
            "(`dr2net-cli plan --config FILE` shows what fits)");

    PlanOptions options;
    options.strategies = { config.strategy };
    options.budgetBytes = memory.bytes;
    const MemoryPlan plan = planMemory(config, options);
    const StrategyPlan& mine = plan.strategies.front();
    if (mine.fits)
        return;
    std::string others;
    if (config.strategy != Strategy::Dr2Net && !isReversible(config.strategy)) {
        options.strategies = { Strategy::Dr2Net };
        const MemoryPlan reversible = planMemory(config, options);
        others = "; strategy dr2net would need " + formatBytes(reversible.strategies.front().atConfig.peakBytes());
    }
    throw std::invalid_argument(what + ": a training step needs about " + formatBytes(mine.atConfig.peakBytes())
        + " of tensor memory (held " + formatBytes(mine.atConfig.heldBytes) + ": parameters, gradients, AdamW moments and "
        "one batch; step " + formatBytes(mine.atConfig.stepBytes) + "), more than the " + formatBytes(memory.bytes) + " "
        + memory.what + "; at most " + std::to_string(mine.largestBatch) + " samples per batch fit at this size "
        "(optim.batch_size)"
        + (mine.largestImageSize > 0 ? ", at most " + std::to_string(mine.largestImageSize) + "² at this batch (model.image_size)"
                                     : std::string(", and no image size at this batch"))
        + others + " (`dr2net-cli plan --config FILE` shows every strategy; segments.every shortens checkpointed segments)");
}

int64_t parseByteSize(const std::string& text)
{
    size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit = text.substr(used);
    unit.erase(std::remove_if(unit.begin(), unit.end(), [](unsigned char c) { return std::isspace(c); }), unit.end());
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
    static const std::map<std::string, double> units { { "", 1.0 }, { "b", 1.0 }, { "kb", 1e3 }, { "mb", 1e6 },
        { "gb", 1e9 }, { "tb", 1e12 }, { "kib", 1024.0 }, { "mib", 1024.0 * 1024.0 },
        { "gib", 1024.0 * 1024.0 * 1024.0 }, { "tib", 1024.0 * 1024.0 * 1024.0 * 1024.0 }, { "k", 1024.0 },
        { "m", 1024.0 * 1024.0 }, { "g", 1024.0 * 1024.0 * 1024.0 } };
    const auto it = units.find(unit);
    if (used == 0 || it == units.end() || !(value > 0.0) || value * it->second > 9e18)
        throw std::invalid_argument("size '" + text + "': expected a positive number of bytes with an optional unit "
            "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 8GiB");
    return static_cast<int64_t>(value * it->second);
}

} // namespace dr2
