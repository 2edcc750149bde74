// Memory of a training step, measured by the counting allocator: constant in depth when reversible, growing only
// by the stored segment inputs when checkpointed.
#include "core/memory_meter.h"
#include "core/step_profile.h"
#include "core/backbones/vit/vit.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace dr2 {
namespace {

/// Peak tensor bytes of one training step above what is held before it (parameters, gradients, batch).
int64_t stepPeak(int64_t depth, ExecMode mode, double alpha = 0.3, double beta = 0.7, int64_t segmentEvery = 0,
    RecomputeOverlap overlap = RecomputeOverlap::Off)
{
    ViT model = test::makeViT(depth, /*imageSize=*/224);
    model->stack().setMode(mode);
    model->stack().setRecomputeOverlap(overlap);
    model->stack().setCoefficients(alpha, beta);
    if (segmentEvery)
        model->stack().setSegmentEvery(segmentEvery);
    auto [images, labels] = test::makeBatch(model, 4);
    auto loss = [&, &images = images, &labels = labels] {
        return torch::nn::functional::cross_entropy(model->forward(images), labels);
    };
    return profileTrainingStep(*model, loss, c10::Device(c10::kCPU), /*warmup=*/1, /*repeats=*/1).peakAboveHeldBytes;
}

TEST(ReversibleMemory, PeakDoesNotGrowWithDepth)
{
    const int64_t reversible6 = stepPeak(6, ExecMode::Reversible);
    const int64_t reversible24 = stepPeak(24, ExecMode::Reversible);
    const int64_t plain6 = stepPeak(6, ExecMode::Plain);
    const int64_t plain24 = stepPeak(24, ExecMode::Plain);
    RecordProperty("reversible6", std::to_string(reversible6));
    RecordProperty("reversible24", std::to_string(reversible24));
    RecordProperty("plain6", std::to_string(plain6));
    RecordProperty("plain24", std::to_string(plain24));
    EXPECT_LT(static_cast<double>(reversible24), 1.10 * static_cast<double>(reversible6))
        << "reversible: depth 6 " << reversible6 << " B, depth 24 " << reversible24 << " B";
    EXPECT_GT(static_cast<double>(plain24), 2.0 * static_cast<double>(plain6))
        << "plain: depth 6 " << plain6 << " B, depth 24 " << plain24 << " B";
    EXPECT_LT(reversible24, plain24 / 4);
}

TEST(ReversibleMemory, OverlappedRecomputeHoldsOneMoreBranchAndStaysFlatInDepth)
{
    const int64_t sequential6 = stepPeak(6, ExecMode::Reversible);
    const int64_t sequential24 = stepPeak(24, ExecMode::Reversible);
    const int64_t overlapped6 = stepPeak(6, ExecMode::Reversible, 0.3, 0.7, 0, RecomputeOverlap::On);
    const int64_t overlapped24 = stepPeak(24, ExecMode::Reversible, 0.3, 0.7, 0, RecomputeOverlap::On);
    RecordProperty("sequential6", std::to_string(sequential6));
    RecordProperty("sequential24", std::to_string(sequential24));
    RecordProperty("overlapped6", std::to_string(overlapped6));
    RecordProperty("overlapped24", std::to_string(overlapped24));
    // The helper thread's recompute is charged to the step (were it not, the overlapped peak would come out lower).
    // Above the sequential backward it holds one more branch's graph (an MLP branch at batch 4 keeps about 4
    // tensors of [4, 197, 768]: LayerNorm in/out at 192 wide, fc1 out, GELU out) and the weight-gradient jobs of at
    // most one branch (their output gradients and inputs, about 2.5 such tensors for an MLP branch). Where the peak
    // falls depends on the two threads' pace, so both depths get the same bound: 8 of them, whatever the depth.
    const int64_t hiddenBytes = int64_t { 4 } * 197 * 768 * static_cast<int64_t>(sizeof(float));
    EXPECT_GE(overlapped6, sequential6);
    EXPECT_LE(overlapped6 - sequential6, 8 * hiddenBytes)
        << "depth 6: sequential " << sequential6 << " B, overlapped " << overlapped6 << " B";
    EXPECT_LE(overlapped24 - sequential24, 8 * hiddenBytes)
        << "depth 24: sequential " << sequential24 << " B, overlapped " << overlapped24 << " B";
    EXPECT_LT(static_cast<double>(sequential24), 1.10 * static_cast<double>(sequential6));
}

TEST(ReversibleMemory, SegmentsCutTheErrorAndCostOnlyTheirBoundaryPairs)
{
    // 24 branches at (1, 0.1): one segment against segments of 4 branches.
    ViT model = test::makeViT(/*depth=*/12, /*imageSize=*/224);
    model->stack().setCoefficients(1.0, 0.1);
    auto [images, labels] = test::makeBatch(model, 2);
    const auto stored = test::stepGrads(model, ExecMode::Stored, images, labels);
    const auto whole = test::stepGrads(model, ExecMode::Reversible, images, labels);
    model->stack().setSegmentEvery(4);
    const auto segmented = test::stepGrads(model, ExecMode::Reversible, images, labels);
    const double wholeError = test::relativeL2(whole.params, stored.params);
    const double segmentedError = test::relativeL2(segmented.params, stored.params);
    EXPECT_LE(segmentedError * 100.0, wholeError) << "one segment " << wholeError << ", segments of 4 " << segmentedError;

    // Memory: 6 segments keep 5 more (x, y) pairs than one segment, and nothing else.
    const int64_t one = stepPeak(12, ExecMode::Reversible, 1.0, 0.1);
    const int64_t six = stepPeak(12, ExecMode::Reversible, 1.0, 0.1, /*segmentEvery=*/4);
    const int64_t pairBytes
        = int64_t { 2 } * 4 * 197 * 192 * static_cast<int64_t>(sizeof(float)); // batch 4, 197 tokens
    EXPECT_GE(six, one);
    EXPECT_LE(six - one, 5 * pairBytes) << "one segment " << one << " B, six segments " << six << " B";
}

TEST(ReversibleMemory, CheckpointedKeepsOnlySegmentInputsAndOneSegment)
{
    // Segments of 4 branches (2 layers): depth 6 has 3 segments, depth 24 has 12.
    const int64_t checkpointed6 = stepPeak(6, ExecMode::Checkpointed, 1.0, 0.0, /*segmentEvery=*/4);
    const int64_t checkpointed24 = stepPeak(24, ExecMode::Checkpointed, 1.0, 0.0, /*segmentEvery=*/4);
    const int64_t plain6 = stepPeak(6, ExecMode::Plain);
    const int64_t plain24 = stepPeak(24, ExecMode::Plain);
    RecordProperty("checkpointed6", std::to_string(checkpointed6));
    RecordProperty("checkpointed24", std::to_string(checkpointed24));
    RecordProperty("plain6", std::to_string(plain6));
    RecordProperty("plain24", std::to_string(plain24));
    EXPECT_LT(checkpointed6, plain6 * 2 / 3) << "checkpointed " << checkpointed6 << " B, plain " << plain6 << " B";
    EXPECT_LT(checkpointed24, plain24 / 4) << "checkpointed " << checkpointed24 << " B, plain " << plain24 << " B";
    // 9 more segments store 9 more inputs [4, 197, 192] (allow one more for bookkeeping); the recomputed segment is
    // as long as before.
    const int64_t inputBytes = int64_t { 4 } * 197 * 192 * static_cast<int64_t>(sizeof(float));
    EXPECT_LE(checkpointed24 - checkpointed6, 10 * inputBytes)
        << "checkpointed: depth 6 " << checkpointed6 << " B, depth 24 " << checkpointed24 << " B";
    EXPECT_LT(checkpointed24 - checkpointed6, (plain24 - plain6) / 10);
}

} // namespace
} // namespace dr2
