#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dr2 {

/// How a Dr2Stack evaluates its branches (see DESIGN.md, "The method in one page").
enum class ExecMode {
    Plain, ///< the original residual network, x_i = F_i(x_{i-1}) + x_{i-1}
    Stored, ///< eq. 1 with ordinary autograd: every activation kept (the gradient reference)
    Reversible, ///< eq. 1 forward without a graph, eq. 2 reconstruction in the backward
    /// The Plain network (α, β ignored) with activation checkpointing: per segment only the input is kept, the
    /// backward recomputes the segment with autograd and back-propagates through it (exact gradients)
    Checkpointed,
};

/// How the dual path starts before the first branch.
enum class FirstSkip {
    Scaled, ///< y_0 = β·x_0: α=1, β=0 is exactly the pretrained network (our default)
    Input, ///< y_0 = x_0: the paper's literal equation
};

/// Whether a reversible backward recomputes branch i−1 on a helper thread while branch i back-propagates (the
/// two-stream idea of PaReprop, Zhao et al. 2023, on CPU threads). Gradients are bit-identical either way; the
/// overlap holds one more branch's recompute graph at the peak and keeps two cores busy, each with one BLAS thread.
/// Measured (ViT-Ti, 12 layers, 224², batch 8, 2 cores): with a single-threaded BLAS the reversible step takes 23–26 %
/// less time (as fast as plain); against OpenBLAS's own two-thread GEMMs it gains nothing measurable (−2 … +3 % over
/// several runs), for 57 % more peak memory above what is held.
enum class RecomputeOverlap {
    Off, ///< recompute and backward alternate on the calling thread (the least memory)
    On, ///< overlap on CPU whenever a segment has two branches or more (CUDA: off, one stream)
    /// On where it is a large win: CPU, the second thread has a core of its own (2 × intra-op threads × the job's
    /// processes on this machine, LOCAL_WORLD_SIZE, ≤ hardware threads) and the BLAS runs one thread
    /// (OPENBLAS_NUM_THREADS=1), so that core would otherwise idle
    Auto,
};

/// Parses "plain" / "stored" / "reversible" / "checkpointed"; throws std::invalid_argument naming the allowed values.
ExecMode parseExecMode(const std::string& name);
/// The lower-case name used in configs and output.
std::string toString(ExecMode mode);
/// Parses "scaled" / "input"; throws std::invalid_argument naming the allowed values.
FirstSkip parseFirstSkip(const std::string& name);
/// The lower-case name used in configs and output.
std::string toString(FirstSkip skip);
/// Parses "off" / "on" / "auto"; throws std::invalid_argument naming the allowed values.
RecomputeOverlap parseRecomputeOverlap(const std::string& name);
/// The lower-case name used in configs and output.
std::string toString(RecomputeOverlap overlap);
/// Whether `overlap` overlaps a reversible backward on `device` in this process now (Auto: see RecomputeOverlap).
bool overlapsRecompute(RecomputeOverlap overlap, const c10::Device& device);

/// The checkpoint segment length used when none is configured: about √N branches for a stack of N (at least 1),
/// which keeps about √N stored segment inputs plus one segment's activations, O(√N) instead of O(N).
int64_t defaultCheckpointSegment(int64_t branches);

/// Options of a Dr2Stack. α and β may change between iterations through the stack's setters.
struct Dr2StackOptions {
    double alpha = 1.0; ///< scale of the pretrained residual path
    double beta = 0.0; ///< scale of the dual path (must be non-zero in reversible mode)
    FirstSkip firstSkip = FirstSkip::Scaled;
    ExecMode mode = ExecMode::Stored;
    /// Lengths of consecutive reversible (or checkpointed) segments; empty means one segment over all branches.
    std::vector<int64_t> segments;
    /// Reversible backward only: recompute on a helper thread beside the branch backward.
    RecomputeOverlap overlap = RecomputeOverlap::Off;
};

/// A stack of residual branches F_1..F_N evaluated as a Dr²Net (Zhao et al., CVPR 2024):
///
///     y_i = β·x_{i-1},   x_i = F_i(x_{i-1}) + α·x_{i-1} + y_{i-1}
///
/// The output is x_N. In ExecMode::Reversible only the (x, y) pair at each segment boundary is kept;
/// the backward reconstructs x_{i-1} = y_i/β and y_{i-1} = x_i − F_i(x_{i-1}) − α·x_{i-1}, re-runs F_i
/// with autograd (same dropout masks, running statistics untouched) and accumulates parameter gradients
/// into the usual .grad fields. ExecMode::Checkpointed computes the Plain network but keeps only each segment's
/// input, recomputing the segment in the backward (same masks and statistics rules). Every branch must map a tensor to a tensor of the same shape and must
/// not modify its input in place.
class Dr2StackImpl : public torch::nn::Module {
public:
    /// Registers the branches as submodules "branches.0" .. "branches.{N-1}".
    explicit Dr2StackImpl(std::vector<torch::nn::AnyModule> branches, Dr2StackOptions options = {});

    /// x_N for input x_0 under the current mode, α, β and segments. Under autocast the branches compute in low
    /// precision while the streams, the output and eq. 2 stay float32; the backward recomputes in the forward's
    /// autocast state.
    torch::Tensor forward(const torch::Tensor& x);

    /// Sets both coefficients; takes effect at the next forward.
    void setCoefficients(double alpha, double beta);
    void setMode(ExecMode mode);
    void setFirstSkip(FirstSkip skip);
    void setRecomputeOverlap(RecomputeOverlap overlap);
    /// Cuts the stack into consecutive segments of the given lengths (positive, summing to size()).
    void setSegments(std::vector<int64_t> lengths);
    /// Cuts the stack into segments of k branches (the last one may be shorter); k >= size() is one segment.
    void setSegmentEvery(int64_t k);

    double alpha() const { return m_options.alpha; }
    double beta() const { return m_options.beta; }
    ExecMode mode() const { return m_options.mode; }
    FirstSkip firstSkip() const { return m_options.firstSkip; }
    RecomputeOverlap recomputeOverlap() const { return m_options.overlap; }
    /// Whether a backward of this stack on `device` would recompute on a helper thread now (reversible mode and
    /// overlapsRecompute(recomputeOverlap(), device)).
    bool overlapsBackward(const c10::Device& device) const;
    const Dr2StackOptions& options() const { return m_options; }
    /// Segment lengths in effect (never empty: one segment means {size()}).
    std::vector<int64_t> segmentLengths() const;

    /// Number of branches N.
    int64_t size() const { return static_cast<int64_t>(m_branches.size()); }
    /// Branch i (0-based) as a module, for per-branch statistics.
    std::shared_ptr<torch::nn::Module> branchModule(int64_t i) const;
    /// Runs branch i on x; the result has x's dtype (under autocast a branch computes in low precision, and its
    /// output is cast back to the stream's dtype).
    torch::Tensor runBranch(int64_t i, const torch::Tensor& x);

private:
    torch::Tensor forwardPlain(const torch::Tensor& x);
    torch::Tensor forwardStored(const torch::Tensor& x);
    torch::Tensor forwardReversible(const torch::Tensor& x);
    torch::Tensor forwardCheckpointed(const torch::Tensor& x);
    torch::Tensor firstDual(const torch::Tensor& x) const;
    /// The input as the (x, y) streams carry it: float32 when autocast hands over a 16-bit tensor.
    static torch::Tensor streamInput(const torch::Tensor& input);
    /// This stack as a shared_ptr the autograd graph can hold (borrowed when not owned by one).
    std::shared_ptr<Dr2StackImpl> sharedSelf();
    /// m_anchor, moved to `device` first when needed.
    const torch::Tensor& anchorOn(const c10::Device& device);

    std::vector<torch::nn::AnyModule> m_branches;
    Dr2StackOptions m_options;
    torch::Tensor m_anchor; // zero-size tensor requiring grad: keeps the custom backward reachable
};

/// Holder for Dr2StackImpl in LibTorch's module style.
TORCH_MODULE(Dr2Stack);

} // namespace dr2
