// The memory planner against real training steps: its prediction at a config's size (never one it calibrated at)
// within 10 % of the measured peak on six configs, two backbones × three image sizes; geometry, budgets and the
// refusal of a config that cannot fit.
#include "core/backbone_registry.h"
#include "training/memory_planner.h"
#include "training/model_factory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace dr2 {
namespace {

TrainConfig planConfig(const std::string& preset, int64_t imageSize, int64_t batch)
{
    TrainConfig c;
    c.seed = 5;
    c.model.preset = preset;
    c.model.imageSize = imageSize;
    c.model.patchSize = 0;
    c.model.inChannels = 3;
    c.model.dropPath = 0.1;
    c.optim.batchSize = batch;
    if (preset == "vit-ti")
        c.model.patchSize = 16;
    if (preset == "swin-t") {
        c.model.patchSize = 4;
        c.model.depth = 6; // [1, 1, 3, 1]: the preset's proportions, half its blocks, to keep the test short
    }
    return c;
}

double relative(int64_t predicted, int64_t measured)
{
    return static_cast<double>(predicted - measured) / static_cast<double>(measured);
}

TEST(MemoryPlanner, PredictsTheMeasuredPeakWithinTenPercentOnSixConfigs)
{
    torch::set_num_threads(1);
    struct Case {
        std::string preset;
        int64_t image;
        int64_t batch;
    };
    const std::vector<Case> cases { { "vit-ti", 96, 4 }, { "vit-ti", 160, 4 }, { "vit-ti", 224, 4 },
        { "swin-t", 112, 2 }, { "swin-t", 160, 2 }, { "swin-t", 224, 1 } };
    const std::vector<Strategy> strategies { Strategy::Conventional, Strategy::Checkpointed, Strategy::Dr2Net };
    std::printf("%-8s %6s %6s %-13s %12s %12s %8s %12s %12s %8s\n", "model", "image", "batch", "strategy",
        "plan step", "measured", "error", "plan peak", "measured", "error");
    for (const Case& c : cases) {
        const TrainConfig config = planConfig(c.preset, c.image, c.batch);
        PlanOptions options;
        options.strategies = strategies;
        const MemoryPlan plan = planMemory(config, options);
        for (const auto& size : plan.calibrationImageSizes)
            EXPECT_NE(size, c.image) << "the prediction must be an extrapolation, not a calibrated point";
        for (Strategy strategy : strategies) {
            TrainConfig as = config;
            as.strategy = strategy;
            const StepMemory measured = measureTrainingStep(as);
            const StepMemory& predicted = plan.of(strategy).atConfig;
            const double stepError = relative(predicted.stepBytes, measured.stepBytes);
            const double peakError = relative(predicted.peakBytes(), measured.peakBytes());
            std::printf("%-8s %6lld %6lld %-13s %9.1f MiB %9.1f MiB %+7.1f%% %9.1f MiB %9.1f MiB %+7.1f%%\n",
                c.preset.c_str(), static_cast<long long>(c.image), static_cast<long long>(c.batch),
                toString(strategy).c_str(), predicted.stepBytes / 1048576.0, measured.stepBytes / 1048576.0,
                100.0 * stepError, predicted.peakBytes() / 1048576.0, measured.peakBytes() / 1048576.0, 100.0 * peakError);
            EXPECT_LT(std::abs(peakError), 0.10) << c.preset << " " << c.image << "² " << toString(strategy);
            // The held part is counted, not fitted: parameters, gradients, AdamW moments and the batch.
            EXPECT_EQ(predicted.parameterBytes, measured.parameterBytes) << c.preset << " " << c.image << "²";
            EXPECT_EQ(predicted.gradientBytes, measured.gradientBytes) << c.preset << " " << c.image << "²";
            EXPECT_EQ(predicted.batchBytes, measured.batchBytes);
        }
    }
}

TEST(MemoryPlanner, PredictsSegmentationStepsWithTheirDenseHead)
{
    // A dense head keeps maps at stride 4 and full-size logits whatever the backbone keeps: at high resolution that is
    // a large share of a reversible step, and the planner's per-pixel term must carry it to a size it did not measure.
    torch::set_num_threads(1);
    struct Case {
        std::string preset;
        int64_t image;
        int64_t batch;
    };
    const std::vector<Case> cases { { "vit-ti", 256, 2 }, { "swin-t", 192, 1 } };
    const std::vector<Strategy> strategies { Strategy::Conventional, Strategy::Dr2Net };
    for (const Case& c : cases) {
        TrainConfig config = planConfig(c.preset, c.image, c.batch);
        config.task = "segmentation";
        config.data.dataset = "scenes";
        config.data.classes = { 5, 6, 7, 8, 9 };
        config.model.headDim = 32;
        PlanOptions options;
        options.strategies = strategies;
        const MemoryPlan plan = planMemory(config, options);
        for (Strategy strategy : strategies) {
            TrainConfig as = config;
            as.strategy = strategy;
            const StepMemory measured = measureTrainingStep(as);
            const StepMemory& predicted = plan.of(strategy).atConfig;
            const double peakError = relative(predicted.peakBytes(), measured.peakBytes());
            std::printf("segmentation %-8s %6lld² batch %lld %-13s plan step %9.1f MiB, measured %9.1f MiB; peak %9.1f "
                        "MiB vs %9.1f MiB (%+.1f%%)\n",
                c.preset.c_str(), static_cast<long long>(c.image), static_cast<long long>(c.batch),
                toString(strategy).c_str(), predicted.stepBytes / 1048576.0, measured.stepBytes / 1048576.0,
                predicted.peakBytes() / 1048576.0, measured.peakBytes() / 1048576.0, 100.0 * peakError);
            EXPECT_LT(std::abs(peakError), 0.10) << c.preset << " " << c.image << "² " << toString(strategy);
            EXPECT_EQ(predicted.batchBytes, measured.batchBytes) << "the masks are part of the batch";
        }
    }
}

TEST(MemoryPlanner, LargestBatchAndImageAreTheEdgeOfTheBudget)
{
    TrainConfig config = planConfig("vit-ti", 64, 4);
    config.model.depth = 4;
    PlanOptions options;
    options.strategies = { Strategy::Conventional, Strategy::Dr2Net };
    options.budgetBytes = 256LL << 20;
    const MemoryPlan plan = planMemory(config, options);
    ASSERT_EQ(plan.strategies.size(), 2U);
    for (const StrategyPlan& s : plan.strategies) {
        ASSERT_GT(s.largestBatch, 0) << toString(s.strategy);
        ASSERT_GT(s.largestImageSize, 0) << toString(s.strategy);
        EXPECT_EQ(s.largestImageSize % 16, 0) << "image sizes are planned in whole patches";
        for (const auto& [batch, fits] : { std::pair { s.largestBatch, true }, { s.largestBatch + 1, false } }) {
            TrainConfig at = config;
            at.optim.batchSize = batch;
            PlanOptions one = options;
            one.strategies = { s.strategy };
            EXPECT_EQ(planMemory(at, one).strategies.front().fits, fits) << toString(s.strategy) << " batch " << batch;
        }
    }
    // Reversible keeps far less than conventional: more fits.
    EXPECT_GT(plan.of(Strategy::Dr2Net).largestBatch, 2 * plan.of(Strategy::Conventional).largestBatch);
    EXPECT_GT(plan.of(Strategy::Dr2Net).largestImageSize, plan.of(Strategy::Conventional).largestImageSize);
}

TEST(MemoryPlanner, GeometryFollowsTheFamiliesShapes)
{
    BackboneSpec vit;
    vit.preset = "vit-ti";
    vit.patchSize = 16;
    vit.numClasses = 0;
    const BackbonePtr v = createBackbone(vit);
    const BackboneGeometry g = v->geometryAt({ 3, 384, 384, 0 });
    ASSERT_EQ(g.stages.size(), 1U);
    EXPECT_EQ(g.stages[0].tokens, 24 * 24 + 1);
    EXPECT_EQ(g.stages[0].attentionSpan, 24 * 24 + 1);
    EXPECT_EQ(g.stages[0].branches, 24);
    EXPECT_EQ(g.inputSizedParameters, (24 * 24 + 1) * 192);
    EXPECT_THROW(v->geometryAt({ 3, 100, 100, 0 }), std::invalid_argument); // not whole patches

    BackboneSpec swin;
    swin.preset = "swin-t";
    swin.numClasses = 0;
    const BackbonePtr s = createBackbone(swin);
    const BackboneGeometry h = s->geometryAt({ 3, 112, 112, 0 });
    ASSERT_EQ(h.stages.size(), 4U);
    EXPECT_EQ(h.stages[0].tokens, 28 * 28);
    EXPECT_EQ(h.stages[0].attentionTokens, 28 * 28); // 28 = 4 windows of 7
    EXPECT_EQ(h.stages[3].tokens, 4 * 4);
    EXPECT_EQ(h.stages[3].attentionTokens, 7 * 7); // padded to one whole window
    EXPECT_EQ(h.stages[3].attentionSpan, 49);
    EXPECT_EQ(h.stages[2].branches, 12);
    EXPECT_EQ(h.inputSizedParameters, 0);
}

TEST(MemoryPlanner, RefusesAConfigThatCannotFitWithTheNumbers)
{
    TrainConfig config; // the default: ViT-Ti at 56², patch 4, batch 64
    config.model.imageSize = 100000;
    try {
        refuseIfCannotFit(config);
        FAIL() << "a 100000² image must not fit";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("100000²"), std::string::npos) << message;
        EXPECT_NE(message.find("more than"), std::string::npos) << message;
        EXPECT_NE(message.find("model.image_size"), std::string::npos) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    }
    config.model.imageSize = 56;
    EXPECT_NO_THROW(refuseIfCannotFit(config));
}

TEST(MemoryPlanner, ParsesByteSizes)
{
    EXPECT_EQ(parseByteSize("8GiB"), 8LL << 30);
    EXPECT_EQ(parseByteSize("512 MiB"), 512LL << 20);
    EXPECT_EQ(parseByteSize("2.5GB"), 2500000000LL);
    EXPECT_EQ(parseByteSize("1000"), 1000);
    EXPECT_EQ(parseByteSize("16g"), 16LL << 30);
    for (const char* bad : { "", "GiB", "-1GiB", "0", "8 parsecs", "1e30" })
        EXPECT_THROW(parseByteSize(bad), std::invalid_argument) << bad;
}

} // namespace
} // namespace dr2
