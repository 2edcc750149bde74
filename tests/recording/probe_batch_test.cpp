// Heatmap sweeps probe a batch of the configured data (GUI and demo): a segmentation config's scenes with their
// masks, a classification config's images with their labels, never noise.
#include "app/recording/heatmap_sweep.h"

#include <gtest/gtest.h>

namespace dr2 {
namespace {

TrainConfig tinyConfig(const std::string& task)
{
    TrainConfig config;
    config.task = task;
    config.model.embedDim = 32;
    config.model.depth = 2;
    config.model.heads = 2;
    config.model.imageSize = 32;
    config.model.patchSize = 8;
    config.model.headDim = 16;
    if (task == "segmentation") {
        config.data.dataset = "scenes";
        config.data.scenes.train = 4;
        config.data.scenes.val = 4;
        config.data.scenes.maxScale = 1.0; // 28-pixel items on the 32-pixel canvas
    } else {
        config.data.classes = { 0, 1, 2 };
        config.data.trainLimit = 30;
        config.data.valLimit = 10;
    }
    config.validate();
    return config;
}

ProbeSetup configDataSetup(const TrainConfig& config)
{
    ProbeNetworkSource source;
    source.config = config;
    source.batch = ProbeBatch::ConfigData;
    return makeProbeSetup(source, /*batch=*/3, /*batchSeed=*/1);
}

TEST(ProbeBatch, SegmentationProbesScenesWithTheirMasks)
{
    const ProbeSetup setup = configDataSetup(tinyConfig("segmentation"));
    EXPECT_EQ(setup.input.sizes(), (std::vector<int64_t> { 3, 1, 32, 32 }));
    ASSERT_EQ(setup.target.tensor.dim(), 3); // per-pixel classes, not one label per image
    EXPECT_EQ(setup.target.tensor.size(0), 3);
    EXPECT_NE(setup.batchSource.find("validation"), std::string::npos) << setup.batchSource;
    // Real scenes are mostly background: not the uniform random classes of a noise batch.
    EXPECT_GT(setup.target.tensor.eq(0).sum().item<int64_t>(), setup.target.tensor.numel() / 3);
}

TEST(ProbeBatch, ClassificationProbesImagesWithTheirLabels)
{
    const ProbeSetup setup = configDataSetup(tinyConfig("classification"));
    EXPECT_EQ(setup.target.tensor.sizes(), (std::vector<int64_t> { 3 }));
    EXPECT_LT(setup.target.tensor.max().item<int64_t>(), 3);
    // Normalised uint8 images: within [-1, 1], unlike N(0, 1) noise.
    EXPECT_LE(setup.input.abs().max().item<float>(), 1.0f);
    EXPECT_NE(setup.batchSource.find("validation images"), std::string::npos) << setup.batchSource;
}

TEST(ProbeBatch, ConfigDataNeedsAConfig)
{
    ProbeNetworkSource source;
    source.batch = ProbeBatch::ConfigData;
    EXPECT_THROW(makeProbeSetup(source, 2, 1), std::invalid_argument);
}

} // namespace
} // namespace dr2
