#include "core/autocast.h"
#include "core/weight_gradients.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace dr2 {
namespace {

/// Keeps the jobs it is handed, for the test to run.
class KeepingSink : public WeightGradientSink {
public:
    void defer(WeightGradientJob job) override { jobs.push_back(std::move(job)); }
    std::vector<WeightGradientJob> jobs;
};

struct Gradients {
    torch::Tensor input;
    torch::Tensor weight;
    torch::Tensor bias;
};

/// One linear layer's forward and backward on a fixed input and output gradient; the input's and parameters'
/// .grad afterwards (clones; undefined where none arrived).
Gradients backwardThrough(torch::nn::Linear& layer, const torch::Tensor& input, const torch::Tensor& gradOutput,
    const std::function<torch::Tensor(const torch::Tensor&)>& forward)
{
    layer->zero_grad(/*set_to_none=*/true);
    torch::Tensor x = input.detach().clone().requires_grad_(true);
    forward(x).backward(gradOutput);
    auto clone = [](const torch::Tensor& t) { return t.defined() ? t.clone() : t; };
    return { clone(x.grad()), clone(layer->weight.grad()), clone(layer->bias.grad()) };
}

struct Fixture {
    Fixture()
    {
        torch::manual_seed(3);
        layer = torch::nn::Linear(16, 24);
        input = torch::randn({ 3, 5, 16 });
        gradOutput = torch::randn({ 3, 5, 24 });
        reference = backwardThrough(layer, input, gradOutput, [&](const torch::Tensor& x) { return layer(x); });
    }
    /// The same step through linearLayer() (deferred or not, depending on the scope in effect).
    Gradients throughLinearLayer()
    {
        return backwardThrough(layer, input, gradOutput, [this](const torch::Tensor& x) { return linearLayer(layer, x); });
    }
    torch::nn::Linear layer { nullptr };
    torch::Tensor input;
    torch::Tensor gradOutput;
    Gradients reference; ///< autograd's own linear layer
};

TEST(WeightGradients, ADeferredLayerReturnsTheInputGradientAndHandsOverTheWeightGradient)
{
    Fixture f;
    auto sink = std::make_shared<KeepingSink>();
    Gradients deferred;
    {
        DeferWeightGradients scope(sink);
        deferred = f.throughLinearLayer();
    }
    ASSERT_EQ(sink->jobs.size(), 1u);
    EXPECT_TRUE(deferred.input.equal(f.reference.input)) << "the input gradient is autograd's, bit for bit";
    EXPECT_FALSE(f.layer->weight.grad().defined()) << "the weight gradient waits for the job";
    EXPECT_FALSE(f.layer->bias.grad().defined());

    const WeightGradientJob& job = sink->jobs.front();
    job.accumulate(job.compute());
    EXPECT_TRUE(f.layer->weight.grad().equal(f.reference.weight)) << "the weight gradient is autograd's, bit for bit";
    EXPECT_TRUE(f.layer->bias.grad().equal(f.reference.bias));
    // A second accumulation adds, as AccumulateGrad does for a second backward.
    job.accumulate(job.compute());
    EXPECT_TRUE(f.layer->weight.grad().allclose(2 * f.reference.weight, 1e-6, 1e-7));
    EXPECT_TRUE(f.layer->bias.grad().allclose(2 * f.reference.bias, 1e-6, 1e-7));
    // The gradients are the parameters' own tensors, not views: an optimizer can clear them in place.
    torch::optim::SGD optimizer(f.layer->parameters(), torch::optim::SGDOptions(0.1));
    EXPECT_NO_THROW(optimizer.zero_grad());
}

TEST(WeightGradients, OutsideAScopeWithoutGradOrForAFrozenWeightNothingIsDeferred)
{
    Fixture f;
    const Gradients ordinary = f.throughLinearLayer();
    EXPECT_TRUE(ordinary.weight.equal(f.reference.weight));

    auto sink = std::make_shared<KeepingSink>();
    DeferWeightGradients scope(sink);
    {
        torch::NoGradGuard noGrad;
        EXPECT_TRUE(linearLayer(f.layer, f.input).equal(f.layer(f.input)));
    }
    f.layer->weight.requires_grad_(false);
    f.layer->bias.requires_grad_(false);
    const Gradients frozen = f.throughLinearLayer();
    EXPECT_TRUE(frozen.input.equal(f.reference.input));
    f.layer->weight.requires_grad_(true);
    f.layer->bias.requires_grad_(true);
    {
        // Under autocast the layer's casts would have to be replayed in the backward: the ordinary path.
        AutocastState state;
        state.cpuEnabled = true;
        AutocastScope autocast(state);
        const Gradients cast = backwardThrough(f.layer, f.input, f.gradOutput.to(torch::kBFloat16),
            [&](const torch::Tensor& x) { return linearLayer(f.layer, x); });
        EXPECT_TRUE(cast.weight.defined());
    }
    EXPECT_TRUE(sink->jobs.empty());
}

TEST(WeightGradients, AGraphThatOutlivesItsSinkComputesItsWeightGradientsInPlace)
{
    Fixture f;
    torch::Tensor x = f.input.detach().clone().requires_grad_(true);
    torch::Tensor out;
    {
        auto sink = std::make_shared<KeepingSink>();
        DeferWeightGradients scope(sink);
        out = linearLayer(f.layer, x);
    } // sink gone
    f.layer->zero_grad(/*set_to_none=*/true);
    out.backward(f.gradOutput);
    ASSERT_TRUE(f.layer->weight.grad().defined());
    EXPECT_TRUE(f.layer->weight.grad().equal(f.reference.weight));
    EXPECT_TRUE(x.grad().equal(f.reference.input));
}

TEST(WeightGradients, ScopesNestAndEndWithTheirThread)
{
    Fixture f;
    auto outer = std::make_shared<KeepingSink>();
    auto inner = std::make_shared<KeepingSink>();
    {
        DeferWeightGradients a(outer);
        {
            DeferWeightGradients b(inner);
            f.throughLinearLayer();
        }
        f.throughLinearLayer();
        // Another thread has no scope: its layers are ordinary.
        std::thread other([&] {
            const Gradients g = f.throughLinearLayer();
            EXPECT_TRUE(g.weight.defined());
        });
        other.join();
    }
    EXPECT_EQ(inner->jobs.size(), 1u);
    EXPECT_EQ(outer->jobs.size(), 1u);
}

} // namespace
} // namespace dr2
