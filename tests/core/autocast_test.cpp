// Autocast scopes, and the Dr2Stack under CPU bfloat16 autocast: float32 streams, recompute in the forward's
// autocast state, reversible gradients against stored-under-autocast.
#include "core/autocast.h"
#include "core/dr2_stack.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

namespace dr2 {
namespace {

using test::makeBatch;
using test::makeViT;
using test::relativeL2;
using test::StepGrads;

const c10::Device kCpu(c10::kCPU);

/// One cross-entropy step in `mode`, the forward under `precision`; the backward inside the autocast scope or,
/// like a trainer that leaves the scope before loss.backward(), after it.
StepGrads stepUnder(ViT& model, ExecMode mode, Precision precision, const torch::Tensor& images,
    const torch::Tensor& labels, bool backwardInside = true)
{
    model->stack().setMode(mode);
    model->zero_grad(/*set_to_none=*/true);
    torch::manual_seed(7);
    torch::Tensor input = images.detach().clone().requires_grad_(true);
    torch::Tensor loss;
    torch::Tensor logits;
    {
        AutocastScope autocast(kCpu, precision);
        logits = model->forward(input);
        loss = torch::nn::functional::cross_entropy(logits, labels);
        if (backwardInside)
            loss.backward();
    }
    if (!backwardInside)
        loss.backward();
    return { test::gradients(*model), input.grad().detach().clone(), logits.detach() };
}

TEST(Autocast, PrecisionNamesRoundTripAndFloat16NeedsCuda)
{
    for (Precision p : { Precision::Float32, Precision::BFloat16, Precision::Float16 })
        EXPECT_EQ(parsePrecision(toString(p)), p);
    EXPECT_THROW(parsePrecision("half"), std::invalid_argument);
    try {
        checkPrecision(Precision::Float16, kCpu, "train.precision");
        FAIL() << "fp16 on the CPU was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("train.precision"), std::string::npos) << e.what();
    }
    EXPECT_THROW(AutocastScope(kCpu, Precision::Float16), std::invalid_argument);
    EXPECT_NO_THROW(checkPrecision(Precision::BFloat16, kCpu));
}

TEST(Autocast, ScopesNestAndRestoreThePreviousState)
{
    const AutocastState before = AutocastState::current();
    ASSERT_FALSE(before.cpuEnabled);
    {
        AutocastScope outer(kCpu, Precision::BFloat16);
        const AutocastState inOuter = AutocastState::current();
        EXPECT_TRUE(inOuter.cpuEnabled);
        EXPECT_EQ(inOuter.cpuType, c10::kBFloat16);
        EXPECT_EQ(inOuter.cudaEnabled, before.cudaEnabled);
        {
            AutocastScope inner(kCpu, Precision::Float32);
            EXPECT_FALSE(AutocastState::current().cpuEnabled);
            {
                // Re-entering a captured state gives exactly that state back.
                AutocastScope again(inOuter);
                EXPECT_EQ(AutocastState::current(), inOuter);
            }
            EXPECT_FALSE(AutocastState::current().cpuEnabled);
        }
        EXPECT_EQ(AutocastState::current(), inOuter);
        // A matmul inside computes in bfloat16: the scope really switched autocast on.
        EXPECT_EQ(torch::mm(torch::ones({ 2, 2 }), torch::ones({ 2, 2 })).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(AutocastState::current(), before);
    EXPECT_EQ(torch::mm(torch::ones({ 2, 2 }), torch::ones({ 2, 2 })).scalar_type(), torch::kFloat32);
}

TEST(Autocast, Bfloat16ChangesTheForwardBeyondFloat32Noise)
{
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64);
    auto [images, labels] = makeBatch(model, 2);
    const auto fp32 = stepUnder(model, ExecMode::Stored, Precision::Float32, images, labels);
    const auto bf16 = stepUnder(model, ExecMode::Stored, Precision::BFloat16, images, labels);
    const double forward = relativeL2(bf16.logits, fp32.logits);
    const double grads = relativeL2(bf16.params, fp32.params);
    std::cout << "[ measured ] bf16 vs fp32, stored: logits relL2 " << forward << ", gradients relL2 " << grads
              << "\n";
    // float32 noise on this network is ~1e-7; bfloat16 keeps 8 mantissa bits (~4e-3 per rounding).
    EXPECT_GT(forward, 1e-4);
    EXPECT_GT(grads, 1e-4);
}

TEST(Autocast, StreamsStayFloat32)
{
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32);
    auto& stack = model->stack();
    stack.setCoefficients(0.0, 1.0);
    const torch::Tensor tokens = torch::randn({ 2, 5, model->options().embedDim });
    AutocastScope autocast(kCpu, Precision::BFloat16);
    for (ExecMode mode : { ExecMode::Plain, ExecMode::Stored, ExecMode::Reversible, ExecMode::Checkpointed }) {
        stack.setMode(mode);
        // A branch ends in a bfloat16 linear layer; its output is cast back before it joins the stream.
        EXPECT_EQ(stack.runBranch(0, tokens).scalar_type(), torch::kFloat32) << toString(mode);
        for (auto dtype : { torch::kFloat32, torch::kBFloat16 }) {
            torch::Tensor input = tokens.to(dtype).detach().requires_grad_(true);
            torch::Tensor out = stack.forward(input);
            EXPECT_EQ(out.scalar_type(), torch::kFloat32) << toString(mode) << " from " << dtype;
            out.sum().backward();
            EXPECT_EQ(input.grad().scalar_type(), dtype) << toString(mode);
        }
    }
}

struct ModeError {
    double params = 0.0;
    double input = 0.0;
};

/// Reversible (or checkpointed) against its exact reference, both under the same precision.
ModeError errorAgainst(ViT& model, ExecMode mode, ExecMode reference, Precision precision,
    const torch::Tensor& images, const torch::Tensor& labels)
{
    const auto ref = stepUnder(model, reference, precision, images, labels);
    const auto test = stepUnder(model, mode, precision, images, labels);
    return { relativeL2(test.params, ref.params), relativeL2(test.input, ref.input) };
}

TEST(Autocast, ReversibleGradientsMatchStoredUnderTheSameAutocast)
{
    // 4 layers = 8 branches in one segment, ViT-Ti width, 64² images, batch 2.
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64);
    auto [images, labels] = makeBatch(model, 2);
    for (auto [alpha, beta] : { std::pair<double, double> { 0.0, 1.0 }, { 0.3, 0.7 } }) {
        model->stack().setCoefficients(alpha, beta);
        const ModeError fp32
            = errorAgainst(model, ExecMode::Reversible, ExecMode::Stored, Precision::Float32, images, labels);
        const ModeError bf16
            = errorAgainst(model, ExecMode::Reversible, ExecMode::Stored, Precision::BFloat16, images, labels);
        std::cout << "[ measured ] reversible vs stored at (" << alpha << ", " << beta << "): fp32 params "
                  << fp32.params << " input " << fp32.input << "; bf16 params " << bf16.params << " input "
                  << bf16.input << "\n";
        EXPECT_LE(fp32.params, 1e-5);
        EXPECT_LE(fp32.input, 1e-5);
        EXPECT_LE(bf16.params, 1e-2);
        EXPECT_LE(bf16.input, 1e-2);
    }
}

TEST(Autocast, CheckpointedGradientsEqualPlainUnderAutocast)
{
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64);
    model->stack().setSegmentEvery(3);
    auto [images, labels] = makeBatch(model, 2);
    const ModeError bf16
        = errorAgainst(model, ExecMode::Checkpointed, ExecMode::Plain, Precision::BFloat16, images, labels);
    std::cout << "[ measured ] checkpointed vs plain, bf16: params " << bf16.params << " input " << bf16.input
              << "\n";
    // Nothing is reconstructed: the recompute repeats the forward's bfloat16 operations bit for bit.
    EXPECT_LE(bf16.params, 1e-6);
    EXPECT_LE(bf16.input, 1e-6);
}

TEST(Autocast, RecomputeSeesTheForwardsStateWhenBackwardRunsOutsideTheScope)
{
    ViT model = makeViT(/*depth=*/4, /*imageSize=*/64);
    model->stack().setCoefficients(0.0, 1.0);
    model->stack().setSegmentEvery(3);
    auto [images, labels] = makeBatch(model, 2);
    for (ExecMode mode : { ExecMode::Reversible, ExecMode::Checkpointed }) {
        const auto inside = stepUnder(model, mode, Precision::BFloat16, images, labels, /*backwardInside=*/true);
        const auto outside = stepUnder(model, mode, Precision::BFloat16, images, labels, /*backwardInside=*/false);
        const double params = relativeL2(outside.params, inside.params);
        const double input = relativeL2(outside.input, inside.input);
        std::cout << "[ measured ] " << toString(mode) << " bf16, backward outside vs inside the scope: params "
                  << params << " input " << input << "\n";
        // Same operations in the same precision: the same bits (a float32 recompute would differ by ~1e-2).
        EXPECT_LE(params, 1e-7) << toString(mode);
        EXPECT_LE(input, 1e-7) << toString(mode);
        EXPECT_FALSE(AutocastState::current().cpuEnabled);
    }
}

} // namespace
} // namespace dr2

namespace dr2 {
namespace {

TEST(Autocast, ForwardsWithoutAGraphLeaveTheCastCacheClean)
{
    // LibTorch caches autocast's casts of weights until the outermost scope ends, also casts made with grad mode
    // off (pytorch#112583), which carry no graph. The reversible and checkpointed forwards run that way inside the
    // caller's scope: a later forward with grad mode on in the same scope must still reach every weight.
    ViT model = makeViT(/*depth=*/2, /*imageSize=*/32);
    model->stack().setCoefficients(0.0, 1.0);
    auto [images, labels] = makeBatch(model, 2);
    for (ExecMode mode : { ExecMode::Reversible, ExecMode::Checkpointed }) {
        model->zero_grad(/*set_to_none=*/true);
        AutocastScope autocast(kCpu, Precision::BFloat16);
        model->stack().setMode(mode);
        model->forward(images);
        model->stack().setMode(ExecMode::Stored);
        torch::nn::functional::cross_entropy(model->forward(images), labels).backward();
        for (const auto& item : model->named_parameters()) {
            const torch::Tensor& grad = item.value().grad();
            ASSERT_TRUE(grad.defined()) << toString(mode) << ": no gradient for " << item.key();
            EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << toString(mode) << ": zero gradient for " << item.key();
        }
    }
}

} // namespace
} // namespace dr2
