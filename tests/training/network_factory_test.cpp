// buildNetwork: a checkpoint decides the architecture, and what it overrides in the config is said, not dropped;
// the task's head is kept or replaced as asked.
#include "training/model_factory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

TrainConfig smallConfig()
{
    TrainConfig c;
    c.strategy = Strategy::Conventional;
    c.seed = 2;
    c.model.embedDim = 32;
    c.model.depth = 2;
    c.model.heads = 2;
    c.model.imageSize = 28;
    c.model.patchSize = 7;
    c.model.inChannels = 1;
    return c;
}

bool hasNote(const BuiltNetwork& built, const std::string& text)
{
    return std::any_of(built.notes.begin(), built.notes.end(),
        [&](const std::string& note) { return note.find(text) != std::string::npos; });
}

class NetworkFactory : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_dir = fs::temp_directory_path() / ("dr2_network_factory_" + std::to_string(::getpid()));
        fs::create_directories(m_dir);
        m_checkpoint = (m_dir / "small.safetensors").string();
        BuiltNetwork source = buildNetwork(smallConfig(), /*numClasses=*/3);
        {
            // Move the head off its initialisation, as pretraining would: a fresh head from the same seed must differ.
            torch::NoGradGuard noGrad;
            source.network->task().head()->named_parameters()["weight"].add_(0.5);
        }
        saveNativeCheckpoint(m_checkpoint, *source.network);
        m_sourceHead = source.network->task().head()->named_parameters()["weight"].clone();
    }
    void TearDown() override { fs::remove_all(m_dir); }

    fs::path m_dir;
    std::string m_checkpoint;
    torch::Tensor m_sourceHead;
};

TEST_F(NetworkFactory, ConfigValuesTheCheckpointOverridesAreReported)
{
    TrainConfig config = smallConfig();
    config.strategy = Strategy::Dr2Net;
    config.model.checkpoint = m_checkpoint;
    config.model.depth = 6; // the file has 2 layers
    config.model.heads = 0; // unset: nothing to report
    const BuiltNetwork built = buildNetwork(config, 3);
    EXPECT_EQ(built.network->backbone().branchCount(), 4) << "the checkpoint decides the depth";
    EXPECT_TRUE(hasNote(built, "config model.depth 6 not used: the checkpoint's backbone has depth 2"));
    EXPECT_FALSE(hasNote(built, "model.heads"));
}

TEST_F(NetworkFactory, TheHeadIsKeptOnlyWhenAskedAndItFits)
{
    TrainConfig config = smallConfig();
    config.strategy = Strategy::Dr2Net;
    config.model.checkpoint = m_checkpoint;
    config.model.resetHead = false;
    const BuiltNetwork kept = buildNetwork(config, 3);
    EXPECT_TRUE(torch::equal(kept.network->task().head()->named_parameters()["weight"], m_sourceHead));
    EXPECT_TRUE(hasNote(kept, "classification head kept from the checkpoint (3 classes)"));

    const BuiltNetwork replaced = buildNetwork(config, 5);
    EXPECT_EQ(replaced.network->task().head()->named_parameters()["weight"].size(0), 5);
    EXPECT_TRUE(hasNote(replaced, "classification head replaced: 3 → 5 classes"));

    config.model.resetHead = true;
    const BuiltNetwork reset = buildNetwork(config, 3);
    EXPECT_FALSE(torch::equal(reset.network->task().head()->named_parameters()["weight"], m_sourceHead));
    EXPECT_TRUE(hasNote(reset, "re-initialised for the new task"));
}

TEST_F(NetworkFactory, FromScratchTakesTheCheckpointsArchitectureButNotItsWeights)
{
    TrainConfig config = smallConfig();
    config.strategy = Strategy::ReversibleScratch;
    config.model.checkpoint = m_checkpoint;
    config.model.embedDim = 0; // the preset's (vit-ti: 192-d, 12 layers) unless the checkpoint decides
    config.model.depth = 0;
    config.model.heads = 0;
    config.model.resetHead = false;
    config.seed = 7;
    const BuiltNetwork scratch = buildNetwork(config, 3);
    EXPECT_EQ(scratch.network->backbone().branchCount(), 4) << "the checkpoint's 2 layers, not the preset's 12";
    EXPECT_TRUE(scratch.checkpoint.empty()) << "no weights were loaded";
    EXPECT_TRUE(hasNote(scratch, "starts from random weights in the architecture of the checkpoint"));
    EXPECT_EQ(scratch.source.rfind("random, architecture of ", 0), 0u) << scratch.source;
    EXPECT_FALSE(torch::equal(scratch.network->task().head()->named_parameters()["weight"], m_sourceHead))
        << "the file's head is not reused";

    // Same shapes as the pretrained network, different values, and as deterministic as any seeded construction.
    TrainConfig pretrainedConfig = config;
    pretrainedConfig.strategy = Strategy::Dr2Net;
    const BuiltNetwork pretrained = buildNetwork(pretrainedConfig, 3);
    const BuiltNetwork again = buildNetwork(config, 3);
    const auto scratchParams = scratch.network->backbone().named_parameters();
    const auto pretrainedParams = pretrained.network->backbone().named_parameters();
    const auto againParams = again.network->backbone().named_parameters();
    ASSERT_EQ(scratchParams.size(), pretrainedParams.size());
    int64_t differing = 0;
    for (const auto& item : scratchParams) {
        const torch::Tensor& loaded = pretrainedParams[item.key()];
        ASSERT_EQ(item.value().sizes(), loaded.sizes()) << item.key();
        EXPECT_TRUE(torch::equal(item.value(), againParams[item.key()])) << item.key() << " differs between seeds 7";
        // The file holds an untrained network too: its norms and biases start at constants, as fresh ones do;
        // every tensor the initialisation draws must differ.
        if (loaded.min().item<double>() == loaded.max().item<double>())
            continue;
        ++differing;
        EXPECT_FALSE(torch::equal(item.value(), loaded)) << item.key() << " was taken from the checkpoint";
    }
    EXPECT_GE(differing, 8) << "patch embedding, class token, position table and the layers' weight matrices";

    // A file that is not there (pretraining not run yet) falls back to the config's model, and says so.
    config.model.checkpoint = (m_dir / "not-yet.safetensors").string();
    const BuiltNetwork fallback = buildNetwork(config, 3);
    EXPECT_EQ(fallback.network->backbone().branchCount(), 24) << "vit-ti's 12 layers";
    EXPECT_TRUE(hasNote(fallback, "is not there: building model vit-ti from the config instead"));
}

} // namespace
} // namespace dr2
