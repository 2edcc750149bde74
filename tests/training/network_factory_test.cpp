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

} // namespace
} // namespace dr2
