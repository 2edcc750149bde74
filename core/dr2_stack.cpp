#include "core/dr2_stack.h"

#include "core/autocast.h"
#include "core/host_runtime.h"
#include "core/memory_meter.h"
#include "core/random_stream.h"
#include "core/rng_state.h"
#include "core/weight_gradients.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/record_function.h>
#include <torch/autograd.h>
#include <torch/custom_class.h>
#include <torch/nn/modules/container/modulelist.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dr2 {

ExecMode parseExecMode(const std::string& name)
{
    if (name == "plain")
        return ExecMode::Plain;
    if (name == "stored")
        return ExecMode::Stored;
    if (name == "reversible")
        return ExecMode::Reversible;
    if (name == "checkpointed")
        return ExecMode::Checkpointed;
    throw std::invalid_argument("mode '" + name + "': expected plain, stored, reversible or checkpointed");
}

std::string toString(ExecMode mode)
{
    switch (mode) {
    case ExecMode::Plain:
        return "plain";
    case ExecMode::Stored:
        return "stored";
    case ExecMode::Reversible:
        return "reversible";
    case ExecMode::Checkpointed:
        return "checkpointed";
    }
    return "?";
}

FirstSkip parseFirstSkip(const std::string& name)
{
    if (name == "scaled")
        return FirstSkip::Scaled;
    if (name == "input")
        return FirstSkip::Input;
    throw std::invalid_argument("first_skip '" + name + "': expected scaled or input");
}

std::string toString(FirstSkip skip)
{
    return skip == FirstSkip::Scaled ? "scaled" : "input";
}

RecomputeOverlap parseRecomputeOverlap(const std::string& name)
{
    if (name == "off")
        return RecomputeOverlap::Off;
    if (name == "on")
        return RecomputeOverlap::On;
    if (name == "auto")
        return RecomputeOverlap::Auto;
    throw std::invalid_argument("recompute overlap '" + name + "': expected off, on or auto");
}

std::string toString(RecomputeOverlap overlap)
{
    switch (overlap) {
    case RecomputeOverlap::Off:
        return "off";
    case RecomputeOverlap::On:
        return "on";
    case RecomputeOverlap::Auto:
        return "auto";
    }
    return "?";
}

bool overlapsRecompute(RecomputeOverlap overlap, const c10::Device& device)
{
    // Two CPU threads gain nothing on one GPU stream: the CUDA path stays sequential.
    if (overlap == RecomputeOverlap::Off || !device.is_cpu())
        return false;
    if (overlap == RecomputeOverlap::On)
        return true;
    // The helper runs with as many intra-op threads as this one: it pays only if the two do not share cores with
    // each other or with the job's other processes on this machine (data parallel). With OpenBLAS's own pool the
    // GEMMs already use the cores: there the overlap still wins 9-21 % (weight gradients on the helper), but for
    // one more branch of memory and a peak that varies between runs with the threads' pace, so Auto leaves it off
    // and keeps the large win: a one-thread BLAS, where the second core would otherwise idle (33-35 %).
    const unsigned cores = std::thread::hardware_concurrency();
    const auto threads = static_cast<unsigned>(std::max(1, at::get_num_threads()));
    const auto processes = static_cast<unsigned>(processesOnThisMachine());
    return cores > 0 && 2 * threads * processes <= cores && openBlasThreads() == 1;
}

int64_t defaultCheckpointSegment(int64_t branches)
{
    // S segments of N/S branches keep S inputs and recompute N/S branches at a time: S = √N balances the two.
    return std::max<int64_t>(1, std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(branches, 1)))));
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Everything the backward of one segment needs besides its saved tensors (the reversible segment's output pair,
/// the checkpointed segment's input). α and β are read by the reversible segment only.
struct SegmentState : torch::CustomClassHolder {
    std::shared_ptr<Dr2StackImpl> stack;
    int64_t begin = 0;
    int64_t end = 0;
    double alpha = 1.0;
    double beta = 1.0;
    // The generator the branches drew from in the forward (this thread's currentGenerator()). Held here,
    // not looked up again: the backward may run on another thread, with another scope or none.
    at::Generator generator;
    std::vector<RngState> rng; // its state per branch in [begin, end), captured before that branch's forward
    // The forward's autocast state. The backward re-enters it for the recompute: called outside any autocast scope
    // (the usual place for loss.backward()) it would otherwise recompute in float32, inside a different one in
    // another precision, and F_i would not be the function the forward added to the stream.
    AutocastState autocast;
    // The segment whose backward runs first (the stack's last) runs its last branch with autograd in the forward and
    // keeps that graph: the backward starts with it instead of recomputing it. It costs no extra peak memory (the
    // backward would hold the same graph a moment later) and saves one branch's recompute per step.
    bool keepLastGraph = false;
    // Reversible backward: recompute one branch ahead on a helper thread (RecomputeOverlap, resolved at the forward).
    bool overlap = false;
    torch::Tensor lastInput; // x_{end-1}, the leaf the kept graph starts from (exact, not reconstructed)
    torch::Tensor lastOutput; // F_{end}(x_{end-1}) with its graph
};

/// Puts a module's buffers (running statistics) back as they were when the snapshot was taken, so a
/// recompute in the backward does not update them a second time.
class BufferSnapshot {
public:
    explicit BufferSnapshot(const torch::nn::Module& module)
    {
        for (auto& buffer : module.buffers(/*recurse=*/true)) {
            if (buffer.defined())
                m_saved.emplace_back(buffer, buffer.clone());
        }
    }
    ~BufferSnapshot()
    {
        torch::NoGradGuard noGrad;
        for (auto& [live, copy] : m_saved)
            live.copy_(copy);
    }
    BufferSnapshot(const BufferSnapshot&) = delete;
    BufferSnapshot& operator=(const BufferSnapshot&) = delete;

private:
    std::vector<std::pair<torch::Tensor, torch::Tensor>> m_saved;
};

/// A branch of a reversible segment ready for its backward: the leaf x_{i-1} its graph starts from and
/// F_i(x_{i-1}) computed from it with autograd.
struct BranchGraph {
    torch::Tensor input; // requires grad; its .grad receives ∂F_i/∂x_{i-1}·g
    torch::Tensor output;
    // The branch's running statistics as the forward left them, put back when the graph goes: after its backward,
    // because a normalisation layer's backward reads the buffers it saved (restoring them in place earlier would
    // fail autograd's version check).
    std::unique_ptr<BufferSnapshot> buffers;
};

/// Recomputes F_i from its reconstructed input x_{i-1} exactly as the forward ran it: the branch's random state
/// restored (and the generator put back afterwards), its running statistics untouched. The caller has made the
/// forward's generator and autocast state current on this thread.
BranchGraph recomputeBranch(SegmentState& state, int64_t i, const torch::Tensor& xPrev)
{
    Dr2StackImpl& stack = *state.stack;
    const size_t local = static_cast<size_t>(i - state.begin);
    std::unique_ptr<RngFork> fork;
    if (local < state.rng.size()) {
        fork = std::make_unique<RngFork>(state.generator);
        state.rng[local].restore();
    }
    BranchGraph graph;
    graph.buffers = std::make_unique<BufferSnapshot>(*stack.branchModule(i));
    torch::AutoGradMode enableGrad(true);
    graph.input = xPrev.detach().requires_grad_(true);
    RECORD_USER_SCOPE("dr2::recompute");
    graph.output = stack.runBranch(i, graph.input);
    return graph;
}

/// Re-entrant backward through one branch's graph with output gradient `gx`: parameter gradients accumulate in
/// .grad; returns ∂F_i/∂x_{i-1}·gx (undefined when nothing in the branch requires grad).
torch::Tensor branchBackward(const BranchGraph& graph, const torch::Tensor& gx)
{
    if (!graph.output.requires_grad())
        return {};
    RECORD_USER_SCOPE("dr2::branch_backward");
    torch::autograd::backward({ graph.output }, { gx });
    return graph.input.grad();
}

/// eq. 2's second half out of place, y_{i-1} = (x_i − F_i) − α·x_{i-1}: for when x_i may still be read (a live
/// graph's input, a saved output).
torch::Tensor dualBelow(const torch::Tensor& x, const torch::Tensor& f, const torch::Tensor& xPrev, double alpha)
{
    return x.sub(f.detach()).sub_(xPrev, alpha);
}

/// eq. 1's gradients one branch down: g_{x_{i-1}} = ∂F_i/∂x_{i-1}·g_{x_i} + α·g_{x_i} + β·g_{y_i} and
/// g_{y_{i-1}} = g_{x_i}. `gIn` is the branch's leaf gradient, owned by the caller: it is accumulated into in place.
void gradientsBelow(const torch::Tensor& gIn, double alpha, double beta, torch::Tensor& gx, torch::Tensor& gy)
{
    torch::Tensor gxPrev = gIn.defined() ? gIn.add_(gx, alpha) : gx.mul(alpha);
    if (gy.defined())
        gxPrev.add_(gy, beta);
    gy = gx;
    gx = std::move(gxPrev);
}

/// The recompute half of a reversible backward, run one branch ahead on a helper thread, and the weight gradients,
/// run by whichever thread is free (RecomputeOverlap).
///
/// The helper walks eq. 2 down the segment from branch `top`: x_{i-1} = y_i/β, F_i(x_{i-1}) recomputed with its
/// graph, y_{i-1} = x_i − F_i − α·x_{i-1}, and hands each branch's graph to the calling thread, which
/// back-propagates it. Nothing on that path depends on a gradient, so the recompute of branch i−1 can run while
/// branch i back-propagates: per branch the step costs max(recompute, backward) instead of their sum. The helper
/// starts a branch only once the previous one has been taken, so at most two graphs are alive (one more than the
/// sequential loop holds). It runs the sequential loop's operations on the same values, out of place where that
/// loop reuses a buffer a live graph may still read, so the gradients are bit-identical.
///
/// The helper also balances the two threads' work: it builds its branches' linear layers with deferred weight
/// gradients (core/weight_gradients.h), so the calling thread's backward computes only what the chain of gradients
/// down the segment waits for (∂L/∂x) and queues each layer's weight-gradient GEMM here. Whichever thread would
/// otherwise wait runs queued jobs: the helper while its recomputed branch has not been taken, the caller while
/// the next branch is not ready and at the end (finish()). A job holds the layer's output gradient and input until
/// it runs; before taking the next branch the caller runs the jobs still queued, so at most one branch's jobs wait
/// and the peak stays flat in depth.
///
/// The helper runs in the calling thread's state: LibTorch's thread-local state (profiler, dispatch keys), the
/// forward's autocast state and generator, and its allocations count toward the caller's memory scope.
class RecomputeAhead {
public:
    /// Starts recomputing branch `top` from (x_top, y_top). `yOwned`: y is a temporary of this backward that may
    /// become x_{top-1} in place (not a saved output a second backward would read again).
    RecomputeAhead(SegmentState& state, torch::Tensor x, torch::Tensor y, int64_t top, bool yOwned)
        : m_state(state)
        , m_x(std::move(x))
        , m_y(std::move(y))
        , m_top(top)
        , m_yOwned(yOwned)
        , m_charge(MemoryCharge::current())
        , m_sink(std::make_shared<Sink>(*this))
        , m_thread([this] { run(); })
    {
    }

    ~RecomputeAhead()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_cancelled = true;
        }
        m_changed.notify_all();
        m_thread.join();
    }

    RecomputeAhead(const RecomputeAhead&) = delete;
    RecomputeAhead& operator=(const RecomputeAhead&) = delete;

    /// The next branch's graph, top down (waits for the helper); rethrows what the helper threw.
    BranchGraph take()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        // The jobs left from the branch just back-propagated run now, on this thread if the helper is busy: that
        // bounds the queue (and the gradients and inputs its jobs hold) to one branch whatever the threads' pace.
        workUntil(lock, [this] { return m_jobs.empty(); });
        workUntil(lock, [this] { return m_ready.has_value() || m_error; });
        if (!m_ready)
            std::rethrow_exception(m_error);
        BranchGraph graph = std::move(*m_ready);
        m_ready.reset();
        lock.unlock();
        m_changed.notify_all();
        return graph;
    }

    /// Runs the weight-gradient jobs still queued and waits for those the helper is running: afterwards every
    /// parameter gradient of the segment is in .grad. Rethrows what a job threw.
    void finish()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        workUntil(lock, [this] { return m_jobs.empty() && m_running == 0; });
        if (m_jobError)
            std::rethrow_exception(m_jobError);
    }

private:
    /// The deferred linear layers' sink: queues their jobs with the RecomputeAhead (held weakly by the nodes, so a
    /// graph that outlives it computes its weight gradients in place).
    class Sink : public WeightGradientSink {
    public:
        explicit Sink(RecomputeAhead& owner)
            : m_owner(owner)
        {
        }
        void defer(WeightGradientJob job) override
        {
            {
                std::lock_guard<std::mutex> lock(m_owner.m_mutex);
                m_owner.m_jobs.push_back(std::move(job));
            }
            m_owner.m_changed.notify_all();
        }

    private:
        RecomputeAhead& m_owner;
    };

    /// Runs the oldest queued job on this thread, unlocking `lock` meanwhile; false when none is queued. The GEMMs
    /// of different jobs run in parallel, their accumulation into .grad one at a time.
    bool runJob(std::unique_lock<std::mutex>& lock)
    {
        if (m_jobs.empty())
            return false;
        WeightGradientJob job = std::move(m_jobs.front());
        m_jobs.pop_front();
        ++m_running;
        lock.unlock();
        std::exception_ptr error;
        try {
            WeightGradientJob::Result result = job.compute();
            std::lock_guard<std::mutex> accumulating(m_accumulateMutex);
            job.accumulate(result);
        } catch (...) {
            error = std::current_exception();
        }
        job = WeightGradientJob(); // its tensors go before the lock is taken again
        lock.lock();
        --m_running;
        if (error && !m_jobError)
            m_jobError = error;
        m_changed.notify_all();
        return true;
    }

    /// Runs queued jobs on this thread, or waits when there are none, until `done()` holds (checked under `lock`).
    template <typename Done>
    void workUntil(std::unique_lock<std::mutex>& lock, Done done)
    {
        while (!done()) {
            if (!runJob(lock))
                m_changed.wait(lock);
        }
    }

    void run()
    {
        try {
            at::ThreadLocalStateGuard threadState(m_threadState);
            MemoryChargeScope charge(m_charge);
            AutocastScope autocast(m_state.autocast);
            std::unique_ptr<RandomStreamScope> replay;
            if (m_state.generator.defined())
                replay = std::make_unique<RandomStreamScope>(m_state.generator);
            torch::Tensor x = std::move(m_x);
            torch::Tensor y = std::move(m_y);
            bool yOwned = m_yOwned;
            DeferWeightGradients deferring(m_sink);
            for (int64_t i = m_top; i >= m_state.begin; --i) {
                {
                    // While the branch recomputed last waits to be taken, run queued weight-gradient jobs.
                    std::unique_lock<std::mutex> lock(m_mutex);
                    workUntil(lock, [this] { return !m_ready.has_value() || m_cancelled; });
                    if (m_cancelled)
                        return;
                }
                torch::Tensor xPrev;
                {
                    RECORD_USER_SCOPE("dr2::reconstruct_x");
                    xPrev = yOwned ? y.div_(m_state.beta) : y.div(m_state.beta);
                }
                BranchGraph graph = recomputeBranch(m_state, i, xPrev);
                torch::Tensor yPrev;
                {
                    // x_i is the input of branch i+1's graph, which may be back-propagating now: out of place.
                    RECORD_USER_SCOPE("dr2::reconstruct_y");
                    yPrev = dualBelow(x, graph.output, xPrev, m_state.alpha);
                }
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_ready = std::move(graph);
                }
                m_changed.notify_all();
                x = std::move(xPrev);
                y = std::move(yPrev);
                yOwned = true;
            }
            // Every branch is recomputed: help with the weight gradients until the backward is over.
            std::unique_lock<std::mutex> lock(m_mutex);
            workUntil(lock, [this] { return m_cancelled; });
        } catch (...) {
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_error = std::current_exception();
            }
            m_changed.notify_all();
        }
    }

    SegmentState& m_state;
    torch::Tensor m_x;
    torch::Tensor m_y;
    int64_t m_top;
    bool m_yOwned;
    at::ThreadLocalState m_threadState; // the calling thread's, captured at construction
    MemoryCharge m_charge;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::optional<BranchGraph> m_ready; // recomputed, not yet taken
    std::exception_ptr m_error;
    bool m_cancelled = false;
    std::deque<WeightGradientJob> m_jobs; // deferred weight gradients, oldest first
    int m_running = 0; // jobs being computed now, on either thread
    std::exception_ptr m_jobError;
    std::mutex m_accumulateMutex; // one .grad update at a time
    std::shared_ptr<Sink> m_sink;
    std::thread m_thread; // last: starts once everything above is initialised
};

class ReversibleSegment : public torch::autograd::Function<ReversibleSegment> {
public:
    static variable_list forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor y,
        const torch::Tensor& /*anchor*/, c10::intrusive_ptr<SegmentState> state)
    {
        // Function::apply already runs forward with grad mode off: nothing inside builds a graph. Casts of weights
        // made here have no graph either and must not enter the autocast cache, where the backward's recompute (or a
        // later forward in the same scope) would pick them up and lose those weights' gradients.
        AutocastCacheOff noGraphlessCasts;
        Dr2StackImpl& stack = *state->stack;
        const bool recordRng = stack.is_training();
        state->rng.clear();
        if (recordRng)
            state->generator = currentGenerator(x.device());
        RECORD_USER_SCOPE("dr2::reversible_forward");
        state->lastInput = torch::Tensor();
        state->lastOutput = torch::Tensor();
        for (int64_t i = state->begin; i < state->end; ++i) {
            if (recordRng)
                state->rng.push_back(RngState::capture(state->generator));
            const bool keep = state->keepLastGraph && i == state->end - 1;
            torch::Tensor next;
            if (keep) {
                torch::AutoGradMode enableGrad(true);
                torch::Tensor xIn = x.detach().requires_grad_(true);
                torch::Tensor f = stack.runBranch(i, xIn);
                if (f.requires_grad()) {
                    state->lastInput = std::move(xIn);
                    state->lastOutput = f;
                }
                next = f.detach();
            } else {
                next = stack.runBranch(i, x);
            }
            // Accumulate into the branch output when it is a fresh tensor nobody else holds (the usual case);
            // a branch that returns its input, a view or a parameter gets an out-of-place sum, and so does the
            // kept branch, whose graph may have saved its output.
            if (!keep && next.storage().use_count() == 1 && !next.is_alias_of(x))
                next.add_(x, state->alpha).add_(y);
            else
                next = next.add(x, state->alpha).add_(y);
            // After the first branch, x is this loop's own temporary and can become y in place, unless the kept
            // graph starts from it.
            y = i == state->begin || keep ? x.mul(state->beta) : x.mul_(state->beta);
            x = std::move(next);
        }
        ctx->set_materialize_grads(false); // y_N usually gets no gradient: do not allocate zeros for it
        ctx->save_for_backward({ x, y });
        ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
        return { x, y };
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads)
    {
        auto saved = ctx->get_saved_variables();
        auto holder = ctx->saved_data["state"].toCapsule();
        auto* state = static_cast<SegmentState*>(holder.get());

        torch::Tensor x = saved[0].detach();
        torch::Tensor y = saved[1].detach();
        torch::Tensor gx = grads[0].defined() ? grads[0] : torch::zeros_like(x);
        torch::Tensor gy = grads[1]; // often undefined: the loss sees only x_N
        // The recompute must draw from the forward's generator whatever is current on this thread, and compute in the
        // forward's autocast state whatever is in effect here.
        AutocastScope autocast(state->autocast);
        std::unique_ptr<RandomStreamScope> replay;
        if (state->generator.defined())
            replay = std::make_unique<RandomStreamScope>(state->generator);

        RECORD_USER_SCOPE("dr2::reversible_backward");
        if (state->overlap && state->end - state->begin >= 2)
            backwardOverlapped(*state, std::move(x), std::move(y), gx, gy);
        else
            backwardSequential(*state, std::move(x), std::move(y), gx, gy);
        return { gx, gy, torch::Tensor(), torch::Tensor() };
    }

private:
    /// The kept last branch (see SegmentState::keepLastGraph) as a graph: the forward's exact input and output.
    static BranchGraph takeKeptGraph(SegmentState& state)
    {
        BranchGraph graph { std::move(state.lastInput), std::move(state.lastOutput), nullptr };
        state.lastInput = torch::Tensor();
        state.lastOutput = torch::Tensor();
        return graph;
    }

    /// Recompute and backward alternate on this thread, reusing every buffer as soon as it is free.
    static void backwardSequential(SegmentState& state, torch::Tensor x, torch::Tensor y, torch::Tensor& gx,
        torch::Tensor& gy)
    {
        // x and y start as the saved outputs and must not be changed in place (a second backward reads them again);
        // from the first reconstruction on they are this loop's own temporaries.
        bool own = false;
        for (int64_t i = state.end - 1; i >= state.begin; --i) {
            torch::Tensor xPrev;
            BranchGraph graph;
            if (i == state.end - 1 && state.lastOutput.defined()) {
                // The forward kept this branch's graph and its exact input: no recompute, no x reconstruction.
                graph = takeKeptGraph(state);
                xPrev = graph.input.detach();
            } else {
                {
                    RECORD_USER_SCOPE("dr2::reconstruct_x");
                    xPrev = own ? y.div_(state.beta) : y.div(state.beta); // eq. 2, first half; y_i is not needed after it
                }
                graph = recomputeBranch(state, i, xPrev);
            }
            torch::Tensor gIn = branchBackward(graph, gx);
            RECORD_USER_SCOPE("dr2::reconstruct_y");
            // eq. 2, second half, y_{i-1} = (x_i − F_i) − α·x_{i-1}, in place in a buffer that is free now: the branch
            // output when nobody else holds it (its graph is spent), else our own x_i; same operations, same bits.
            graph.input.reset();
            torch::Tensor f = std::move(graph.output);
            torch::Tensor yPrev;
            if (f.storage().use_count() == 1 && !f.is_alias_of(xPrev) && !f.is_alias_of(x)) {
                torch::Tensor buffer = f.detach();
                f.reset();
                yPrev = at::sub_out(buffer, x, buffer).sub_(xPrev, state.alpha);
            } else {
                // x_i is ours after the first iteration (after a kept branch too: the forward's temporary x_{end-1},
                // unless the segment has one branch and the loop ends here).
                const bool inPlace = own && !f.is_alias_of(x);
                yPrev = inPlace ? x.sub_(f.detach()).sub_(xPrev, state.alpha)
                                : dualBelow(x, f, xPrev, state.alpha);
                f.reset();
            }
            gradientsBelow(gIn, state.alpha, state.beta, gx, gy);
            x = std::move(xPrev);
            y = std::move(yPrev);
            own = true;
        }
    }

    /// The recompute runs one branch ahead on a helper thread (RecomputeAhead) while this thread back-propagates.
    static void backwardOverlapped(SegmentState& state, torch::Tensor x, torch::Tensor y, torch::Tensor& gx,
        torch::Tensor& gy)
    {
        int64_t top = state.end - 1;
        BranchGraph kept;
        bool yOwned = false;
        if (state.lastOutput.defined()) {
            // The kept branch needs no recompute; the pair below it follows from the forward's own values, so the
            // helper can start on the next branch before this one back-propagates. x_end is a saved output: out of
            // place.
            kept = takeKeptGraph(state);
            torch::Tensor xPrev = kept.input.detach();
            {
                RECORD_USER_SCOPE("dr2::reconstruct_y");
                y = dualBelow(x, kept.output, xPrev, state.alpha);
            }
            x = std::move(xPrev);
            yOwned = true;
            --top;
        }
        // Two GEMM-heavy threads side by side: OpenBLAS's own pool would make them share cores instead of one each.
        SingleThreadedBlas blas;
        RecomputeAhead ahead(state, std::move(x), std::move(y), top, yOwned);
        if (kept.output.defined()) {
            torch::Tensor gIn = branchBackward(kept, gx);
            kept = BranchGraph();
            gradientsBelow(gIn, state.alpha, state.beta, gx, gy);
        }
        for (int64_t i = top; i >= state.begin; --i) {
            torch::Tensor gIn;
            {
                BranchGraph graph = ahead.take();
                gIn = branchBackward(graph, gx);
            } // the graph goes before the next one is taken: at most two are alive
            gradientsBelow(gIn, state.alpha, state.beta, gx, gy);
        }
        ahead.finish();
    }
};

/// One branch of the pretrained network, x_i = F_i(x_{i-1}) + x_{i-1}: the single definition ExecMode::Plain, the
/// checkpointed forward and its recompute share, so the three compute bit-identical values.
torch::Tensor plainStep(Dr2StackImpl& stack, int64_t i, const torch::Tensor& x)
{
    return stack.runBranch(i, x) + x;
}

/// Activation checkpointing of one segment of the Plain network: the forward runs without a graph and keeps only
/// the segment's input; the backward runs the segment again with autograd from that input and back-propagates
/// through it. Unlike the reversible segment nothing is reconstructed, so the gradients are exactly Plain's, at
/// the price of one segment's activations during the backward.
class CheckpointedSegment : public torch::autograd::Function<CheckpointedSegment> {
public:
    static variable_list forward(AutogradContext* ctx, const torch::Tensor& input, const torch::Tensor& /*anchor*/,
        c10::intrusive_ptr<SegmentState> state)
    {
        // Function::apply runs forward with grad mode off: each branch's activations are freed as soon as the next
        // branch has its input. No graph-less weight casts in the autocast cache (see the reversible forward).
        AutocastCacheOff noGraphlessCasts;
        Dr2StackImpl& stack = *state->stack;
        const bool recordRng = stack.is_training();
        state->rng.clear();
        if (recordRng)
            state->generator = currentGenerator(input.device());
        torch::Tensor x = input;
        for (int64_t i = state->begin; i < state->end; ++i) {
            if (recordRng)
                state->rng.push_back(RngState::capture(state->generator));
            x = plainStep(stack, i, x);
        }
        // The input is the previous segment's output (or the stack's input): saving it costs no new memory.
        ctx->save_for_backward({ input });
        ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
        return { x };
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads)
    {
        auto saved = ctx->get_saved_variables();
        auto holder = ctx->saved_data["state"].toCapsule();
        auto* state = static_cast<SegmentState*>(holder.get());
        Dr2StackImpl& stack = *state->stack;

        // As in the reversible backward: the recompute runs in the forward's autocast state, draws from the forward's
        // generator (this may be another thread), restores each branch's state so dropout and drop path draw the
        // forward's masks, and the fork puts the generator back afterwards so the random sequence outside is not
        // disturbed.
        AutocastScope autocast(state->autocast);
        std::unique_ptr<RandomStreamScope> replay;
        std::unique_ptr<RngFork> fork;
        if (state->generator.defined()) {
            replay = std::make_unique<RandomStreamScope>(state->generator);
            fork = std::make_unique<RngFork>(state->generator);
        }
        // Running statistics were updated by the forward; the recompute must not update them again.
        std::vector<std::unique_ptr<BufferSnapshot>> buffers;
        for (int64_t i = state->begin; i < state->end; ++i)
            buffers.push_back(std::make_unique<BufferSnapshot>(*stack.branchModule(i)));

        torch::Tensor gIn;
        {
            torch::AutoGradMode enableGrad(true);
            torch::Tensor xIn = saved[0].detach().requires_grad_(true);
            torch::Tensor x = xIn;
            for (int64_t i = state->begin; i < state->end; ++i) {
                const size_t local = static_cast<size_t>(i - state->begin);
                if (local < state->rng.size())
                    state->rng[local].restore();
                x = plainStep(stack, i, x);
            }
            // Re-entrant backward through the recomputed segment: parameter gradients accumulate in .grad. The skip
            // path makes x depend on xIn, so xIn always gets a gradient.
            torch::autograd::backward({ x }, { grads[0] });
            gIn = xIn.grad();
        }
        return { gIn, torch::Tensor(), torch::Tensor() };
    }
};

std::string joinLengths(const std::vector<int64_t>& lengths)
{
    std::ostringstream out;
    for (size_t i = 0; i < lengths.size(); ++i)
        out << (i ? "," : "") << lengths[i];
    return out.str();
}

} // namespace

Dr2StackImpl::Dr2StackImpl(std::vector<torch::nn::AnyModule> branches, Dr2StackOptions options)
    : m_branches(std::move(branches))
    , m_options(std::move(options))
{
    if (m_branches.empty())
        throw std::invalid_argument("Dr2Stack: needs at least one residual branch, found none");
    torch::nn::ModuleList list;
    for (size_t i = 0; i < m_branches.size(); ++i) {
        if (m_branches[i].is_empty())
            throw std::invalid_argument("Dr2Stack: branch " + std::to_string(i) + " is empty");
        list->push_back(m_branches[i].ptr());
    }
    register_module("branches", list);
    setCoefficients(m_options.alpha, m_options.beta);
    setSegments(m_options.segments);
    m_anchor = torch::empty({ 0 }, torch::requires_grad());
}

void Dr2StackImpl::setCoefficients(double alpha, double beta)
{
    if (!std::isfinite(alpha) || !std::isfinite(beta))
        throw std::invalid_argument("Dr2Stack: α and β must be finite, found α=" + std::to_string(alpha)
            + ", β=" + std::to_string(beta));
    m_options.alpha = alpha;
    m_options.beta = beta;
}

void Dr2StackImpl::setRecomputeOverlap(RecomputeOverlap overlap)
{
    m_options.overlap = overlap;
}

bool Dr2StackImpl::overlapsBackward(const c10::Device& device) const
{
    return m_options.mode == ExecMode::Reversible && overlapsRecompute(m_options.overlap, device);
}

void Dr2StackImpl::setMode(ExecMode mode)
{
    m_options.mode = mode;
}

void Dr2StackImpl::setFirstSkip(FirstSkip skip)
{
    m_options.firstSkip = skip;
}

void Dr2StackImpl::setSegments(std::vector<int64_t> lengths)
{
    if (!lengths.empty()) {
        const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t { 0 });
        const bool positive = std::all_of(lengths.begin(), lengths.end(), [](int64_t n) { return n > 0; });
        if (!positive || total != size())
            throw std::invalid_argument("Dr2Stack: segment lengths [" + joinLengths(lengths)
                + "] must be positive and sum to the number of branches " + std::to_string(size()));
    }
    m_options.segments = std::move(lengths);
}

void Dr2StackImpl::setSegmentEvery(int64_t k)
{
    if (k <= 0)
        throw std::invalid_argument("Dr2Stack: segment length must be positive, found " + std::to_string(k));
    std::vector<int64_t> lengths;
    for (int64_t left = size(); left > 0; left -= k)
        lengths.push_back(std::min(k, left));
    setSegments(std::move(lengths));
}

std::vector<int64_t> Dr2StackImpl::segmentLengths() const
{
    return m_options.segments.empty() ? std::vector<int64_t> { size() } : m_options.segments;
}

std::shared_ptr<torch::nn::Module> Dr2StackImpl::branchModule(int64_t i) const
{
    return m_branches.at(static_cast<size_t>(i)).ptr();
}

torch::Tensor Dr2StackImpl::runBranch(int64_t i, const torch::Tensor& x)
{
    torch::Tensor f = m_branches[static_cast<size_t>(i)].forward(x);
    // Under autocast a branch ends in low precision (a linear layer's bfloat16 output). It is cast back to the
    // stream's dtype here, the one place every mode goes through, before it is added to the stream: the streams and
    // eq. 2 then stay float32 (dividing by a small β and cancelling x_i − F_i in bfloat16, 8 mantissa bits, would
    // multiply its 4e-3 rounding by 1/β at every step), the in-place sums of the reversible forward cannot silently
    // narrow a stream to the branch's dtype, and every mode adds the same float32 value, so reversible and stored
    // differ only by reconstruction, as in float32. The recompute casts the same bits the same way. What bfloat16 does
    // change: a reconstructed input a few float32 ulps off can round to another bfloat16 value inside the branch, so
    // the error grows much faster with segment length than in float32 (measured in tests/core/autocast_test.cpp and
    // with gradcheck --autocast bf16); segments chosen from a bf16 probe keep it small.
    return f.scalar_type() == x.scalar_type() ? f : f.to(x.scalar_type());
}

torch::Tensor Dr2StackImpl::forward(const torch::Tensor& input)
{
    const torch::Tensor x = streamInput(input);
    switch (m_options.mode) {
    case ExecMode::Plain:
        return forwardPlain(x);
    case ExecMode::Stored:
        return forwardStored(x);
    case ExecMode::Reversible:
        return forwardReversible(x);
    case ExecMode::Checkpointed:
        return forwardCheckpointed(x);
    }
    throw std::logic_error("Dr2Stack: unknown execution mode");
}

torch::Tensor Dr2StackImpl::streamInput(const torch::Tensor& input)
{
    // Under autocast the layer before the stack (a patch embedding) hands over a 16-bit tensor; the streams start
    // in float32 (see runBranch). Without autocast a 16-bit input is a 16-bit model, and stays as it is.
    const bool reduced = input.scalar_type() == torch::kBFloat16 || input.scalar_type() == torch::kHalf;
    if (reduced && AutocastState::current().enabledFor(input.device().type()))
        return input.to(torch::kFloat32);
    return input;
}

torch::Tensor Dr2StackImpl::firstDual(const torch::Tensor& x) const
{
    return m_options.firstSkip == FirstSkip::Scaled ? x.mul(m_options.beta) : x;
}

torch::Tensor Dr2StackImpl::forwardPlain(const torch::Tensor& input)
{
    torch::Tensor x = input;
    for (int64_t i = 0; i < size(); ++i)
        x = plainStep(*this, i, x);
    return x;
}

torch::Tensor Dr2StackImpl::forwardStored(const torch::Tensor& input)
{
    const double alpha = m_options.alpha;
    const double beta = m_options.beta;
    torch::Tensor x = input;
    torch::Tensor y = firstDual(input);
    for (int64_t i = 0; i < size(); ++i) {
        torch::Tensor next = runBranch(i, x).add(x, alpha).add(y);
        y = x.mul(beta);
        x = std::move(next);
    }
    return x;
}

torch::Tensor Dr2StackImpl::forwardReversible(const torch::Tensor& input)
{
    if (m_options.beta == 0.0)
        throw std::invalid_argument("Dr2Stack: reversible mode reconstructs x_{i-1} = y_i/β and needs β ≠ 0, "
                                    "found β = 0; use mode 'stored' or a non-zero β");
    // Without autograd there is nothing to reconstruct: eq. 1 alone gives the same output.
    if (!torch::GradMode::is_enabled())
        return forwardStored(input);

    const std::shared_ptr<Dr2StackImpl> self = sharedSelf();
    const torch::Tensor& anchor = anchorOn(input.device());
    const AutocastState autocast = AutocastState::current();
    const bool overlap = overlapsBackward(input.device());

    torch::Tensor x = input;
    torch::Tensor y = firstDual(input);
    int64_t begin = 0;
    for (int64_t length : segmentLengths()) {
        auto state = c10::make_intrusive<SegmentState>();
        state->stack = self;
        state->begin = begin;
        state->end = begin + length;
        state->alpha = m_options.alpha;
        state->beta = m_options.beta;
        state->keepLastGraph = state->end == size();
        state->overlap = overlap;
        state->autocast = autocast;
        auto outputs = ReversibleSegment::apply(x, y, anchor, std::move(state));
        x = outputs[0];
        y = outputs[1];
        begin += length;
    }
    return x;
}

torch::Tensor Dr2StackImpl::forwardCheckpointed(const torch::Tensor& input)
{
    // Without autograd there is nothing to recompute: the plain forward gives the same output.
    if (!torch::GradMode::is_enabled())
        return forwardPlain(input);

    const std::shared_ptr<Dr2StackImpl> self = sharedSelf();
    const torch::Tensor& anchor = anchorOn(input.device());
    const AutocastState autocast = AutocastState::current();
    torch::Tensor x = input;
    int64_t begin = 0;
    for (int64_t length : segmentLengths()) {
        auto state = c10::make_intrusive<SegmentState>();
        state->stack = self;
        state->begin = begin;
        state->end = begin + length;
        state->autocast = autocast;
        x = CheckpointedSegment::apply(x, anchor, std::move(state))[0];
        begin += length;
    }
    return x;
}

std::shared_ptr<Dr2StackImpl> Dr2StackImpl::sharedSelf()
{
    try {
        return std::static_pointer_cast<Dr2StackImpl>(shared_from_this());
    } catch (const std::bad_weak_ptr&) {
        // Not owned by a shared_ptr (constructed on the stack): borrow it; it must outlive the graph.
        return std::shared_ptr<Dr2StackImpl>(this, [](Dr2StackImpl*) {});
    }
}

const torch::Tensor& Dr2StackImpl::anchorOn(const c10::Device& device)
{
    // A segment whose input needs no gradient (a frozen embedding, a constant input) would not be recorded by
    // autograd at all; this zero-size input that requires grad keeps its backward, and the parameter gradients
    // computed there, reachable.
    if (m_anchor.device() != device)
        m_anchor = torch::empty({ 0 }, torch::TensorOptions().device(device).requires_grad(true));
    return m_anchor;
}

} // namespace dr2
