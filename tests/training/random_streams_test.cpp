// A run's random numbers and memory figures belong to the run: a gradient-error sweep on another thread (the
// GUI's heatmap button while a run trains) changes neither its losses nor its step peaks.
#include "core/backbone_registry.h"
#include "core/grad_probe.h"
#include "training/probe_target.h"
#include "training/task_registry.h"
#include "training/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

namespace dr2 {
namespace {

/// Reversible Dr²Net with drop path and dropout, so every step draws masks the backward must replay.
TrainConfig stochasticConfig()
{
    TrainConfig c;
    c.name = "random-streams";
    c.strategy = Strategy::Dr2Net;
    c.seed = 5;
    c.threads = 1;
    c.model.embedDim = 32;
    c.model.depth = 2;
    c.model.heads = 2;
    c.model.imageSize = 28;
    c.model.patchSize = 7;
    c.model.inChannels = 1;
    c.model.dropPath = 0.1;
    c.model.dropout = 0.1;
    c.data.classes = { 0, 1, 2 };
    c.data.trainLimit = 256;
    c.data.valLimit = 64;
    c.data.randomCrop = false;
    c.data.flip = false;
    c.data.workers = 0;
    c.optim.epochs = 1;
    c.optim.batchSize = 32;
    c.optim.warmupIterations = 2;
    c.schedule.tauIterations = 4;
    c.schedule.eta = 1;
    return c;
}

struct Trace : TrainObserver {
    std::vector<double> losses;
    std::vector<int64_t> stepPeaks;
    std::function<void()> afterEach;
    void onIteration(const IterationEvent& e) override
    {
        losses.push_back(e.loss);
        stepPeaks.push_back(e.peakBytes - e.heldBytes);
        if (afterEach)
            afterEach();
    }
};

Trace train(const std::function<void()>& afterEach = {})
{
    Trainer trainer(stochasticConfig());
    Trace trace;
    trace.afterEach = afterEach;
    trainer.addObserver(&trace);
    EXPECT_EQ(toString(trainer.run().outcome), "finished");
    return trace;
}

TEST(RandomStreams, ConcurrentSweepChangesNeitherLossesNorStepPeaks)
{
    const Trace alone = train();
    ASSERT_EQ(alone.losses.size(), 8u);

    // Another thread sweeps the gradient error of its own network (drawing masks, reseeding the process-wide
    // generator as older code did, allocating and freeing tensors) while the run trains. The sweeper builds
    // its network the way the product does (under SeededDefaultGenerator, like heatmap_sweep.cpp), and starts
    // its unguarded reseeding only once the run is training: module constructors draw their initial weights
    // from the default generator, which SeededDefaultGenerator guards only against other guarded sections
    // (see random_stream.h), so an unguarded reseed during the run's construction would change its weights:
    // a race this test does not claim to survive. What it checks is that nothing in a training step draws
    // from the process-wide generator.
    std::atomic<bool> stop { false };
    std::atomic<bool> runTraining { false };
    std::atomic<int> sweeps { 0 };
    std::thread sweeper([&] {
        BackboneSpec spec;
        spec.preset = "vit-ti";
        spec.embedDim = 32;
        spec.depth = 2;
        spec.heads = 2;
        spec.input = { 1, 28, 28, 0 };
        spec.patchSize = 7;
        spec.dropPath = 0.2;
        spec.dropout = 0.2;
        BackbonePtr backbone;
        std::shared_ptr<Task> task = createTask(taskOptions("classification", 3));
        {
            SeededDefaultGenerator seeded(9);
            backbone = createBackbone(spec);
            task->buildHead(*backbone, {}, false);
        }
        Network network(backbone, task);
        network->train();
        RandomStream batchStream(1);
        const torch::Tensor input = torch::randn({ 4, 1, 28, 28 }, batchStream.generator());
        TaskTarget target { torch::randint(0, 3, { 4 }, batchStream.generator(), torch::kLong), {} };
        const GradProbeTarget probe = makeProbeTarget(*network, input, target);
        while (!runTraining && !stop)
            std::this_thread::yield();
        while (!stop) {
            torch::manual_seed(static_cast<uint64_t>(sweeps.load()));
            (void)torch::rand({ 1000 });
            sweepGradientError(probe, { { 0.5, 1.0 }, { 0.5 } });
            ++sweeps;
        }
    });
    // Let at least one sweep finish between two iterations, so they really overlap (iterations 1 to 7).
    const Trace together = train([&] {
        runTraining = true;
        const int seen = sweeps.load();
        while (sweeps.load() == seen)
            std::this_thread::yield();
    });
    stop = true;
    sweeper.join();

    ASSERT_EQ(together.losses.size(), alone.losses.size());
    for (size_t i = 0; i < alone.losses.size(); ++i) {
        EXPECT_EQ(together.losses[i], alone.losses[i]) << "iteration " << i << ": the sweep changed the run's masks";
        EXPECT_EQ(together.stepPeaks[i], alone.stepPeaks[i]) << "iteration " << i
                                                             << ": the sweep's tensors counted in the run's step peak";
    }
    EXPECT_GE(sweeps.load(), 8);
}

} // namespace
} // namespace dr2
