// Swin / Video Swin as Dr²Net: window geometry, the per-stage reversible stacks, gradients and memory.
// Logits against PyTorch's are checked in tests/checkpoint/ (fixtures from tests/fixtures/make_swin_checkpoints.py).
#include "core/backbones/swin/swin.h"
#include "core/memory_meter.h"
#include "core/random_stream.h"
#include "core/step_profile.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace dr2 {
namespace {

/// A small Swin: 3 stages, window 4, on 40×48 images (stages 10×12, 5×6, 3×3: padding, odd merging, a last
/// stage smaller than the window).
SwinOptions smallSwin(std::vector<int64_t> depths = { 2, 2, 2 })
{
    SwinOptions o;
    o.embedDim = 16;
    o.heads = { 2, 4, 8 };
    o.depths = std::move(depths);
    o.window = { 1, 4, 4 };
    o.mlpRatio = 2.0;
    o.imageHeight = 40;
    o.imageWidth = 48;
    o.numClasses = 10;
    return o;
}

/// A small Video Swin: patch 2×4×4, window 2×4×4 (stage 2 shrinks its window along rows and columns).
SwinOptions smallVideoSwin()
{
    SwinOptions o;
    o.embedDim = 16;
    o.depths = { 2, 2 };
    o.heads = { 2, 4 };
    o.window = { 2, 4, 4 };
    o.patch = { 2, 4, 4 };
    o.mlpRatio = 2.0;
    o.imageHeight = 26;
    o.imageWidth = 24;
    o.numFrames = 5;
    o.numClasses = 10;
    o.windowFit = WindowFit::Shrink;
    return o;
}

Swin makeSwin(const SwinOptions& options, uint64_t seed = 0)
{
    torch::manual_seed(seed);
    Swin model(options);
    // Move every parameter off its initialisation so that the bias tables and norms matter.
    torch::NoGradGuard noGrad;
    for (auto& p : model->parameters())
        p.add_(0.05 * torch::randn_like(p));
    return model;
}

torch::Tensor inputFor(const SwinOptions& o, int64_t batch, uint64_t seed = 1)
{
    torch::manual_seed(seed);
    InputShape shape { o.inChannels, o.imageHeight, o.imageWidth, o.numFrames };
    return torch::randn(shape.sizes(batch));
}

struct Grads {
    std::vector<torch::Tensor> params;
    torch::Tensor input;
    torch::Tensor logits;
};

/// Gradients of one cross-entropy step in `mode`; dropout and drop path draw from one seeded stream each call.
Grads stepGrads(Swin& model, ExecMode mode, const torch::Tensor& input, const torch::Tensor& labels)
{
    model->setMode(mode);
    model->zero_grad(/*set_to_none=*/true);
    RandomStream stream(7);
    RandomStreamScope scope(stream);
    torch::Tensor x = input.detach().clone().requires_grad_(true);
    torch::Tensor logits = model->forward(x);
    torch::nn::functional::cross_entropy(logits, labels).backward();
    return { test::gradients(*model), x.grad().detach().clone(), logits.detach() };
}

/// The gradients of the parameters under `prefix` (e.g. "stages.1."), in named_parameters order.
std::vector<torch::Tensor> gradsUnder(Swin& model, const std::vector<torch::Tensor>& all, const std::string& prefix)
{
    std::vector<torch::Tensor> out;
    size_t i = 0;
    for (const auto& p : model->named_parameters(/*recurse=*/true)) {
        if (p.key().rfind(prefix, 0) == 0)
            out.push_back(all[i]);
        ++i;
    }
    return out;
}

TEST(Swin, RelativePositionIndexOfATwoByTwoWindow)
{
    // (Δrow + 1)·3 + (Δcol + 1) for tokens (0,0), (0,1), (1,0), (1,1): torchvision's and timm's index.
    const torch::Tensor index = relativePositionIndex({ 1, 2, 2 });
    const torch::Tensor expected = torch::tensor({ 4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4 }, torch::kInt64).view({ 4, 4 });
    EXPECT_TRUE(index.equal(expected)) << index;
    // 3-D: frames first, the Video Swin release's layout; every entry addresses the (2d−1)(2h−1)(2w−1) table.
    const torch::Tensor video = relativePositionIndex({ 2, 3, 3 });
    EXPECT_EQ(video.size(0), 18);
    EXPECT_EQ(video.min().item<int64_t>(), 0);
    EXPECT_EQ(video.max().item<int64_t>(), 3 * 5 * 5 - 1);
    EXPECT_EQ(video[0][0].item<int64_t>(), (3 * 5 * 5 - 1) / 2); // zero offset sits in the middle of the table
}

TEST(Swin, WindowLayoutPadsOrShrinksAsTheReleasesDo)
{
    // torchvision: pad 10×12 to 12×12; keep the shift.
    WindowLayout pad = windowLayout({ 1, 10, 12 }, { 1, 4, 4 }, { 0, 2, 2 }, WindowFit::Pad);
    EXPECT_EQ(pad.padded, (Extent3 { 1, 12, 12 }));
    EXPECT_EQ(pad.shift, (Extent3 { 0, 2, 2 }));
    // A 3×3 map under a 4×4 window: one padded window, no shift.
    WindowLayout covered = windowLayout({ 1, 3, 3 }, { 1, 4, 4 }, { 0, 2, 2 }, WindowFit::Pad);
    EXPECT_EQ(covered.padded, (Extent3 { 1, 4, 4 }));
    EXPECT_EQ(covered.window, (Extent3 { 1, 4, 4 }));
    EXPECT_FALSE(covered.shifted());
    // Video Swin: 3×4×3 under 2×4×4 shrinks rows and columns to the map, keeps the temporal shift, pads frames.
    WindowLayout shrink = windowLayout({ 3, 4, 3 }, { 2, 4, 4 }, { 1, 2, 2 }, WindowFit::Shrink);
    EXPECT_EQ(shrink.window, (Extent3 { 2, 4, 3 }));
    EXPECT_EQ(shrink.shift, (Extent3 { 1, 0, 0 }));
    EXPECT_EQ(shrink.padded, (Extent3 { 4, 4, 3 }));
}

TEST(Swin, ShiftedWindowMaskSeparatesOnlyWrappedRegions)
{
    const WindowLayout layout = windowLayout({ 1, 8, 8 }, { 1, 4, 4 }, { 0, 2, 2 }, WindowFit::Pad);
    const torch::Tensor mask = shiftedWindowMask(layout, torch::TensorOptions().dtype(torch::kFloat32));
    ASSERT_EQ(mask.sizes(), (std::vector<int64_t> { 4, 16, 16 }));
    EXPECT_TRUE(mask[0].eq(0).all().item<bool>()) << "the first window holds no wrapped positions";
    EXPECT_TRUE(mask.eq(mask.transpose(1, 2)).all().item<bool>());
    EXPECT_TRUE(mask.diagonal(0, 1, 2).eq(0).all().item<bool>());
    // The last window gathers four regions of 2×2 tokens: each token may attend to 4 of the 16.
    EXPECT_EQ(mask[3].eq(0).sum().item<int64_t>(), 4 * 16);
    EXPECT_TRUE((mask.eq(0) | mask.eq(-100)).all().item<bool>());
}

TEST(Swin, StagesAreSeparateStacksWithTwoBranchesPerBlock)
{
    Swin model = makeSwin(smallSwin({ 2, 4, 2 }));
    const auto stacks = model->stacks();
    ASSERT_EQ(stacks.size(), 3U);
    EXPECT_EQ(stacks[0]->size(), 4);
    EXPECT_EQ(stacks[1]->size(), 8);
    EXPECT_EQ(model->branchCount(), 16);
    const BackboneDescription d = model->describe();
    ASSERT_EQ(d.stages.size(), 3U);
    EXPECT_EQ(d.stages[1].width, 32);
    EXPECT_EQ(d.stages[2].stride, 16);
    EXPECT_EQ(d.branches(), 16);

    model->eval();
    const torch::Tensor input = inputFor(model->options(), 2);
    const BackboneOutput out = model->forwardFeatures(input);
    ASSERT_EQ(out.stages.size(), 3U);
    EXPECT_EQ(out.stages[0].sizes(), (std::vector<int64_t> { 2, 10, 12, 16 }));
    EXPECT_EQ(out.stages[1].sizes(), (std::vector<int64_t> { 2, 5, 6, 32 }));
    EXPECT_EQ(out.stages[2].sizes(), (std::vector<int64_t> { 2, 3, 3, 64 }));
    EXPECT_EQ(out.pooled.sizes(), (std::vector<int64_t> { 2, 64 }));

    // Names follow the layout the loader maps onto.
    const auto params = model->named_parameters(/*recurse=*/true);
    for (const char* name : { "patch_embed.weight", "patch_norm.weight", "stages.0.branches.0.qkv.weight",
             "stages.0.branches.0.relative_position_bias_table", "stages.1.branches.7.fc2.weight",
             "merges.1.reduction.weight", "norm.weight", "head.weight" })
        EXPECT_NE(params.find(name), nullptr) << name;
    EXPECT_EQ(model->named_buffers().size(), 0U) << "the relative position index is computed, not stored";
    EXPECT_EQ(model->noWeightDecay().size(), 8U); // one bias table per block
}

TEST(Swin, WrongInputNamesTheExpectedLayout)
{
    Swin model = makeSwin(smallSwin());
    try {
        model->forward(torch::zeros({ 2, 1, 40, 48 }));
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("expected [B, 3, H, W]"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("[2, 1, 40, 48]"), std::string::npos) << error.what();
    }
    SwinOptions bad = smallSwin();
    bad.heads = { 2, 3, 8 };
    EXPECT_THROW(Swin { bad }, std::invalid_argument);
}

TEST(Swin, Dr2NetAtAlphaOneBetaZeroIsThePretrainedNetwork)
{
    for (const SwinOptions& options : { smallSwin(), smallVideoSwin() }) {
        Swin model = makeSwin(options);
        model->eval();
        const torch::Tensor input = inputFor(options, 2);
        model->setMode(ExecMode::Plain);
        const torch::Tensor plain = model->forward(input);
        model->setMode(ExecMode::Stored);
        model->setCoefficients(1.0, 0.0);
        const torch::Tensor stored = model->forward(input);
        EXPECT_LE((plain - stored).abs().max().item<double>(), 1e-6) << model->describe().summary;
    }
}

TEST(Swin, ReversibleGradientsMatchStoredPerStage)
{
    // In float64 the reconstruction error is far below the tolerance, so any mismatch is a wrong backward.
    for (const SwinOptions& base : { smallSwin(), smallVideoSwin() }) {
        SwinOptions options = base;
        options.dropout = 0.1;
        options.attnDropout = 0.1;
        options.dropPath = 0.2; // masks must be replayed in the reconstruction
        Swin model = makeSwin(options);
        model->to(torch::kFloat64);
        model->train();
        model->setCoefficients(0.5, 0.7);
        const torch::Tensor input = inputFor(options, 2).to(torch::kFloat64);
        const torch::Tensor labels = torch::tensor({ 3, 7 }, torch::kLong);
        const Grads stored = stepGrads(model, ExecMode::Stored, input, labels);
        const Grads reversible = stepGrads(model, ExecMode::Reversible, input, labels);
        EXPECT_LE((stored.logits - reversible.logits).abs().max().item<double>(), 1e-10);
        for (int64_t s = 0; s < options.stages(); ++s) {
            const std::string prefix = "stages." + std::to_string(s) + ".";
            const double error = test::relativeL2(gradsUnder(model, reversible.params, prefix),
                gradsUnder(model, stored.params, prefix));
            EXPECT_LE(error, 1e-8) << model->describe().summary << ", stage " << s + 1;
        }
        EXPECT_LE(test::relativeL2(reversible.params, stored.params), 1e-8);
        EXPECT_LE(test::relativeL2(reversible.input, stored.input), 1e-8);
    }
}

TEST(Swin, OverlappedRecomputeEqualsSequentialBitForBit)
{
    // The helper recomputes window attention and the MLP on [B, T, H, W, C] (F::linear's matmul path) with deferred
    // weight gradients: every gradient equals the sequential backward's, in float32, with dropout and drop path.
    for (const SwinOptions& base : { smallSwin({ 2, 4, 2 }), smallVideoSwin() }) {
        SwinOptions options = base;
        options.dropout = 0.1;
        options.dropPath = 0.2;
        Swin model = makeSwin(options);
        model->train();
        model->setCoefficients(0.5, 0.7);
        const torch::Tensor input = inputFor(options, 2);
        const torch::Tensor labels = torch::tensor({ 3, 7 }, torch::kLong);
        model->setRecomputeOverlap(RecomputeOverlap::Off);
        const Grads sequential = stepGrads(model, ExecMode::Reversible, input, labels);
        model->setRecomputeOverlap(RecomputeOverlap::On);
        const Grads overlapped = stepGrads(model, ExecMode::Reversible, input, labels);
        ASSERT_EQ(overlapped.params.size(), sequential.params.size());
        for (size_t p = 0; p < sequential.params.size(); ++p)
            EXPECT_TRUE(overlapped.params[p].equal(sequential.params[p])) << model->describe().summary << ", parameter " << p;
        EXPECT_TRUE(overlapped.input.equal(sequential.input)) << model->describe().summary;
    }
}

TEST(Swin, SegmentsAreCutPerStage)
{
    Swin model = makeSwin(smallSwin({ 2, 4, 1 }));
    model->setSegmentEvery(3);
    const auto stacks = model->stacks();
    EXPECT_EQ(stacks[0]->segmentLengths(), (std::vector<int64_t> { 3, 1 }));
    EXPECT_EQ(stacks[1]->segmentLengths(), (std::vector<int64_t> { 3, 3, 2 }));
    EXPECT_EQ(stacks[2]->segmentLengths(), (std::vector<int64_t> { 2 }));
}

/// Peak tensor bytes of one training step above what is held before it.
int64_t stepPeak(const std::vector<int64_t>& depths, ExecMode mode)
{
    SwinOptions options = smallSwin(depths);
    options.imageHeight = options.imageWidth = 128; // 32×32 tokens in stage 1: activations dominate
    Swin model = makeSwin(options);
    model->train();
    model->setMode(mode);
    model->setCoefficients(0.3, 0.7);
    const torch::Tensor input = inputFor(options, 2);
    const torch::Tensor labels = torch::tensor({ 1, 2 }, torch::kLong);
    auto loss = [&] { return torch::nn::functional::cross_entropy(model->forward(input), labels); };
    return profileTrainingStep(*model, loss, c10::Device(c10::kCPU), /*warmup=*/1, /*repeats=*/1).peakAboveHeldBytes;
}

TEST(Swin, ReversibleMemoryIsFlatInStageDepth)
{
    const int64_t reversible2 = stepPeak({ 2, 2, 2 }, ExecMode::Reversible);
    const int64_t reversible8 = stepPeak({ 8, 8, 8 }, ExecMode::Reversible);
    const int64_t plain2 = stepPeak({ 2, 2, 2 }, ExecMode::Plain);
    const int64_t plain8 = stepPeak({ 8, 8, 8 }, ExecMode::Plain);
    RecordProperty("reversible2", std::to_string(reversible2));
    RecordProperty("reversible8", std::to_string(reversible8));
    RecordProperty("plain2", std::to_string(plain2));
    RecordProperty("plain8", std::to_string(plain8));
    EXPECT_LT(static_cast<double>(reversible8), 1.10 * static_cast<double>(reversible2))
        << "reversible: depth 2 " << reversible2 << " B, depth 8 " << reversible8 << " B";
    EXPECT_GT(static_cast<double>(plain8), 2.5 * static_cast<double>(plain2))
        << "plain: depth 2 " << plain2 << " B, depth 8 " << plain8 << " B";
    EXPECT_LT(reversible8, plain8 / 4);
}

TEST(Swin, ScaledDepthsKeepTheProportions)
{
    EXPECT_EQ(scaleDepths({ 2, 2, 6, 2 }, 24), (std::vector<int64_t> { 4, 4, 12, 4 }));
    EXPECT_EQ(scaleDepths({ 2, 2, 6, 2 }, 12), (std::vector<int64_t> { 2, 2, 6, 2 }));
    EXPECT_EQ(scaleDepths({ 2, 2, 6, 2 }, 4), (std::vector<int64_t> { 1, 1, 1, 1 }));
    const auto six = scaleDepths({ 2, 2, 6, 2 }, 6);
    EXPECT_EQ(std::accumulate(six.begin(), six.end(), int64_t { 0 }), 6);
    EXPECT_THROW(scaleDepths({ 2, 2, 6, 2 }, 3), std::invalid_argument);
}

TEST(Swin, RelativePositionTableResizeKeepsAConstantTableAndTheIdentity)
{
    const torch::Tensor table = torch::randn({ 49, 3 });
    EXPECT_TRUE(resizeRelativePositionTable(table, { 1, 4, 4 }, { 1, 4, 4 }).equal(table));
    const torch::Tensor constant = torch::full({ 49, 3 }, 0.25);
    const torch::Tensor resized = resizeRelativePositionTable(constant, { 1, 4, 4 }, { 1, 6, 6 });
    ASSERT_EQ(resized.sizes(), (std::vector<int64_t> { 121, 3 }));
    EXPECT_LE((resized - 0.25).abs().max().item<double>(), 1e-6);
    EXPECT_THROW(resizeRelativePositionTable(torch::zeros({ 48, 3 }), { 1, 4, 4 }, { 1, 6, 6 }), std::invalid_argument);
}

TEST(Swin, CheckpointedGradientsEqualPlainPerStage)
{
    // Segments of 3 branches cut every stage (4 branches: 3, 1); dropout, attention dropout and drop path on, so the
    // recompute must replay the forward's masks stage by stage.
    for (auto dtype : { torch::kFloat32, torch::kFloat64 }) {
        const double tolerance = dtype == torch::kFloat32 ? 1e-6 : 1e-12;
        for (const SwinOptions& base : { smallSwin(), smallVideoSwin() }) {
            SwinOptions options = base;
            options.dropout = 0.1;
            options.attnDropout = 0.1;
            options.dropPath = 0.2;
            Swin model = makeSwin(options);
            model->to(dtype);
            model->train();
            model->setSegmentEvery(3);
            const torch::Tensor input = inputFor(options, 2).to(dtype);
            const torch::Tensor labels = torch::tensor({ 3, 7 }, torch::kLong);
            const Grads plain = stepGrads(model, ExecMode::Plain, input, labels);
            const Grads checkpointed = stepGrads(model, ExecMode::Checkpointed, input, labels);
            const std::string where = model->describe().summary + (dtype == torch::kFloat32 ? ", float32" : ", float64");
            EXPECT_TRUE(checkpointed.logits.equal(plain.logits)) << where;
            for (int64_t s = 0; s < options.stages(); ++s) {
                const std::string prefix = "stages." + std::to_string(s) + ".";
                EXPECT_LE(test::relativeL2(gradsUnder(model, checkpointed.params, prefix),
                              gradsUnder(model, plain.params, prefix)),
                    tolerance)
                    << where << ", stage " << s + 1;
            }
            EXPECT_LE(test::relativeL2(checkpointed.params, plain.params), tolerance) << where;
            EXPECT_LE(test::relativeL2(checkpointed.input, plain.input), tolerance) << where;
        }
    }
}

} // namespace
} // namespace dr2
