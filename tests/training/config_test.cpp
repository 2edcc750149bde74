// TrainConfig: one place validates, messages name the field.
#include "training/train_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace dr2 {
namespace {

std::string errorOf(const nlohmann::json& json)
{
    try {
        TrainConfig::fromJson(json, TrainConfig::InputCheck::Check);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(TrainConfig, DefaultsAreValidAndRoundTrip)
{
    const TrainConfig config = TrainConfig::fromJson(nlohmann::json::object());
    EXPECT_EQ(config.strategy, Strategy::Dr2Net);
    const TrainConfig again = TrainConfig::fromJson(config.toJson());
    EXPECT_EQ(again.toJson(), config.toJson());
}

TEST(TrainConfig, MessagesNameTheField)
{
    EXPECT_NE(errorOf({ { "optim", { { "lr", -1 } } } }).find("optim.lr"), std::string::npos);
    EXPECT_NE(errorOf({ { "optim", { { "lr", "fast" } } } }).find("optim.lr: expected a number"), std::string::npos);
    EXPECT_NE(errorOf({ { "model", { { "imagesize", 32 } } } }).find("model.imagesize: unknown key"), std::string::npos);
    EXPECT_NE(errorOf({ { "strategy", "dr3net" } }).find("expected one of conventional"), std::string::npos);
    EXPECT_NE(errorOf({ { "schedule", { { "start", { { "beta", 0.0 } } } } } }).find("schedule.start.beta"),
        std::string::npos);
    EXPECT_NE(errorOf({ { "schedule", { { "end", { { "alpha", 1.5 } } } } } }).find("α in [0, 1]"), std::string::npos);
    EXPECT_NE(errorOf({ { "schedule", { { "tau_iterations", 0 } } } }).find("schedule.tau_iterations"), std::string::npos);
    EXPECT_NE(errorOf({ { "model", { { "checkpoint", "/nonexistent/x.safetensors" } } } }).find("model.checkpoint"),
        std::string::npos);
    EXPECT_NE(errorOf({ { "model", { { "image_size", 30 }, { "patch_size", 4 } } } }).find("model.image_size"),
        std::string::npos);
    // β = 0 is fine where nothing is reversed.
    EXPECT_EQ(errorOf({ { "strategy", "conventional" }, { "schedule", { { "start", { { "beta", 0.0 } } } } } }), "");
}

TEST(TrainConfig, PrecisionRoundTripsAndFp16IsRefusedOnTheCpu)
{
    EXPECT_EQ(TrainConfig().optim.precision, Precision::Float32);
    const TrainConfig bf16 = TrainConfig::fromJson({ { "optim", { { "precision", "bf16" } } } });
    EXPECT_EQ(bf16.optim.precision, Precision::BFloat16);
    EXPECT_EQ(TrainConfig::fromJson(bf16.toJson()).toJson(), bf16.toJson());
    const TrainConfig fp16
        = TrainConfig::fromJson({ { "device", "cuda" }, { "optim", { { "precision", "fp16" } } } });
    EXPECT_EQ(fp16.optim.precision, Precision::Float16);
    try {
        TrainConfig::fromJson({ { "device", "cpu" }, { "optim", { { "precision", "fp16" } } } });
        FAIL() << "fp16 on the CPU was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("optim.precision"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fp16 needs a CUDA device"), std::string::npos) << e.what();
    }
    try {
        TrainConfig::fromJson({ { "optim", { { "precision", "half" } } } });
        FAIL() << "an unknown precision was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("config optim.precision: precision 'half': expected fp32, bf16 or fp16"),
            std::string::npos)
            << e.what();
    }
}

TEST(TrainConfig, OverridesEditNestedFields)
{
    nlohmann::json json = nlohmann::json::object();
    applyOverride(json, "optim.lr=0.01");
    applyOverride(json, "strategy=vanilla");
    applyOverride(json, "data.classes=[5,6,7]");
    const TrainConfig config = TrainConfig::fromJson(json);
    EXPECT_DOUBLE_EQ(config.optim.lr, 0.01);
    EXPECT_EQ(config.strategy, Strategy::Vanilla);
    EXPECT_EQ(config.data.classes, (std::vector<int64_t> { 5, 6, 7 }));
    EXPECT_THROW(applyOverride(json, "novalue"), std::invalid_argument);
    EXPECT_THROW(applyOverride(json, "optim..lr=1"), std::invalid_argument);
}

TEST(TrainConfig, CheckpointedIsAStrategy)
{
    EXPECT_EQ(TrainConfig::fromJson({ { "strategy", "checkpointed" } }).strategy, Strategy::Checkpointed);
    nlohmann::json json = nlohmann::json::object();
    applyOverride(json, "strategy=checkpointed");
    applyOverride(json, "segments.every=4");
    const TrainConfig config = TrainConfig::fromJson(json);
    EXPECT_EQ(config.strategy, Strategy::Checkpointed);
    EXPECT_EQ(config.segments.every, 4);
    EXPECT_EQ(TrainConfig::fromJson(config.toJson()).toJson(), config.toJson());
    EXPECT_FALSE(isReversible(Strategy::Checkpointed)); // β = 0 is fine: nothing is reversed
    const auto names = strategyNames();
    EXPECT_NE(std::find(names.begin(), names.end(), "checkpointed"), names.end());
}

} // namespace
} // namespace dr2

namespace dr2 {
namespace {

TEST(TrainConfig, ExampleConfigsAreValid)
{
    const std::filesystem::path dir = std::filesystem::path(DR2_SOURCE_DIR) / "resources" / "configs";
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json")
            continue;
        // The finetune configs name the checkpoint the pretrain config writes; it need not exist here.
        const TrainConfig config = TrainConfig::load(entry.path().string(), { "model.checkpoint=\"\"" });
        EXPECT_FALSE(config.name.empty()) << entry.path();
        ++count;
    }
    EXPECT_GE(count, 7) << "pretrain + one finetune per strategy";
}

} // namespace
} // namespace dr2
