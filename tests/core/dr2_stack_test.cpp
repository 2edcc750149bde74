// Equivalence, reconstruction and determinism of the Dr2Stack execution modes.
#include "core/dr2_stack.h"
#include "core/autocast.h"
#include "core/host_runtime.h"
#include "core/backbones/vit/vit.h"
#include "core/backbones/vit/vit_branches.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/record_function.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dr2 {
namespace {

using test::makeBatch;
using test::makeViT;
using test::relativeL2;
using test::stepGrads;

TEST(Dr2Stack, StoredAtAlphaOneBetaZeroIsThePretrainedNetwork)
{
    ViT model = makeViT(/*depth=*/12);
    model->eval();
    auto [images, labels] = makeBatch(model, 2);
    torch::NoGradGuard noGrad;

    model->stack().setMode(ExecMode::Plain);
    const torch::Tensor plain = model->forward(images);
    model->stack().setMode(ExecMode::Stored);
    model->stack().setCoefficients(/*alpha=*/1.0, /*beta=*/0.0);
    model->stack().setFirstSkip(FirstSkip::Scaled);
    const torch::Tensor stored = model->forward(images);
    EXPECT_LE((stored - plain).abs().max().item<double>(), 1e-6);

    // The paper's literal y_0 = x_0 feeds x_0 into the first branch twice: not the pretrained network.
    model->stack().setFirstSkip(FirstSkip::Input);
    const torch::Tensor literal = model->forward(images);
    EXPECT_GT((literal - plain).abs().max().item<double>(), 1e-3);
}

TEST(Dr2Stack, ReversibleGradientsMatchStoredAtAlphaZeroBetaOne)
{
    // 12 layers = 24 branches, ViT-Ti, fp32, batch 2.
    ViT model = makeViT(/*depth=*/12);
    model->stack().setCoefficients(0.0, 1.0);
    auto [images, labels] = makeBatch(model, 2);
    const auto stored = stepGrads(model, ExecMode::Stored, images, labels);
    const auto reversible = stepGrads(model, ExecMode::Reversible, images, labels);
    EXPECT_LE(relativeL2(reversible.params, stored.params), 1e-5);
    EXPECT_LE(relativeL2(reversible.input, stored.input), 1e-5);
    EXPECT_LE((reversible.logits - stored.logits).abs().max().item<double>(), 1e-5);
}

TEST(Dr2Stack, ReversibleGradientsMatchStoredInFloat64AtAlphaOneBetaPointOne)
{
    // At (1, 0.1) the reconstruction error grows about 10x per branch (division by β), so the float64
    // bound holds for short segments: 6 branches in one segment, and 24 branches cut every 4.
    for (auto [depth, segmentEvery] : { std::pair<int64_t, int64_t> { 3, 0 }, { 12, 4 } }) {
        ViT model = makeViT(depth, /*imageSize=*/224);
        model->to(torch::kFloat64);
        model->stack().setCoefficients(1.0, 0.1);
        if (segmentEvery)
            model->stack().setSegmentEvery(segmentEvery);
        auto [images, labels] = makeBatch(model, 2);
        images = images.to(torch::kFloat64);
        const auto stored = stepGrads(model, ExecMode::Stored, images, labels);
        const auto reversible = stepGrads(model, ExecMode::Reversible, images, labels);
        EXPECT_LE(relativeL2(reversible.params, stored.params), 1e-10) << "depth " << depth;
        EXPECT_LE(relativeL2(reversible.input, stored.input), 1e-10) << "depth " << depth;
    }
}

TEST(Dr2Stack, DropoutAndDropPathReplayTheSameMasks)
{
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.1);
    model->stack().setCoefficients(0.0, 1.0);
    auto [images, labels] = makeBatch(model, 4);
    const auto stored = stepGrads(model, ExecMode::Stored, images, labels, /*seed=*/42);
    const auto reversible = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/42);
    const auto again = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/42);
    EXPECT_LE(relativeL2(reversible.params, stored.params), 1e-5);
    for (size_t i = 0; i < again.params.size(); ++i)
        EXPECT_TRUE(again.params[i].equal(reversible.params[i])) << "parameter " << i;

    // The masks really are random: another seed gives other gradients.
    const auto other = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/43);
    EXPECT_GT(relativeL2(other.params, reversible.params), 1e-3);
}

TEST(Dr2Stack, BackwardRecomputeLeavesTheRandomStreamAlone)
{
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.1);
    model->stack().setCoefficients(0.5, 0.5);
    auto [images, labels] = makeBatch(model, 2);
    stepGrads(model, ExecMode::Stored, images, labels, /*seed=*/5);
    const torch::Tensor afterStored = torch::rand({ 8 });
    stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/5);
    const torch::Tensor afterReversible = torch::rand({ 8 });
    EXPECT_TRUE(afterStored.equal(afterReversible));
}

TEST(Dr2Stack, OverlappedRecomputeGivesBitIdenticalGradients)
{
    // 8 branches with dropout and drop path: one segment (the kept last branch, then six recomputed on the helper),
    // segments of 3, 3, 2 (the lowest without a kept branch, one of two branches) and of 1 (nothing to overlap).
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.1);
    model->stack().setCoefficients(0.5, 0.5);
    auto [images, labels] = makeBatch(model, 4);
    for (int64_t every : { int64_t { 8 }, int64_t { 3 }, int64_t { 1 } }) {
        model->stack().setSegmentEvery(every);
        model->stack().setRecomputeOverlap(RecomputeOverlap::Off);
        const auto sequential = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/42);
        model->stack().setRecomputeOverlap(RecomputeOverlap::On);
        for (int repeat = 0; repeat < 2; ++repeat) {
            const auto overlapped = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/42);
            ASSERT_EQ(overlapped.params.size(), sequential.params.size());
            for (size_t p = 0; p < sequential.params.size(); ++p)
                EXPECT_TRUE(overlapped.params[p].equal(sequential.params[p]))
                    << "segments of " << every << ", parameter " << p << ", repeat " << repeat;
            EXPECT_TRUE(overlapped.input.equal(sequential.input)) << "segments of " << every;
        }
    }
    // And the sequential result is the reversible gradient (not two equal wrong answers): at (0.5, 0.5) over 8
    // branches in float32 the reconstruction leaves 2.5e-5 relative.
    model->stack().setSegmentEvery(8);
    const auto stored = stepGrads(model, ExecMode::Stored, images, labels, /*seed=*/42);
    const auto overlapped = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/42);
    EXPECT_LE(relativeL2(overlapped.params, stored.params), 1e-4);
}

TEST(Dr2Stack, OverlappedRecomputeUnderBf16AutocastEqualsSequential)
{
    // Under autocast the helper recomputes in the forward's precision and the linear layers are not deferred (their
    // casts would have to be replayed): the overlapped step still equals the sequential one bit for bit.
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/32, /*seed=*/0, /*dropout=*/0.1);
    model->stack().setCoefficients(0.5, 0.5);
    auto [images, labels] = makeBatch(model, 2);
    AutocastState bf16;
    bf16.cpuEnabled = true;
    test::StepGrads grads[2];
    for (int overlap = 0; overlap < 2; ++overlap) {
        model->stack().setRecomputeOverlap(overlap ? RecomputeOverlap::On : RecomputeOverlap::Off);
        AutocastScope autocast(bf16);
        grads[overlap] = stepGrads(model, ExecMode::Reversible, images, labels, /*seed=*/3);
    }
    for (size_t p = 0; p < grads[0].params.size(); ++p)
        EXPECT_TRUE(grads[1].params[p].equal(grads[0].params[p])) << "parameter " << p;
    EXPECT_TRUE(grads[1].input.equal(grads[0].input));
}

std::atomic<int> g_weightGradientJobs { 0 };

std::unique_ptr<at::ObserverContext> countWeightGradientJobs(const at::RecordFunction& fn)
{
    if (std::string(fn.name()) == "dr2::weight_gradients")
        ++g_weightGradientJobs;
    return nullptr;
}

TEST(Dr2Stack, OverlappedBackwardDefersTheRecomputedLinearLayersWeightGradients)
{
    // 8 branches in one segment: the kept last branch back-propagates as autograd built it in the forward, the other
    // seven (attention and MLP alternating, two linear layers each) are recomputed on the helper with deferred weight
    // gradients: 14 jobs (each opens one dr2::weight_gradients scope), none in the sequential backward.
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/32);
    model->stack().setCoefficients(0.5, 0.5);
    auto [images, labels] = makeBatch(model, 2);
    const at::CallbackHandle handle = at::addGlobalCallback(
        at::RecordFunctionCallback(countWeightGradientJobs).scopes({ at::RecordScope::USER_SCOPE }));
    int jobs[2] = { 0, 0 };
    for (int overlap = 0; overlap < 2; ++overlap) {
        model->stack().setRecomputeOverlap(overlap ? RecomputeOverlap::On : RecomputeOverlap::Off);
        g_weightGradientJobs = 0;
        stepGrads(model, ExecMode::Reversible, images, labels);
        jobs[overlap] = g_weightGradientJobs;
    }
    at::removeCallback(handle);
    EXPECT_EQ(jobs[0], 0);
    EXPECT_EQ(jobs[1], 14);
}

/// x ↦ tanh(W x) that throws from its `failAt`-th call on (0-based), to fail a recompute on the helper thread.
class FailingBranchImpl : public torch::nn::Module {
public:
    explicit FailingBranchImpl(int64_t width)
        : linear(register_module("linear", torch::nn::Linear(width, width)))
    {
    }
    torch::Tensor forward(const torch::Tensor& x)
    {
        if (failAt >= 0 && calls++ >= failAt)
            throw std::runtime_error("branch failed on purpose");
        return torch::tanh(linear->forward(x));
    }
    torch::nn::Linear linear;
    int64_t calls = 0;
    int64_t failAt = -1;
};
TORCH_MODULE(FailingBranch);

TEST(Dr2Stack, AFailingRecomputeOnTheHelperThreadReachesTheCaller)
{
    torch::manual_seed(0);
    std::vector<FailingBranch> branches;
    std::vector<torch::nn::AnyModule> modules;
    for (int i = 0; i < 4; ++i) {
        branches.emplace_back(8);
        modules.emplace_back(branches.back());
    }
    Dr2StackOptions options;
    options.alpha = 0.5;
    options.beta = 0.5;
    options.mode = ExecMode::Reversible;
    options.overlap = RecomputeOverlap::On;
    auto stack = std::make_shared<Dr2StackImpl>(modules, options);
    const torch::Tensor input = torch::randn({ 3, 8 });

    // Forward: one call per branch. Backward: branch 3 is kept, branches 2, 1, 0 are recomputed on the helper;
    // branch 1's recompute (its second call) throws there.
    branches[1]->failAt = 1;
    torch::Tensor out = stack->forward(input.clone().requires_grad_(true));
    try {
        out.sum().backward();
        FAIL() << "the helper's exception did not reach the caller";
    } catch (const std::exception& error) {
        EXPECT_NE(std::string(error.what()).find("branch failed on purpose"), std::string::npos) << error.what();
    }
    // Nothing is left waiting: the stack trains again, with or without the helper, to the sequential result.
    branches[1]->failAt = -1;
    std::vector<torch::Tensor> grads[2];
    for (int overlap = 0; overlap < 2; ++overlap) {
        stack->setRecomputeOverlap(overlap ? RecomputeOverlap::On : RecomputeOverlap::Off);
        stack->zero_grad(/*set_to_none=*/true);
        stack->forward(input.clone().requires_grad_(true)).sum().backward();
        for (auto& p : stack->parameters())
            grads[overlap].push_back(p.grad().clone());
    }
    for (size_t p = 0; p < grads[0].size(); ++p)
        EXPECT_TRUE(grads[1][p].equal(grads[0][p])) << "parameter " << p;
}

TEST(Dr2Stack, RecomputeOverlapResolvesPerDeviceAndThreads)
{
    const c10::Device cpu(c10::kCPU);
    EXPECT_FALSE(overlapsRecompute(RecomputeOverlap::Off, cpu));
    EXPECT_TRUE(overlapsRecompute(RecomputeOverlap::On, cpu));
    EXPECT_FALSE(overlapsRecompute(RecomputeOverlap::On, c10::Device(c10::kCUDA, 0)));
    const int threads = at::get_num_threads();
    const unsigned cores = std::thread::hardware_concurrency();
    const int blas = openBlasThreads();
    {
        // One intra-op thread and a one-thread BLAS (what SingleThreadedBlas makes OpenBLAS): Auto overlaps with two
        // cores or more, unless the job's other processes on this machine (LOCAL_WORLD_SIZE) take the second core;
        // a malformed count counts as one process.
        SingleThreadedBlas single;
        at::set_num_threads(1);
        const char* raw = std::getenv("LOCAL_WORLD_SIZE");
        const std::optional<std::string> before = raw ? std::optional<std::string>(raw) : std::nullopt;
        ::unsetenv("LOCAL_WORLD_SIZE");
        if (blas > 0) {
            EXPECT_EQ(openBlasThreads(), 1);
            EXPECT_EQ(overlapsRecompute(RecomputeOverlap::Auto, cpu), cores >= 2) << cores << " hardware threads";
        }
        ::setenv("LOCAL_WORLD_SIZE", std::to_string(std::max(1u, cores)).c_str(), 1);
        EXPECT_FALSE(overlapsRecompute(RecomputeOverlap::Auto, cpu)) << "one process per core leaves none free";
        ::setenv("LOCAL_WORLD_SIZE", "2x", 1);
        EXPECT_EQ(processesOnThisMachine(), 1);
        if (before)
            ::setenv("LOCAL_WORLD_SIZE", before->c_str(), 1);
        else
            ::unsetenv("LOCAL_WORLD_SIZE");
        at::set_num_threads(threads);
    }
    EXPECT_EQ(overlapsRecompute(RecomputeOverlap::Auto, cpu),
        cores > 0 && 2u * static_cast<unsigned>(threads) * static_cast<unsigned>(processesOnThisMachine()) <= cores
            && blas == 1)
        << threads << " intra-op threads, " << cores << " hardware threads, " << blas << " BLAS threads";
    EXPECT_EQ(openBlasThreads(), blas) << "the scope puts the BLAS thread count back";
    for (auto overlap : { RecomputeOverlap::Off, RecomputeOverlap::On, RecomputeOverlap::Auto })
        EXPECT_EQ(parseRecomputeOverlap(toString(overlap)), overlap);
    EXPECT_THROW(parseRecomputeOverlap("yes"), std::invalid_argument);
}

TEST(Dr2Stack, CheckpointedGradientsEqualPlainWithDropoutAndDropPath)
{
    // 4 layers = 8 branches; one segment, segments of 3 (3, 3, 2) and of 1. Masks must be replayed in the recompute.
    for (auto dtype : { torch::kFloat32, torch::kFloat64 }) {
        const double tolerance = dtype == torch::kFloat32 ? 1e-6 : 1e-12;
        for (int64_t every : { 0, 3, 1 }) {
            ViT model = makeViT(/*depth=*/4, /*imageSize=*/64, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.2);
            model->to(dtype);
            if (every)
                model->stack().setSegmentEvery(every);
            auto [images, labels] = makeBatch(model, 3);
            images = images.to(dtype);
            const auto plain = stepGrads(model, ExecMode::Plain, images, labels, /*seed=*/42);
            const auto checkpointed = stepGrads(model, ExecMode::Checkpointed, images, labels, /*seed=*/42);
            const std::string where = std::string(dtype == torch::kFloat32 ? "float32" : "float64") + ", segments of "
                + std::to_string(every);
            EXPECT_TRUE(checkpointed.logits.equal(plain.logits)) << where;
            EXPECT_LE(relativeL2(checkpointed.params, plain.params), tolerance) << where;
            EXPECT_LE(relativeL2(checkpointed.input, plain.input), tolerance) << where;
            for (size_t i = 0; i < plain.params.size(); ++i)
                EXPECT_EQ(checkpointed.params[i].defined(), plain.params[i].defined()) << where << ", parameter " << i;
        }
    }
    // The masks really are random: another seed gives other gradients.
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.2);
    auto [images, labels] = makeBatch(model, 2);
    const auto first = stepGrads(model, ExecMode::Checkpointed, images, labels, /*seed=*/42);
    const auto other = stepGrads(model, ExecMode::Checkpointed, images, labels, /*seed=*/43);
    EXPECT_GT(relativeL2(other.params, first.params), 1e-3);
}

TEST(Dr2Stack, CheckpointedIgnoresTheCoefficientsAndLeavesTheRandomStreamAlone)
{
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32, /*seed=*/0, /*dropout=*/0.1, /*dropPath=*/0.1);
    model->stack().setCoefficients(0.5, 0.5); // Plain and Checkpointed compute the pretrained network whatever α, β
    model->stack().setSegmentEvery(2);
    auto [images, labels] = makeBatch(model, 2);
    const auto plain = stepGrads(model, ExecMode::Plain, images, labels, /*seed=*/5);
    const torch::Tensor afterPlain = torch::rand({ 8 });
    const auto checkpointed = stepGrads(model, ExecMode::Checkpointed, images, labels, /*seed=*/5);
    const torch::Tensor afterCheckpointed = torch::rand({ 8 });
    EXPECT_TRUE(afterPlain.equal(afterCheckpointed));
    EXPECT_TRUE(checkpointed.logits.equal(plain.logits));

    // Without autograd (evaluation) it is the plain forward.
    torch::NoGradGuard noGrad;
    model->eval();
    model->stack().setMode(ExecMode::Plain);
    const torch::Tensor evalPlain = model->forward(images);
    model->stack().setMode(ExecMode::Checkpointed);
    EXPECT_TRUE(model->forward(images).equal(evalPlain));
}

TEST(Dr2Stack, ReversibleWithBetaZeroIsAClearError)
{
    ViT model = makeViT(/*depth=*/1, /*imageSize=*/32);
    model->stack().setMode(ExecMode::Reversible);
    model->stack().setCoefficients(1.0, 0.0);
    auto [images, labels] = makeBatch(model, 1);
    try {
        model->forward(images);
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("needs β ≠ 0"), std::string::npos) << error.what();
    }
}

TEST(Dr2Stack, SegmentsAreValidated)
{
    ViT model = makeViT(/*depth=*/3, /*imageSize=*/32); // 6 branches
    auto& stack = model->stack();
    EXPECT_THROW(stack.setSegments({ 2, 2 }), std::invalid_argument);
    EXPECT_THROW(stack.setSegments({ 6, 0 }), std::invalid_argument);
    EXPECT_THROW(stack.setSegmentEvery(0), std::invalid_argument);
    stack.setSegmentEvery(4);
    EXPECT_EQ(stack.segmentLengths(), (std::vector<int64_t> { 4, 2 }));
    stack.setSegments({ 1, 2, 3 });
    EXPECT_EQ(stack.segmentLengths(), (std::vector<int64_t> { 1, 2, 3 }));
    stack.setSegments({});
    EXPECT_EQ(stack.segmentLengths(), (std::vector<int64_t> { 6 }));
}

TEST(Dr2Stack, ParameterGradientsArriveWhenTheInputNeedsNone)
{
    // A bare stack on a constant input: only the branch parameters require grad.
    torch::manual_seed(0);
    BranchOptions options;
    options.dim = 16;
    options.heads = 2;
    std::vector<torch::nn::AnyModule> branches { torch::nn::AnyModule(AttentionBranch(options)),
        torch::nn::AnyModule(MlpBranch(options)) };
    Dr2Stack stack(std::move(branches), Dr2StackOptions { 0.0, 1.0, FirstSkip::Scaled, ExecMode::Stored, {} });
    const torch::Tensor x = torch::randn({ 2, 5, 16 });

    stack->setMode(ExecMode::Stored);
    stack->forward(x).pow(2).sum().backward();
    const auto reference = test::gradients(*stack);
    stack->zero_grad(true);
    stack->setMode(ExecMode::Reversible);
    stack->forward(x).pow(2).sum().backward();
    const auto reversible = test::gradients(*stack);
    ASSERT_TRUE(reversible.front().defined());
    EXPECT_LE(relativeL2(reversible, reference), 1e-5);

    // The same for checkpointing, against the plain network.
    stack->zero_grad(true);
    stack->setMode(ExecMode::Plain);
    stack->forward(x).pow(2).sum().backward();
    const auto plain = test::gradients(*stack);
    stack->zero_grad(true);
    stack->setMode(ExecMode::Checkpointed);
    stack->forward(x).pow(2).sum().backward();
    const auto checkpointed = test::gradients(*stack);
    ASSERT_TRUE(checkpointed.front().defined());
    EXPECT_LE(relativeL2(checkpointed, plain), 1e-6);
}

/// A branch with running statistics: BatchNorm over the feature dimension, then a linear layer.
class NormBranchImpl : public torch::nn::Module {
public:
    NormBranchImpl()
    {
        bn = register_module("bn", torch::nn::BatchNorm1d(8));
        fc = register_module("fc", torch::nn::Linear(8, 8));
    }
    torch::Tensor forward(const torch::Tensor& x) { return fc(bn(x)); }
    torch::nn::BatchNorm1d bn { nullptr };
    torch::nn::Linear fc { nullptr };
};
TORCH_MODULE(NormBranch);

TEST(Dr2Stack, RunningStatisticsAreUpdatedOncePerStep)
{
    auto runningMeans = [](ExecMode mode, RecomputeOverlap overlap = RecomputeOverlap::Off) {
        torch::manual_seed(3);
        std::vector<torch::nn::AnyModule> branches;
        std::vector<NormBranch> norms;
        for (int i = 0; i < 3; ++i) {
            norms.emplace_back();
            branches.emplace_back(norms.back());
        }
        Dr2Stack stack(std::move(branches), Dr2StackOptions { 0.5, 0.5, FirstSkip::Scaled, ExecMode::Stored, {} });
        stack->train();
        stack->setMode(mode);
        stack->setRecomputeOverlap(overlap);
        const torch::Tensor x = torch::randn({ 16, 8 }) * 3 + 1;
        stack->forward(x).sum().backward();
        std::vector<torch::Tensor> stats;
        for (auto& n : norms) {
            stats.push_back(n->bn->running_mean.clone());
            stats.push_back(n->bn->num_batches_tracked.clone());
        }
        return stats;
    };
    const auto stored = runningMeans(ExecMode::Stored);
    const auto reversible = runningMeans(ExecMode::Reversible);
    ASSERT_EQ(stored.size(), reversible.size());
    for (size_t i = 0; i < stored.size(); ++i)
        EXPECT_TRUE(torch::allclose(reversible[i].to(torch::kFloat64), stored[i].to(torch::kFloat64), 1e-5, 1e-6))
            << "buffer " << i << ": " << reversible[i] << " vs " << stored[i];
    // The overlapped backward recomputes on a helper thread and puts each branch's statistics back after its
    // backward on this one (BatchNorm's backward reads the buffers it saved): the same statistics, bit for bit.
    const auto overlapped = runningMeans(ExecMode::Reversible, RecomputeOverlap::On);
    for (size_t i = 0; i < reversible.size(); ++i)
        EXPECT_TRUE(overlapped[i].equal(reversible[i])) << "buffer " << i << ": " << overlapped[i] << " vs " << reversible[i];
    // Checkpointing recomputes the plain network from the same input: the statistics must equal Plain's exactly.
    const auto plain = runningMeans(ExecMode::Plain);
    const auto checkpointed = runningMeans(ExecMode::Checkpointed);
    for (size_t i = 0; i < plain.size(); ++i)
        EXPECT_TRUE(checkpointed[i].equal(plain[i])) << "buffer " << i << ": " << checkpointed[i] << " vs " << plain[i];
}

TEST(Dr2Stack, CoefficientsCanChangeBetweenIterations)
{
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32);
    auto [images, labels] = makeBatch(model, 2);
    model->stack().setCoefficients(0.9, 0.2);
    const auto first = stepGrads(model, ExecMode::Reversible, images, labels);
    model->stack().setCoefficients(0.3, 0.7);
    const auto stored = stepGrads(model, ExecMode::Stored, images, labels);
    const auto reversible = stepGrads(model, ExecMode::Reversible, images, labels);
    EXPECT_LE(relativeL2(reversible.params, stored.params), 1e-5);
    EXPECT_GT((first.logits - reversible.logits).abs().max().item<double>(), 1e-4);
}

TEST(Dr2Stack, ModeNamesRoundTrip)
{
    for (auto mode : { ExecMode::Plain, ExecMode::Stored, ExecMode::Reversible, ExecMode::Checkpointed })
        EXPECT_EQ(parseExecMode(toString(mode)), mode);
    for (auto skip : { FirstSkip::Scaled, FirstSkip::Input })
        EXPECT_EQ(parseFirstSkip(toString(skip)), skip);
    EXPECT_THROW(parseExecMode("revers"), std::invalid_argument);
    EXPECT_THROW(parseFirstSkip("x0"), std::invalid_argument);
}

} // namespace
} // namespace dr2
