#include "core/grad_probe.h"

#include "core/autocast.h"
#include "core/random_stream.h"

#include <torch/autograd.h>
#include <torch/utils.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace dr2 {
namespace {

struct GradSnapshot {
    std::vector<torch::Tensor> params; // per model parameter, float64 clone or undefined
    bool finite = true;
};

/// Parameter gradients (as float64) of one forward/backward pass in `mode`.
GradSnapshot runPass(
    const GradProbeTarget& target, ExecMode mode, c10::ScalarType dtype, Precision precision, uint64_t seed)
{
    auto& model = *target.model;
    for (auto* stack : target.stacks)
        stack->setMode(mode);
    model.zero_grad(/*set_to_none=*/true);

    GradSnapshot snapshot;
    {
        // Each pass draws its masks from a fresh stream of the same seed, so both passes see the same
        // masks without touching the default generator another thread (a training run) may be using.
        const auto params = model.parameters();
        const c10::Device device = params.empty() ? c10::Device(c10::kCPU) : params.front().device();
        RandomStream stream(seed, device);
        RandomStreamScope scope(stream);
        torch::Tensor loss;
        {
            // The backward runs after the scope, as in training: the reversible recompute must find the forward's
            // autocast state by itself, and the probe checks that it does.
            AutocastScope autocast(device, precision);
            loss = target.loss(dtype);
        }
        if (!loss.defined() || loss.numel() != 1)
            throw std::invalid_argument("gradient probe: the loss closure must return a scalar tensor");
        loss.backward();
    }

    for (const auto& p : model.parameters()) {
        if (p.grad().defined()) {
            torch::Tensor g = p.grad().detach().to(torch::kFloat64);
            snapshot.finite = snapshot.finite && torch::isfinite(g).all().item<bool>();
            snapshot.params.push_back(g);
        } else {
            snapshot.params.emplace_back();
        }
    }
    return snapshot;
}

struct Accumulator {
    double sumSq = 0.0;
    double refSq = 0.0;
    double maxAbs = 0.0;
    int64_t count = 0;

    void add(const torch::Tensor& test, const torch::Tensor& ref)
    {
        torch::Tensor diff = test - ref;
        sumSq += diff.pow(2).sum().item<double>();
        refSq += ref.pow(2).sum().item<double>();
        maxAbs = std::max(maxAbs, diff.numel() ? diff.abs().max().item<double>() : 0.0);
        count += diff.numel();
    }

    GradError result() const
    {
        GradError error;
        error.count = count;
        error.mse = count ? sumSq / static_cast<double>(count) : 0.0;
        error.maxAbs = maxAbs;
        error.relL2 = refSq > 0.0 ? std::sqrt(sumSq / refSq) : (sumSq > 0.0 ? INFINITY : 0.0);
        return error;
    }
};

/// Restores mode, coefficients and dtype of the model when the probe ends, also on exceptions.
class ModelStateGuard {
public:
    explicit ModelStateGuard(const GradProbeTarget& target)
        : m_target(target)
    {
        for (auto* stack : target.stacks)
            m_saved.push_back({ stack->mode(), stack->alpha(), stack->beta() });
        auto params = target.model->parameters();
        m_dtype = params.empty() ? torch::kFloat32 : params.front().scalar_type();
    }
    ~ModelStateGuard()
    {
        for (size_t i = 0; i < m_saved.size(); ++i) {
            m_target.stacks[i]->setMode(m_saved[i].mode);
            m_target.stacks[i]->setCoefficients(m_saved[i].alpha, m_saved[i].beta);
        }
        m_target.model->to(m_dtype);
        m_target.model->zero_grad(/*set_to_none=*/true);
    }
    c10::ScalarType dtype() const { return m_dtype; }

private:
    struct Saved {
        ExecMode mode;
        double alpha;
        double beta;
    };
    const GradProbeTarget& m_target;
    std::vector<Saved> m_saved;
    c10::ScalarType m_dtype = torch::kFloat32;
};

} // namespace

GradErrorReport probeGradientError(
    const GradProbeTarget& target, double alpha, double beta, const GradProbeOptions& options)
{
    if (!target.model || target.stacks.empty() || !target.loss)
        throw std::invalid_argument("gradient probe: target needs a model, its Dr2Stacks and a loss closure");
    if (beta == 0.0)
        throw std::invalid_argument("gradient probe: β must be non-zero for reversible backprop, found 0");
    if (options.precision != Precision::Float32 && (options.float64Reference || options.float64Reversible))
        throw std::invalid_argument("gradient probe: autocast " + toString(options.precision)
            + " compares reversible with stored under the same autocast; it cannot be combined with a float64 pass");

    ModelStateGuard guard(target);
    const c10::ScalarType working = guard.dtype();
    const c10::ScalarType refType = options.float64Reference ? torch::kFloat64 : working;
    const c10::ScalarType revType = options.float64Reversible ? torch::kFloat64 : working;
    for (auto* stack : target.stacks)
        stack->setCoefficients(alpha, beta);

    // Module::to converts in place; float32 → float64 → float32 round-trips exactly.
    target.model->to(refType);
    GradSnapshot reference = runPass(target, ExecMode::Stored, refType, options.precision, options.seed);
    target.model->to(revType);
    GradSnapshot reversible = runPass(target, ExecMode::Reversible, revType, options.precision, options.seed);

    // Map parameters of each branch to their index in model.parameters().
    std::unordered_map<const void*, size_t> indexOf;
    const auto params = target.model->parameters();
    for (size_t i = 0; i < params.size(); ++i)
        indexOf[params[i].unsafeGetTensorImpl()] = i;

    GradErrorReport report;
    report.alpha = alpha;
    report.beta = beta;
    report.finite = reference.finite && reversible.finite;
    Accumulator overall;
    for (size_t i = 0; i < params.size(); ++i) {
        if (reference.params[i].defined() && reversible.params[i].defined())
            overall.add(reversible.params[i], reference.params[i]);
    }
    report.overall = overall.result();
    std::vector<bool> inStack(params.size(), false);
    for (auto* stack : target.stacks) {
        report.branchesPerStage.push_back(stack->size());
        for (int64_t b = 0; b < stack->size(); ++b) {
            Accumulator branch;
            for (const auto& p : stack->branchModule(b)->parameters()) {
                auto it = indexOf.find(p.unsafeGetTensorImpl());
                if (it == indexOf.end())
                    continue;
                inStack[it->second] = true;
                const auto& ref = reference.params[it->second];
                const auto& rev = reversible.params[it->second];
                if (ref.defined() && rev.defined())
                    branch.add(rev, ref);
            }
            report.perBranch.push_back(branch.result());
        }
    }
    Accumulator outside;
    for (size_t i = 0; i < params.size(); ++i) {
        if (!inStack[i] && reference.params[i].defined() && reversible.params[i].defined())
            outside.add(reversible.params[i], reference.params[i]);
    }
    report.outsideStack = outside.result();
    return report;
}

std::vector<double> parseRange(const std::string& text, const std::string& what)
{
    auto fail = [&](const std::string& why) -> std::invalid_argument {
        return std::invalid_argument(
            what + " '" + text + "': " + why + " (expected start:stop:step, e.g. 0:1:0.1, or a list like 0.1,0.5,1)");
    };
    auto number = [&](const std::string& s) {
        size_t used = 0;
        double value = 0.0;
        try {
            value = std::stod(s, &used);
        } catch (const std::exception&) {
            throw fail("'" + s + "' is not a number");
        }
        if (used != s.size() || !std::isfinite(value))
            throw fail("'" + s + "' is not a finite number");
        return value;
    };
    std::vector<double> values;
    if (text.find(':') != std::string::npos) {
        std::vector<std::string> parts;
        std::stringstream in(text);
        for (std::string part; std::getline(in, part, ':');)
            parts.push_back(part);
        if (parts.size() != 3)
            throw fail("needs three fields");
        const double start = number(parts[0]);
        const double stop = number(parts[1]);
        const double step = number(parts[2]);
        if (step <= 0.0)
            throw fail("step must be positive");
        if (stop < start)
            throw fail("stop is below start");
        const auto n = static_cast<int64_t>(std::floor((stop - start) / step + 0.5));
        if (n > 10000)
            throw fail("more than 10000 values");
        for (int64_t i = 0; i <= n; ++i)
            values.push_back(start + step * static_cast<double>(i));
    } else {
        std::stringstream in(text);
        for (std::string part; std::getline(in, part, ',');)
            values.push_back(number(part));
    }
    if (values.empty())
        throw fail("no values");
    return values;
}

std::vector<GradErrorReport> sweepGradientError(const GradProbeTarget& target, const Grid& grid,
    const GradProbeOptions& options, const std::function<bool(size_t, size_t)>& progress)
{
    std::vector<GradErrorReport> reports;
    const size_t total = grid.alphas.size() * grid.betas.size();
    for (double alpha : grid.alphas) {
        for (double beta : grid.betas) {
            reports.push_back(probeGradientError(target, alpha, beta, options));
            if (progress && !progress(reports.size(), total))
                return reports;
        }
    }
    return reports;
}

} // namespace dr2
