// The config field table (training/config_fields.h): every field round-trips, is settable with --set, is
// range- or choice-checked from its declaration, and validate() leaves the filesystem alone.
#include "tests/training/config_examples.h"
#include "training/config_fields.h"
#include "training/task_registry.h"
#include "training/train_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace dr2 {
namespace {

using nlohmann::json;

using test::everyFieldAtItsExample;
using test::pointerOf;

std::string errorOf(const json& config)
{
    try {
        TrainConfig::fromJson(config, TrainConfig::InputCheck::Skip);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(ConfigFields, KeysAreUniqueAndToJsonHasExactlyThem)
{
    const json defaults = TrainConfig {}.toJson();
    std::set<std::string> keys;
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        EXPECT_TRUE(keys.insert(field.key).second) << "declared twice";
        EXPECT_TRUE(defaults.contains(pointerOf(field.key)));
        EXPECT_FALSE(field.help.empty());
        EXPECT_FALSE(field.group.empty());
        EXPECT_FALSE(field.label.empty());
        EXPECT_EQ(findConfigField(field.key), &field);
    }
    // No JSON key without a declaration: flatten() gives one entry per leaf (an empty list counts as one).
    EXPECT_EQ(defaults.flatten().size(), configFields().size());
    EXPECT_EQ(findConfigField("model"), nullptr);
    EXPECT_TRUE(isConfigGroupKey("schedule.auto_end"));
    EXPECT_FALSE(isConfigGroupKey("schedule.eta"));
}

TEST(ConfigFields, EveryFieldRoundTripsAtANonDefaultValue)
{
    const TrainConfig defaults;
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        if (field.type == ConfigFieldType::Choice && field.choices().size() < 2)
            EXPECT_EQ(field.example, field.get(defaults)) << "a single choice is the default";
        else
            EXPECT_NE(field.example, field.get(defaults)) << "the example must differ from the default";
    }
    const json input = everyFieldAtItsExample();
    const TrainConfig config = TrainConfig::fromJson(input, TrainConfig::InputCheck::Skip);
    EXPECT_EQ(config.toJson(), input);
    EXPECT_EQ(TrainConfig::fromJson(config.toJson(), TrainConfig::InputCheck::Skip).toJson(), input);
    // Each field read on its own lands in the struct (not only in the JSON).
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        EXPECT_EQ(field.get(config), field.example);
    }
}

TEST(ConfigFields, EveryKeyIsAcceptedBySet)
{
    json edited = json::object();
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        // Strings are given bare, as on a command line; everything else as JSON.
        const std::string text = field.example.is_string() ? field.example.get<std::string>() : field.example.dump();
        ASSERT_NO_THROW(applyOverride(edited, field.key + "=" + text));
        EXPECT_EQ(edited.at(pointerOf(field.key)), field.example);
    }
    EXPECT_EQ(TrainConfig::fromJson(edited, TrainConfig::InputCheck::Skip).toJson(), everyFieldAtItsExample());

    // A string field keeps text that would parse as JSON.
    json named = json::object();
    applyOverride(named, "name=2024");
    EXPECT_EQ(named.at("name"), "2024");
    // An object holding fields may be set whole.
    applyOverride(named, "schedule.start={\"alpha\": 0.5}");
    EXPECT_DOUBLE_EQ(TrainConfig::fromJson(named).schedule.start.alpha, 0.5);

    try {
        applyOverride(named, "model.imagesize=32");
        ADD_FAILURE() << "an unknown key was accepted";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("--set 'model.imagesize=32': unknown key 'model.imagesize'"), std::string::npos)
            << message;
        EXPECT_NE(message.find("image_size"), std::string::npos) << message;
    }
    EXPECT_THROW(applyOverride(named, "learning_rate=1"), std::invalid_argument);
}

TEST(ConfigFields, ChoiceFieldsRejectValuesOutsideTheChoices)
{
    int choiceFields = 0;
    for (const ConfigField& field : configFields()) {
        if (field.type != ConfigFieldType::Choice)
            continue;
        SCOPED_TRACE(field.key);
        ++choiceFields;
        json config = json::object();
        config[pointerOf(field.key)] = "not-a-choice";
        const std::string message = errorOf(config);
        EXPECT_NE(message.find(field.key), std::string::npos) << message;
        EXPECT_NE(message.find("not-a-choice"), std::string::npos) << message;
        for (const std::string& choice : field.choices())
            EXPECT_NE(message.find(choice), std::string::npos) << message;
    }
    EXPECT_GE(choiceFields, 7) << "task, strategy, dataset, preset, first_skip, policy, order";
    EXPECT_EQ(findConfigField("task")->choices(), taskNames());
    EXPECT_EQ(findConfigField("strategy")->choices(), strategyNames());
    EXPECT_EQ(errorOf({ { "model", { { "first_skip", "both" } } } }),
        "config model.first_skip: expected scaled or input, found \"both\"");
    EXPECT_EQ(errorOf({ { "data", { { "dataset", "cifar" } } } }),
        "config data.dataset: expected fashion-mnist, folder, clips, scenes or masks, found \"cifar\"");
}

TEST(ConfigFields, DeclaredRangesAreEnforced)
{
    int ranged = 0;
    for (const ConfigField& field : configFields()) {
        if (!field.range)
            continue;
        SCOPED_TRACE(field.key);
        ++ranged;
        const ConfigRange& range = *field.range;
        const double outside = range.hasMin ? (range.minInclusive ? range.min - 1 : range.min)
                                            : (range.maxInclusive ? range.max + 1 : range.max);
        json config = json::object();
        if (field.type == ConfigFieldType::Integer)
            config[pointerOf(field.key)] = int64_t(outside);
        else
            config[pointerOf(field.key)] = outside;
        const std::string message = errorOf(config);
        EXPECT_NE(message.find("config " + field.key + ": expected " + range.expected + ", found "), std::string::npos)
            << message;
        EXPECT_FALSE(range.contains(outside));
        EXPECT_TRUE(range.contains(field.example.get<double>()));
    }
    EXPECT_GE(ranged, 15);
    EXPECT_EQ(errorOf({ { "data", { { "workers", 17 } } } }), "config data.workers: expected 0..16, found 17");
    EXPECT_EQ(errorOf({ { "model", { { "dropout", 1.0 } } } }),
        "config model.dropout: expected a probability in [0, 1), found 1");
}

TEST(ConfigFields, ValidateLeavesInputFilesToCheckInputs)
{
    json config = { { "model", { { "checkpoint", "/nonexistent/pretrained.safetensors" } } } };
    const TrainConfig parsed = TrainConfig::fromJson(config, TrainConfig::InputCheck::Skip);
    EXPECT_NO_THROW(parsed.validate());
    try {
        parsed.checkInputs();
        ADD_FAILURE() << "a missing checkpoint passed checkInputs";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()),
            "config model.checkpoint: expected a readable file, found \"/nonexistent/pretrained.safetensors\"");
    }

    TrainConfig noData;
    noData.data.root = "/nonexistent/datasets";
    EXPECT_NO_THROW(noData.validate());
    try {
        noData.checkInputs();
        ADD_FAILURE() << "a missing data.root passed checkInputs";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("config data.root: expected an existing directory"), std::string::npos)
            << e.what();
    }
}

TEST(ConfigFields, ScheduleConfigsLoadWithoutTheirCheckpoint)
{
    // What `dr2net-cli schedule` does: the finetune config names the checkpoint pretrain writes.
    const auto path = std::filesystem::path(DR2_SOURCE_DIR) / "resources" / "configs" / "finetune-fmnist-5-9-dr2net.json";
    const TrainConfig config = TrainConfig::load(path.string(), {}, TrainConfig::InputCheck::Skip);
    EXPECT_EQ(config.strategy, Strategy::Dr2Net);
    EXPECT_FALSE(config.model.checkpoint.empty());
}

TEST(ConfigFields, TaskDefaultsToClassificationAndIsRecorded)
{
    const TrainConfig config = TrainConfig::fromJson(json::object());
    EXPECT_EQ(config.task, "classification");
    EXPECT_EQ(config.toJson().at("task"), "classification");
}

TEST(ConfigFields, SummaryListsEveryFieldInTableOrder)
{
    const TrainConfig config = TrainConfig::fromJson(everyFieldAtItsExample(), TrainConfig::InputCheck::Skip);
    const auto summary = configSummary(config);
    ASSERT_EQ(summary.size(), configFields().size());
    for (size_t i = 0; i < summary.size(); ++i)
        EXPECT_EQ(summary[i].first, configFields()[i].key);
    auto valueOf = [&](const std::string& key) {
        for (const auto& [k, v] : summary)
            if (k == key)
                return v;
        return std::string("?");
    };
    EXPECT_EQ(valueOf("data.classes"), "1,3");
    EXPECT_EQ(valueOf("strategy"), "hard-finetune");
    EXPECT_EQ(valueOf("model.reset_head"), "false");
    EXPECT_EQ(valueOf("optim.lr"), "0.01");
}

} // namespace
} // namespace dr2
