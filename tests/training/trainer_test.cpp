// The Trainer on real Fashion-MNIST with a tiny ViT: learning, strategies, pause/cancel, resume, NaN.
#include "training/model_factory.h"
#include "training/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// A ViT small enough to train in seconds: 64-d, 4 layers (8 branches), 28² patch 4.
TrainConfig tinyConfig(Strategy strategy, std::vector<int64_t> classes = { 5, 6, 7, 8, 9 })
{
    TrainConfig c;
    c.name = "test-" + toString(strategy);
    c.strategy = strategy;
    c.seed = 3;
    c.model.embedDim = 64;
    c.model.depth = 4;
    c.model.heads = 4;
    c.model.imageSize = 28;
    c.model.patchSize = 4;
    c.model.inChannels = 1;
    c.model.dropPath = 0.0;
    c.data.classes = std::move(classes);
    c.data.trainLimit = 2000;
    c.data.valLimit = 500;
    c.data.flip = false;
    c.optim.epochs = 2;
    c.optim.batchSize = 64;
    c.optim.lr = 2e-3;
    c.optim.warmupIterations = 10;
    c.schedule.tauIterations = 40;
    c.schedule.eta = 5;
    return c;
}

/// Records events; optionally acts at a given iteration (from the training thread).
class Recorder : public TrainObserver {
public:
    std::function<void(const IterationEvent&)> onEach;
    std::vector<IterationEvent> iterations;
    std::vector<EvaluationEvent> evaluations;
    std::vector<ProbeEvent> probes;
    std::vector<std::string> logs;
    mutable std::mutex mutex;

    void onIteration(const IterationEvent& e) override
    {
        {
            std::lock_guard<std::mutex> lock(mutex);
            iterations.push_back(e);
        }
        if (onEach)
            onEach(e);
    }
    void onEvaluation(const EvaluationEvent& e) override { evaluations.push_back(e); }
    void onProbe(const ProbeEvent& e) override { probes.push_back(e); }
    void onLog(const std::string& level, const std::string& text) override
    {
        std::lock_guard<std::mutex> lock(mutex);
        logs.push_back(level + ": " + text);
    }
    bool logged(const std::string& line) const
    {
        std::lock_guard<std::mutex> lock(mutex);
        return std::find(logs.begin(), logs.end(), line) != logs.end();
    }
    size_t count() const
    {
        std::lock_guard<std::mutex> lock(mutex);
        return iterations.size();
    }
};

fs::path scratchDir(const std::string& name)
{
    auto dir = fs::temp_directory_path() / ("dr2_trainer_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

TEST(Trainer, PretrainedDr2NetLearnsTheNewTaskLikeConventional)
{
    const auto dir = scratchDir("transfer");
    // Pretrain on classes 0–4, conventional, from scratch.
    TrainConfig pretrain = tinyConfig(Strategy::Conventional, { 0, 1, 2, 3, 4 });
    Trainer pretrainer(pretrain);
    const auto pre = pretrainer.run();
    ASSERT_EQ(toString(pre.outcome), "finished");
    const std::string checkpoint = (dir / "pretrained.safetensors").string();
    saveNativeCheckpoint(checkpoint, *pretrainer.model());

    // Finetune on classes 5–9 at a higher resolution (position embedding resized 7×7 → 10×10).
    std::map<Strategy, RunFinishedEvent> results;
    for (Strategy strategy : { Strategy::Conventional, Strategy::Dr2Net }) {
        TrainConfig config = tinyConfig(strategy);
        config.model.checkpoint = checkpoint;
        config.model.imageSize = 40;
        config.probe.every = 20;
        Trainer trainer(config);
        Recorder recorder;
        trainer.addObserver(&recorder);
        results[strategy] = trainer.run();
        ASSERT_EQ(toString(results[strategy].outcome), "finished") << results[strategy].message;
        EXPECT_EQ(recorder.evaluations.size(), 2u);
        bool resized = false;
        for (const auto& log : recorder.logs)
            resized = resized || log.find("position embedding resized") != std::string::npos;
        EXPECT_TRUE(resized);
        if (strategy == Strategy::Dr2Net) {
            EXPECT_EQ(recorder.iterations.front().alpha, 1.0);
            EXPECT_EQ(recorder.iterations.front().beta, 0.1);
            EXPECT_EQ(recorder.iterations.back().alpha, 0.3);
            EXPECT_EQ(recorder.iterations.back().beta, 0.7);
            ASSERT_FALSE(recorder.probes.empty());
            EXPECT_TRUE(recorder.probes.back().report.finite);
        }
    }
    const double conventional = results[Strategy::Conventional].finalMetrics.at("top1");
    const double dr2net = results[Strategy::Dr2Net].finalMetrics.at("top1");
    RecordProperty("conventional_top1", std::to_string(conventional));
    RecordProperty("dr2net_top1", std::to_string(dr2net));
    EXPECT_GT(dr2net, 0.45) << "chance is 0.2";
    EXPECT_GT(dr2net, conventional - 0.08) << "conventional " << conventional << ", dr2net " << dr2net;
    EXPECT_LT(results[Strategy::Dr2Net].peakStepBytes, results[Strategy::Conventional].peakStepBytes);
    fs::remove_all(dir);
}

TEST(Trainer, PauseResumeAndCancelFromAnotherThread)
{
    TrainConfig config = tinyConfig(Strategy::Vanilla);
    config.optim.epochs = 50; // long enough that only cancel ends it
    Trainer trainer(config);
    Recorder recorder;
    trainer.addObserver(&recorder);
    RunFinishedEvent result;
    std::thread worker([&] { result = trainer.run(); });

    auto waitFor = [&](size_t n) {
        for (int i = 0; i < 6000 && recorder.count() < n; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return recorder.count() >= n;
    };
    ASSERT_TRUE(waitFor(3));
    trainer.pause();
    // The pause takes effect at the next iteration boundary, where the Trainer logs it.
    for (int i = 0; i < 6000 && !recorder.logged("info: paused"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(recorder.logged("info: paused"));
    const size_t atPause = recorder.count();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(recorder.count(), atPause) << "iterations ran while paused";
    EXPECT_TRUE(trainer.paused());
    trainer.resume();
    ASSERT_TRUE(waitFor(atPause + 2));
    trainer.cancel();
    worker.join();
    EXPECT_EQ(toString(result.outcome), "cancelled");
    EXPECT_LT(result.iterations, 50 * 31);
    EXPECT_EQ(static_cast<size_t>(result.iterations), recorder.count());
}

TEST(Trainer, ResumeContinuesExactlyLikeAnUninterruptedRun)
{
    const auto dir = scratchDir("resume");
    TrainConfig config = tinyConfig(Strategy::Dr2Net);
    config.model.dropPath = 0.1; // random masks must continue from the saved generator state
    config.optim.epochs = 2;
    config.data.trainLimit = 640; // 10 iterations per epoch

    Trainer whole(config);
    Recorder wholeEvents;
    whole.addObserver(&wholeEvents);
    ASSERT_EQ(toString(whole.run().outcome), "finished");

    // Same run, stopped after 13 iterations (mid-epoch), then resumed from its checkpoint.
    config.checkpoint.dir = (dir / "ckpt").string();
    Trainer first(config);
    Recorder firstEvents;
    firstEvents.onEach = [&](const IterationEvent& e) {
        if (e.iteration == 12)
            first.cancel();
    };
    first.addObserver(&firstEvents);
    ASSERT_EQ(toString(first.run().outcome), "cancelled");
    ASSERT_EQ(firstEvents.iterations.size(), 13u);

    Trainer second(config);
    Recorder secondEvents;
    second.addObserver(&secondEvents);
    second.resumeFrom(config.checkpoint.dir);
    ASSERT_EQ(toString(second.run().outcome), "finished");
    ASSERT_EQ(secondEvents.iterations.size(), wholeEvents.iterations.size() - 13);
    for (size_t i = 0; i < secondEvents.iterations.size(); ++i) {
        const auto& resumed = secondEvents.iterations[i];
        const auto& reference = wholeEvents.iterations[i + 13];
        EXPECT_EQ(resumed.iteration, reference.iteration);
        EXPECT_EQ(resumed.loss, reference.loss) << "iteration " << reference.iteration;
        EXPECT_EQ(resumed.alpha, reference.alpha);
        EXPECT_EQ(resumed.beta, reference.beta);
    }
    fs::remove_all(dir);
}

TEST(Trainer, NonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint)
{
    const auto dir = scratchDir("nan");
    TrainConfig config = tinyConfig(Strategy::Dr2Net);
    config.checkpoint.dir = (dir / "ckpt").string();
    config.checkpoint.every = 2;
    Trainer trainer(config);
    Recorder recorder;
    recorder.onEach = [&](const IterationEvent& e) {
        if (e.iteration == 4) { // poison the weights: the next forward produces NaN
            torch::NoGradGuard noGrad;
            trainer.model()->task().head()->named_parameters()["weight"].fill_(std::numeric_limits<float>::quiet_NaN());
        }
    };
    trainer.addObserver(&recorder);
    const auto result = trainer.run();
    EXPECT_EQ(toString(result.outcome), "failed");
    EXPECT_NE(result.message.find("non-finite loss"), std::string::npos) << result.message;
    EXPECT_NE(result.message.find("iteration 5"), std::string::npos) << result.message;
    EXPECT_NE(result.message.find("α="), std::string::npos) << result.message;
    EXPECT_EQ(result.iterations, 5);
    // The last good checkpoint (after iteration 4) is still there and loads.
    ASSERT_TRUE(fs::exists(fs::path(config.checkpoint.dir) / Trainer::kCheckpointFile));
    EXPECT_NE(result.checkpointPath.find("last.pt"), std::string::npos);
    Trainer resumed(config);
    resumed.resumeFrom(config.checkpoint.dir);
    fs::remove_all(dir);
}

TEST(Trainer, AutomaticEndPointStopsWhereTheErrorIsSmall)
{
    TrainConfig config = tinyConfig(Strategy::Dr2Net);
    config.optim.epochs = 1;
    config.data.trainLimit = 192;
    config.autoEnd.enabled = true;
    config.autoEnd.targetMse = 1e-13;
    config.autoEnd.points = 6;
    config.schedule.end = { 0.0, 1.0 };
    Trainer trainer(config);
    struct : TrainObserver {
        std::vector<AutoEndEvent> events;
        void onAutoEnd(const AutoEndEvent& e) override { events.push_back(e); }
    } observer;
    trainer.addObserver(&observer);
    ASSERT_EQ(toString(trainer.run().outcome), "finished");
    ASSERT_EQ(observer.events.size(), 1u);
    const auto& event = observer.events.front();
    ASSERT_EQ(event.probes.size(), 6u);
    // The chosen point is the first probed point under the target, and every earlier one is above it.
    bool reached = false;
    for (const auto& [point, mse] : event.probes) {
        if (point == event.chosen) {
            EXPECT_LT(mse, config.autoEnd.targetMse);
            reached = true;
            break;
        }
        EXPECT_GE(mse, config.autoEnd.targetMse);
    }
    EXPECT_TRUE(reached || event.chosen == config.schedule.end);
    EXPECT_EQ(trainer.schedule()->options().end, event.chosen);
}

TEST(Trainer, ErrorBoundedSegmentsShortenAtSmallBeta)
{
    TrainConfig config = tinyConfig(Strategy::Vanilla); // fixed (1, 0.1): the hardest point to reverse
    config.optim.epochs = 1;
    config.data.trainLimit = 128;
    config.segments.errorTarget = 1e-12;
    Trainer trainer(config);
    struct : TrainObserver {
        std::vector<SegmentEvent> events;
        void onSegmentChange(const SegmentEvent& e) override { events.push_back(e); }
    } observer;
    trainer.addObserver(&observer);
    ASSERT_EQ(toString(trainer.run().outcome), "finished");
    ASSERT_EQ(observer.events.size(), 1u);
    EXPECT_LT(observer.events.front().segmentLength, 8) << "8 branches in one segment at β = 0.1";
    EXPECT_LE(observer.events.front().measuredMse, 1e-12);
}

TEST(Trainer, FrozenTrainsOnlyTheHead)
{
    TrainConfig config = tinyConfig(Strategy::Frozen);
    config.optim.epochs = 1;
    config.data.trainLimit = 256;
    Trainer trainer(config);
    // The backbone is random (no checkpoint) but must not move.
    ASSERT_EQ(toString(trainer.run().outcome), "finished");
    for (const auto& item : trainer.model()->named_parameters())
        EXPECT_EQ(item.value().requires_grad(), item.key().rfind("head.", 0) == 0) << item.key();
}

// bf16 autocast in the Trainer: a reversible Dr²Net run trains (its loss falls) and follows the float32 run closely,
// but not to the bit (autocast is really on); its steps need less memory.
TEST(Trainer, Bf16AutocastFollowsFloat32)
{
    std::map<Precision, std::vector<IterationEvent>> iterations;
    std::map<Precision, RunFinishedEvent> results;
    for (Precision precision : { Precision::Float32, Precision::BFloat16 }) {
        TrainConfig config = tinyConfig(Strategy::Dr2Net);
        config.optim.epochs = 1;
        config.data.trainLimit = 640; // 10 iterations
        config.optim.precision = precision;
        Trainer trainer(config);
        Recorder recorder;
        trainer.addObserver(&recorder);
        results[precision] = trainer.run();
        ASSERT_EQ(toString(results[precision].outcome), "finished") << results[precision].message;
        iterations[precision] = recorder.iterations;
    }
    const auto& fp32 = iterations[Precision::Float32];
    const auto& bf16 = iterations[Precision::BFloat16];
    ASSERT_EQ(bf16.size(), 10U);
    ASSERT_EQ(fp32.size(), bf16.size());
    double worst = 0.0;
    for (size_t i = 0; i < bf16.size(); ++i)
        worst = std::max(worst, std::abs(bf16[i].loss - fp32[i].loss) / fp32[i].loss);
    std::cout << "[ measured ] bf16 vs fp32: worst relative loss difference " << worst << ", step peak "
              << results[Precision::BFloat16].peakStepBytes << " vs " << results[Precision::Float32].peakStepBytes
              << " bytes" << std::endl;
    EXPECT_GT(worst, 1e-6) << "autocast had no effect";
    EXPECT_LT(worst, 0.05);
    EXPECT_LT(bf16.back().loss, bf16.front().loss);
    EXPECT_LE(results[Precision::BFloat16].peakStepBytes, results[Precision::Float32].peakStepBytes);
}

TEST(Trainer, CheckpointedFollowsConventionalWithLessMemory)
{
    // The same run twice: checkpointing changes where activations live, not what is computed.
    std::map<Strategy, RunFinishedEvent> results;
    std::map<Strategy, std::vector<IterationEvent>> iterations;
    for (Strategy strategy : { Strategy::Conventional, Strategy::Checkpointed }) {
        TrainConfig config = tinyConfig(strategy);
        config.optim.epochs = 1;
        config.data.trainLimit = 256; // 4 iterations
        config.model.dropPath = 0.1; // masks replayed by the recompute
        Trainer trainer(config);
        Recorder recorder;
        trainer.addObserver(&recorder);
        results[strategy] = trainer.run();
        ASSERT_EQ(toString(results[strategy].outcome), "finished") << results[strategy].message;
        iterations[strategy] = recorder.iterations;
        Backbone& backbone = trainer.model()->backbone();
        if (strategy == Strategy::Checkpointed) {
            EXPECT_EQ(backbone.mode(), ExecMode::Checkpointed);
            // 8 branches, segments.every 0: about √8 branches per segment.
            EXPECT_EQ(backbone.stacks().front()->segmentLengths(), (std::vector<int64_t> { 3, 3, 2 }));
        }
    }
    const auto& conventional = iterations[Strategy::Conventional];
    const auto& checkpointed = iterations[Strategy::Checkpointed];
    ASSERT_EQ(checkpointed.size(), conventional.size());
    ASSERT_EQ(checkpointed.size(), 4U);
    EXPECT_EQ(checkpointed.front().loss, conventional.front().loss) << "the forward is the plain network's";
    for (size_t i = 0; i < checkpointed.size(); ++i) {
        EXPECT_NEAR(checkpointed[i].loss, conventional[i].loss, 1e-4 * std::abs(conventional[i].loss)) << "iteration " << i;
        EXPECT_EQ(checkpointed[i].alpha, 1.0);
        EXPECT_EQ(checkpointed[i].beta, 0.0);
    }
    EXPECT_LT(results[Strategy::Checkpointed].peakStepBytes, results[Strategy::Conventional].peakStepBytes);

    // A configured length wins over the default.
    TrainConfig config = tinyConfig(Strategy::Checkpointed);
    config.optim.epochs = 1;
    config.data.trainLimit = 64;
    config.segments.every = 2;
    Trainer trainer(config);
    ASSERT_EQ(toString(trainer.run().outcome), "finished");
    EXPECT_EQ(trainer.model()->backbone().stacks().front()->segmentLengths(), (std::vector<int64_t> { 2, 2, 2, 2 }));
}

} // namespace
} // namespace dr2
