// GradScaler: scale, unscale once, skip the step on Inf/NaN, back off and grow.
#include "training/grad_scaler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace dr2 {
namespace {

struct OneParameter {
    torch::Tensor w = torch::ones({ 3 }, torch::requires_grad());
    torch::optim::SGD sgd { std::vector<torch::Tensor> { w }, torch::optim::SGDOptions(/*lr=*/0.5) };

    /// Backward of scaler.scale(sum(w · k)): the gradient of the unscaled loss is k.
    void backward(const GradScaler& scaler, double k)
    {
        sgd.zero_grad();
        scaler.scale((w * k).sum()).backward();
    }
};

TEST(GradScaler, ScalesTheLossAndUnscalesTheGradientsOnce)
{
    GradScalerOptions options;
    options.initScale = 1024.0;
    GradScaler scaler(options);
    OneParameter p;
    p.backward(scaler, /*k=*/2.0);
    EXPECT_DOUBLE_EQ(p.w.grad()[0].item<double>(), 2048.0);
    EXPECT_TRUE(scaler.unscale(p.sgd));
    EXPECT_TRUE(scaler.unscale(p.sgd)); // a second call before update() must not divide again
    EXPECT_DOUBLE_EQ(p.w.grad()[0].item<double>(), 2.0);
    EXPECT_TRUE(scaler.step(p.sgd));
    EXPECT_DOUBLE_EQ(p.w[0].item<double>(), 1.0 - 0.5 * 2.0);
    scaler.update();
    EXPECT_DOUBLE_EQ(scaler.scaleValue(), 1024.0);
}

TEST(GradScaler, SkipsTheStepOnInfOrNanAndBacksOff)
{
    GradScalerOptions options;
    options.initScale = 1024.0;
    GradScaler scaler(options);
    OneParameter p;
    for (double bad : { std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN() }) {
        const double before = scaler.scaleValue();
        p.backward(scaler, bad);
        EXPECT_FALSE(scaler.step(p.sgd));
        scaler.update();
        EXPECT_DOUBLE_EQ(p.w[0].item<double>(), 1.0) << "the weights moved on a skipped step";
        EXPECT_DOUBLE_EQ(scaler.scaleValue(), before * 0.5);
    }
    EXPECT_EQ(scaler.skippedSteps(), 2);
    // A finite step afterwards goes through.
    p.backward(scaler, 1.0);
    EXPECT_TRUE(scaler.step(p.sgd));
    scaler.update();
}

TEST(GradScaler, GrowsAfterAnIntervalOfFiniteSteps)
{
    GradScalerOptions options;
    options.initScale = 8.0;
    options.growthInterval = 3;
    GradScaler scaler(options);
    OneParameter p;
    for (int i = 0; i < 3; ++i) {
        EXPECT_DOUBLE_EQ(scaler.scaleValue(), 8.0);
        p.backward(scaler, 1.0);
        EXPECT_TRUE(scaler.step(p.sgd));
        scaler.update();
    }
    EXPECT_DOUBLE_EQ(scaler.scaleValue(), 16.0);

    // A resumed run continues the same schedule.
    GradScaler resumed(options);
    resumed.restore(scaler.state());
    EXPECT_DOUBLE_EQ(resumed.scaleValue(), 16.0);
    EXPECT_EQ(resumed.state().goodSteps, 0);
    EXPECT_THROW(resumed.restore({ /*scale=*/-1.0, 0, 0 }), std::invalid_argument);
}

TEST(GradScaler, DisabledIsAPlainStep)
{
    GradScalerOptions options;
    options.enabled = false;
    GradScaler scaler(options);
    OneParameter p;
    p.backward(scaler, 3.0);
    EXPECT_DOUBLE_EQ(p.w.grad()[0].item<double>(), 3.0);
    EXPECT_TRUE(scaler.step(p.sgd));
    scaler.update();
    EXPECT_DOUBLE_EQ(scaler.scaleValue(), 1.0);
    EXPECT_THROW(GradScaler(GradScalerOptions { true, 0.0 }), std::invalid_argument);
}

} // namespace
} // namespace dr2
