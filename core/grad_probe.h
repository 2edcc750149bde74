#pragma once

#include "core/dr2_stack.h"
#include "core/precision.h"

#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <functional>
#include <string>
#include <vector>

namespace dr2 {

/// Error of one group of gradients (reversible against the stored reference).
struct GradError {
    double mse = 0.0; ///< mean squared difference (the scale of the paper's Fig. 3)
    double maxAbs = 0.0; ///< largest absolute difference
    double relL2 = 0.0; ///< ‖g_rev − g_ref‖₂ / ‖g_ref‖₂ (0 when both are zero)
    int64_t count = 0; ///< number of gradient elements compared
};

/// Gradient error of reversible backprop at one (α, β).
struct GradErrorReport {
    double alpha = 0.0;
    double beta = 0.0;
    GradError overall; ///< all parameters that received a gradient
    /// Parameters outside the stack (embedding, head): their error is the error of the input gradient
    /// that reversible backprop hands to the layers before the stack.
    GradError outsideStack;
    std::vector<GradError> perBranch; ///< parameters of each branch, stage after stage (stage 0's first)
    std::vector<int64_t> branchesPerStage; ///< how perBranch splits into stages (one entry for a single stack)
    bool finite = true; ///< false when either gradient contained NaN or Inf
};

/// What the probe runs: a model holding one or more Dr2Stacks (a backbone's stages), and a loss computed in the
/// given dtype. The loss closure must build its inputs afresh each call (it runs twice per probe).
struct GradProbeTarget {
    torch::nn::Module* model = nullptr;
    std::vector<Dr2StackImpl*> stacks; ///< every stack inside `model`, in order
    std::function<torch::Tensor(c10::ScalarType)> loss;
};

/// Options of the probe.
struct GradProbeOptions {
    /// Compute the `stored` reference in float64 (the model is converted and converted back).
    bool float64Reference = false;
    /// Run the reversible side in float64 too (for checking the method itself, free of fp32 rounding).
    bool float64Reversible = false;
    /// Seeds the probe's own random stream, fresh for each pass, so dropout and drop path draw identical masks.
    uint64_t seed = 0;
    /// Runs both passes' forward and loss under this autocast (bf16 on CPU or CUDA, fp16 on CUDA), the backward after
    /// the scope as training does: reversible against stored under the same autocast (the bf16 map beside the
    /// paper's fp32 Fig. 3). Not combinable with the float64 options (autocast would compute them in 16 bits).
    /// Declared last, so positional initialisers { float64Reference, float64Reversible, seed } keep working.
    Precision precision = Precision::Float32;
};

/// Compares parameter gradients of ExecMode::Reversible against ExecMode::Stored at (α, β).
/// The model's mode, coefficients, gradients and dtype are restored afterwards; the probe draws from its own
/// random stream and leaves every other generator (the run's, the process-wide default) untouched.
GradErrorReport probeGradientError(
    const GradProbeTarget& target, double alpha, double beta, const GradProbeOptions& options = {});

/// A grid of α and β values, inclusive of both ends.
struct Grid {
    std::vector<double> alphas;
    std::vector<double> betas;
};

/// Parses "start:stop:step" (inclusive, to within half a step) or "a,b,c" into values.
/// Throws std::invalid_argument naming `what` and the expected form.
std::vector<double> parseRange(const std::string& text, const std::string& what);

/// The matrix behind the paper's Fig. 3: one report per (α, β), row-major over alphas then betas.
/// `progress(done, total)` is called after each point; returning false stops the sweep early.
std::vector<GradErrorReport> sweepGradientError(const GradProbeTarget& target, const Grid& grid,
    const GradProbeOptions& options = {}, const std::function<bool(size_t, size_t)>& progress = {});

} // namespace dr2
