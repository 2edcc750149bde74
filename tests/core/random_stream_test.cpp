// Independent random streams and per-scope memory peaks: a run's dropout masks and its step peak must
// not depend on what another thread does meanwhile (a GUI sweep next to a training run).
#include "core/backbones/vit/vit.h"
#include "core/device.h"
#include "core/grad_probe.h"
#include "core/memory_meter.h"
#include "core/random_stream.h"
#include "core/rng_state.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>
#include <tuple>
#include <vector>

namespace dr2 {
namespace {

ViTOptions smallOptions()
{
    ViTOptions o;
    o.embedDim = 32;
    o.depth = 2;
    o.heads = 2;
    o.imageSize = 16;
    o.patchSize = 4;
    o.inChannels = 1;
    o.numClasses = 3;
    o.dropout = 0.1;
    o.attnDropout = 0.1;
    o.dropPath = 0.1;
    o.stack.mode = ExecMode::Reversible;
    o.stack.alpha = 0.5;
    o.stack.beta = 0.5;
    return o;
}

ViT makeSmallViT(uint64_t seed)
{
    SeededDefaultGenerator seeded(seed); // construction draws from the default generator
    ViT model(smallOptions());
    model->train();
    return model;
}

/// A fixed batch drawn from its own stream, so it does not depend on the default generator either.
std::pair<torch::Tensor, torch::Tensor> smallBatch(uint64_t seed)
{
    RandomStream stream(seed);
    const ViTOptions o = smallOptions();
    return { torch::randn({ 4, o.inChannels, o.imageSize, o.imageSize }, stream.generator()),
        torch::randint(0, o.numClasses, { 4 }, stream.generator(), torch::kLong) };
}

struct TrainResult {
    std::vector<double> losses;
    std::vector<torch::Tensor> params;
};

/// N SGD iterations of `model` (the small reversible ViT) under its own stream.
TrainResult train(ViT model, int iterations, const std::function<void()>& between = {})
{
    auto [images, labels] = smallBatch(/*seed=*/6);
    torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
    RandomStream stream(/*seed=*/42);
    RandomStreamScope scope(stream);
    TrainResult result;
    for (int i = 0; i < iterations; ++i) {
        sgd.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
        loss.backward();
        sgd.step();
        result.losses.push_back(loss.item<double>());
        if (between)
            between();
    }
    for (const auto& p : model->parameters())
        result.params.push_back(p.detach().clone());
    return result;
}

TEST(RandomStream, TrainingIsUnaffectedByAConcurrentSweepAndReseeding)
{
    constexpr int kIterations = 5;
    // Seeding the default generator makes a run that (wrongly) drew from it repeatable on its own, so
    // only the concurrent thread can make the two runs differ.
    // Both models are built before the other thread starts: construction draws from the default generator.
    ViT first = makeSmallViT(/*seed=*/5);
    ViT second = makeSmallViT(/*seed=*/5);
    torch::manual_seed(1);
    const TrainResult alone = train(first, kIterations);

    ViT other = makeSmallViT(/*seed=*/9);
    auto [otherImages, otherLabels] = smallBatch(/*seed=*/10);
    GradProbeTarget target;
    target.model = other.ptr().get();
    target.stacks = { &other->stack() };
    target.loss = [&, &otherImages = otherImages, &otherLabels = otherLabels](c10::ScalarType dtype) {
        return torch::nn::functional::cross_entropy(other->forward(otherImages.to(dtype)), otherLabels);
    };
    std::atomic<bool> stop { false };
    std::atomic<int> sweeps { 0 };
    std::atomic<int> reseeds { 0 };
    std::promise<void> started;
    std::thread sweeper([&] {
        started.set_value();
        for (uint64_t seed = 100; !stop.load(); ++seed) {
            torch::manual_seed(seed);
            (void)torch::rand({ 64 });
            reseeds.fetch_add(1);
            GradProbeOptions options;
            options.seed = seed;
            sweepGradientError(target, Grid { { 0.5, 1.0 }, { 0.5 } }, options, [&](size_t, size_t) {
                torch::manual_seed(seed * 7 + 1);
                reseeds.fetch_add(1);
                return !stop.load();
            });
            sweeps.fetch_add(1);
        }
    });
    started.get_future().wait();
    torch::manual_seed(1);
    // Between iterations, wait for the other thread to reseed at least once, so the overlap does not
    // depend on timing; within an iteration its sweep runs concurrently as well.
    const TrainResult concurrent = train(second, kIterations, [&] {
        const int seen = reseeds.load();
        while (reseeds.load() == seen)
            std::this_thread::yield();
    });
    stop = true;
    sweeper.join();

    ASSERT_EQ(concurrent.losses.size(), alone.losses.size());
    for (int i = 0; i < kIterations; ++i)
        EXPECT_EQ(concurrent.losses[static_cast<size_t>(i)], alone.losses[static_cast<size_t>(i)]) << "iteration " << i;
    ASSERT_EQ(concurrent.params.size(), alone.params.size());
    for (size_t i = 0; i < alone.params.size(); ++i)
        EXPECT_TRUE(torch::equal(concurrent.params[i], alone.params[i])) << "parameter " << i;
    RecordProperty("sweeps", sweeps.load());
}

TEST(RandomStream, ReversibleBackwardOnAnotherThreadReplaysTheForwardMasks)
{
    // The backward runs on a thread with no scope (as CUDA autograd device threads do): the stack must
    // make the forward's generator current there itself.
    ViT model = makeSmallViT(/*seed=*/3);
    torch::Tensor images;
    torch::Tensor labels; // not a structured binding: the lambdas below capture them
    std::tie(images, labels) = smallBatch(/*seed=*/4);
    auto grads = [&](ExecMode mode, bool backwardElsewhere) {
        model->stack().setMode(mode);
        model->zero_grad(/*set_to_none=*/true);
        RandomStream stream(/*seed=*/11);
        torch::Tensor loss;
        {
            RandomStreamScope scope(stream);
            loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
            if (!backwardElsewhere)
                loss.backward();
        }
        if (backwardElsewhere) {
            RandomStream unrelated(/*seed=*/12);
            std::thread([&] {
                RandomStreamScope scope(unrelated); // a different current stream must not matter either
                loss.backward();
            }).join();
        }
        return test::gradients(*model);
    };
    const auto stored = grads(ExecMode::Stored, false);
    const auto reversible = grads(ExecMode::Reversible, true);
    const auto otherMasks = [&] {
        model->stack().setMode(ExecMode::Stored);
        model->zero_grad(/*set_to_none=*/true);
        RandomStream stream(/*seed=*/13);
        RandomStreamScope scope(stream);
        torch::nn::functional::cross_entropy(model->forward(images), labels).backward();
        return test::gradients(*model);
    }();
    EXPECT_LE(test::relativeL2(reversible, stored), 1e-4);
    // Sanity: the masks matter at this size, so matching above is not trivial.
    EXPECT_GT(test::relativeL2(otherMasks, stored), 1e-2);
}

TEST(RandomStream, ScopesNestAndLeaveTheDefaultGeneratorAlone)
{
    const c10::Device cpu(c10::kCPU);
    const at::Generator fallback = currentGenerator(cpu);
    EXPECT_TRUE(fallback == defaultGenerator(cpu));
    const RngState before = RngState::capture(cpu);
    RandomStream outer(1);
    RandomStream inner(2);
    torch::Tensor a;
    torch::Tensor b;
    {
        RandomStreamScope outerScope(outer);
        EXPECT_TRUE(currentGenerator(cpu) == outer.generator());
        {
            RandomStreamScope innerScope(inner);
            EXPECT_TRUE(currentGenerator(cpu) == inner.generator());
            a = torch::rand({ 8 }, currentGenerator(cpu));
        }
        EXPECT_TRUE(currentGenerator(cpu) == outer.generator());
    }
    EXPECT_TRUE(currentGenerator(cpu) == fallback);
    RandomStream again(2);
    b = torch::rand({ 8 }, again.generator(cpu));
    EXPECT_TRUE(torch::equal(a, b)) << "same seed, same draws";
    EXPECT_TRUE(torch::equal(RngState::capture(cpu).tensor(), before.tensor())) << "default generator advanced";
}

TEST(MemoryAccount, PeakOfAScopeIgnoresAllocationsOfOtherThreads)
{
    MemoryMeter& meter = MemoryMeter::forDevice(c10::Device(c10::kCPU));
    constexpr int64_t kBig = int64_t { 64 } << 20;
    // Thread A's workload; `between` runs inside the scope while A holds 3 MiB.
    auto workload = [&](const std::function<void()>& between) {
        PeakScope scope(meter);
        torch::Tensor a = torch::empty({ 1 << 20 }, torch::kUInt8);
        torch::Tensor b = torch::empty({ 2 << 20 }, torch::kUInt8);
        between();
        a = torch::Tensor();
        torch::Tensor c = b.clone(); // an op's output counts like any allocation
        b = torch::Tensor();
        c = torch::Tensor();
        return scope.peakAboveBaseline();
    };
    const int64_t alone = workload([] {});
    EXPECT_EQ(alone, 4 << 20); // b and c

    std::promise<void> allocated;
    std::promise<void> mayFree;
    std::shared_future<void> mayFreeFuture = mayFree.get_future().share();
    std::thread other([&] {
        PeakScope own(meter); // another scope meanwhile (it resets the process-wide peak)
        torch::Tensor big = torch::empty({ kBig }, torch::kUInt8);
        allocated.set_value();
        mayFreeFuture.wait();
        big = torch::Tensor();
        EXPECT_EQ(own.peakAboveBaseline(), kBig);
    });
    const int64_t concurrent = workload([&] {
        allocated.get_future().wait();
        mayFree.set_value();
    });
    other.join();
    EXPECT_EQ(concurrent, alone);
}

TEST(MemoryAccount, NestedScopesCountTowardTheirParentAndFreesElsewhereAreDebited)
{
    MemoryMeter& meter = MemoryMeter::forDevice(c10::Device(c10::kCPU));
    const int64_t before = meter.currentBytes();
    torch::Tensor escaped;
    {
        PeakScope outer(meter);
        torch::Tensor held = torch::empty({ 1000 }, torch::kUInt8);
        {
            PeakScope inner(meter);
            escaped = torch::empty({ 5000 }, torch::kUInt8);
            EXPECT_EQ(inner.peakAboveBaseline(), 5000);
        }
        EXPECT_EQ(outer.peakAboveBaseline(), 6000);
        // Freed on another thread, after the inner scope ended: its account must still be debited.
        std::thread([t = std::move(escaped)]() mutable { t = torch::Tensor(); }).join();
        torch::Tensor later = torch::empty({ 5000 }, torch::kUInt8);
        EXPECT_EQ(outer.peakAboveBaseline(), 6000) << "the freed 5000 bytes were not debited from the outer scope";
    }
    EXPECT_EQ(meter.currentBytes(), before);
}

} // namespace
} // namespace dr2
