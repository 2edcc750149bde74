// RunHistory's conventional-peak reference: which recorded run a live run's memory is compared against.
#include "app/gui/run_history.h"
#include "storage/run_store.h"

#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <string>

namespace dr2 {
namespace {

std::string config(const std::string& strategy, int batch, int imageSize, const std::string& extra = {})
{
    return R"({"strategy": ")" + strategy + R"(", "model": {"embed_dim": 64, "depth": 2, "heads": 4, "image_size": )"
        + std::to_string(imageSize) + R"(, "patch_size": 4)" + extra + R"(}, "optim": {"batch_size": )"
        + std::to_string(batch) + "}}";
}

int64_t addRun(RunStore& store, const std::string& name, const std::string& strategy, const std::string& json,
    RunStatus status, std::optional<int64_t> peak)
{
    RunRecord record;
    record.name = name;
    record.strategy = strategy;
    record.configJson = json;
    const int64_t id = store.createRun(record);
    if (status != RunStatus::Running)
        store.finishRun(id, status, "{}", peak);
    return id;
}

TEST(RunHistory, MemoryKeyIgnoresWhatDoesNotChangeMemory)
{
    // Defaults spelled out or left out, and the strategy, schedule or epochs, do not change the key.
    const std::string a = RunHistory::memoryKey(config("dr2net", 64, 28));
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, RunHistory::memoryKey(config("conventional", 64, 28, R"(, "in_channels": 1, "drop_path": 0.3)")));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 32, 28)));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 64, 32)));
    EXPECT_NE(a, RunHistory::memoryKey(config("dr2net", 64, 28, R"(, "in_channels": 3)")));
    EXPECT_TRUE(RunHistory::memoryKey("not json").empty());
    EXPECT_TRUE(RunHistory::memoryKey(R"({"optim": {"batch_size": 0}})").empty());
}

TEST(RunHistory, FindsTheNewestFinishedConventionalRunOfTheSameShape)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    RunStore store(dir.filePath(QStringLiteral("runs.sqlite")).toStdString());
    const std::string live = config("dr2net", 64, 28);
    EXPECT_FALSE(RunHistory::conventionalReference(store, live).has_value());

    const int64_t older = addRun(store, "conv-old", "conventional", config("conventional", 64, 28), RunStatus::Finished,
        40'000'000);
    addRun(store, "conv-batch32", "conventional", config("conventional", 32, 28), RunStatus::Finished, 20'000'000);
    addRun(store, "conv-56px", "conventional", config("conventional", 64, 56), RunStatus::Finished, 90'000'000);
    addRun(store, "dr2-same", "dr2net", config("dr2net", 64, 28), RunStatus::Finished, 10'000'000);
    addRun(store, "conv-failed", "conventional", config("conventional", 64, 28), RunStatus::Failed, 45'000'000);
    addRun(store, "conv-running", "conventional", config("conventional", 64, 28), RunStatus::Running, std::nullopt);
    addRun(store, "conv-invalid", "conventional", R"({"optim": {"batch_size": 0}})", RunStatus::Finished, 50'000'000);
    auto found = RunHistory::conventionalReference(store, live);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->runId, older);
    EXPECT_EQ(found->peakBytes, 40'000'000);
    EXPECT_EQ(found->name, QStringLiteral("conv-old"));

    const int64_t newer = addRun(store, "conv-new", "conventional", config("conventional", 64, 28),
        RunStatus::Finished, 41'000'000);
    found = RunHistory::conventionalReference(store, live);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->runId, newer);
    EXPECT_EQ(found->peakBytes, 41'000'000);
    EXPECT_FALSE(RunHistory::conventionalReference(store, config("dr2net", 16, 28)).has_value());
}

} // namespace
} // namespace dr2
