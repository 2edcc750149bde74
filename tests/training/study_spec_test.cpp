// StudySpec: a study's JSON spec is parsed and validated with messages that name the place, and expands to one
// run per distinct config (groups × levels × seeds) with keys that follow what a run trains, not what names it.
#include "training/study_spec.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace dr2 {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// A fresh folder under the system temp dir, removed when the object goes away.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag)
        : path(fs::temp_directory_path()
            / ("dr2_" + tag + "_" + std::to_string(::getpid()) + "_"
                + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
    {
        fs::create_directories(path);
    }
    ~TempDir()
    {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

/// A small valid finetune config (a ViT 64d × 2 at 28²); eta and order are set, so a level that sets either to
/// these values is the base point.
json baseConfig()
{
    return {
        { "strategy", "dr2net" },
        { "model",
            { { "preset", "vit-ti" }, { "depth", 2 }, { "embed_dim", 64 }, { "heads", 4 }, { "image_size", 28 },
                { "patch_size", 4 } } },
        { "data", { { "classes", { 5, 6, 7, 8, 9 } }, { "train_limit", 256 }, { "val_limit", 64 } } },
        { "optim", { { "epochs", 1 }, { "batch_size", 32 }, { "lr", 1e-3 } } },
        { "schedule", { { "eta", 5 }, { "order", "simultaneous" } } },
    };
}

/// Two groups (bare levels with a key; labelled levels), two seeds: the "5" level of eta and the "simultaneous"
/// level of order are both the base config.
json specJson()
{
    return {
        { "name", "ablate" },
        { "description", "eta and order" },
        { "base", { { "config", baseConfig() } } },
        { "seeds", { 0, 1 } },
        { "groups",
            {
                { { "name", "eta" }, { "title", "Update interval (Table 9)" }, { "key", "schedule.eta" },
                    { "levels", { 5, 10 } } },
                { { "name", "order" },
                    { "levels",
                        {
                            { { "label", "simultaneous" }, { "set", { { "schedule.order", "simultaneous" } } } },
                            { { "label", "alpha-first" }, { "set", { { "schedule.order", "alpha-first" } } } },
                        } } },
            } },
        { "claims",
            { { { "name", "small eta at least large" }, { "group", "eta" }, { "better", "5" }, { "than", "10" },
                { "relation", "at_least" }, { "tolerance", 0.01 } } } },
    };
}

/// The message of the std::invalid_argument that parsing `spec` throws; empty when it parses.
std::string parseError(const json& spec, bool quick = false)
{
    try {
        (void)StudySpec::fromJson(spec, "/nonexistent", quick);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

/// The message of the std::invalid_argument that expanding `spec` throws; empty when it expands.
std::string expandError(const json& spec)
{
    const StudySpec parsed = StudySpec::fromJson(spec, "/nonexistent", false);
    try {
        (void)parsed.expand("/tmp/study");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

std::vector<std::string> keysOf(const std::vector<StudyRun>& runs)
{
    std::vector<std::string> keys;
    keys.reserve(runs.size());
    for (const StudyRun& run : runs)
        keys.push_back(run.key);
    return keys;
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(StudySpec, ParsesBareAndLabelledLevels)
{
    const StudySpec spec = StudySpec::fromJson(specJson(), "/nonexistent", false);
    EXPECT_EQ(spec.name, "ablate");
    EXPECT_EQ(spec.description, "eta and order");
    EXPECT_FALSE(spec.quick);
    EXPECT_TRUE(spec.file.empty());
    EXPECT_EQ(spec.seeds, (std::vector<uint64_t> { 0, 1 }));
    EXPECT_EQ(spec.checkpointEvery, 25);
    EXPECT_FALSE(spec.pretrain.has_value());
    EXPECT_EQ(spec.base, baseConfig());
    ASSERT_EQ(spec.groups.size(), 2u);

    const StudyGroup& eta = spec.groups[0];
    EXPECT_EQ(eta.name, "eta");
    EXPECT_EQ(eta.title, "Update interval (Table 9)");
    ASSERT_EQ(eta.levels.size(), 2u);
    EXPECT_EQ(eta.levels[0].label, "5"); // a bare value is its own label
    EXPECT_EQ(eta.levels[0].assignments, (std::vector<std::string> { "schedule.eta=5" }));
    EXPECT_EQ(eta.levels[1].label, "10");

    const StudyGroup& order = spec.groups[1];
    EXPECT_EQ(order.title, "order"); // no title: the name
    ASSERT_EQ(order.levels.size(), 2u);
    EXPECT_EQ(order.levels[1].label, "alpha-first");
    EXPECT_EQ(order.levels[1].assignments, (std::vector<std::string> { "schedule.order=\"alpha-first\"" }));

    ASSERT_EQ(spec.claims.size(), 1u);
    EXPECT_EQ(spec.claims[0].relation, ClaimRelation::AtLeast);
    EXPECT_EQ(spec.claims[0].metric, "primary");
    EXPECT_DOUBLE_EQ(spec.claims[0].tolerance, 0.01);

    EXPECT_EQ(spec.tag(), "study:ablate");
    EXPECT_EQ(StudySpec::runTag("0123abcd"), "study-run:0123abcd");
}

TEST(StudySpec, SeedsDefaultToZero)
{
    json root = specJson();
    root.erase("seeds");
    EXPECT_EQ(StudySpec::fromJson(root, "/nonexistent", false).seeds, (std::vector<uint64_t> { 0 }));
}

TEST(StudySpec, UnknownKeysAreRefusedNamingThem)
{
    json top = specJson();
    top["colour"] = "blue";
    EXPECT_CONTAINS(parseError(top), "colour: unknown key");

    json group = specJson();
    group["groups"][0]["colour"] = "blue";
    EXPECT_CONTAINS(parseError(group), "groups[0].colour: unknown key");

    json level = specJson();
    level["groups"][1]["levels"][0]["colour"] = "blue";
    EXPECT_CONTAINS(parseError(level), "groups[1].levels[0].colour: unknown key");

    json claim = specJson();
    claim["claims"][0]["colour"] = "blue";
    EXPECT_CONTAINS(parseError(claim), "claims[0].colour: unknown key");

    json base = specJson();
    base["base"]["colour"] = "blue";
    EXPECT_CONTAINS(parseError(base), "base.colour: unknown key");

    // An unknown config field in a base assignment is refused at parse, naming the section.
    json set = specJson();
    set["base"]["set"] = { { "optim.lrr", 0.1 } };
    EXPECT_CONTAINS(parseError(set), "base.set");
    EXPECT_CONTAINS(parseError(set), "optim.lrr");
}

TEST(StudySpec, DuplicatesAreRefused)
{
    json labels = specJson();
    labels["groups"][1]["levels"][1]["label"] = "simultaneous";
    const std::string labelError = parseError(labels);
    EXPECT_CONTAINS(labelError, "groups[1].levels[1].label");
    EXPECT_CONTAINS(labelError, "appears twice");

    json bare = specJson();
    bare["groups"][0]["levels"] = { 5, 5 };
    EXPECT_CONTAINS(parseError(bare), "groups[0].levels[1].label");

    json seeds = specJson();
    seeds["seeds"] = { 1, 2, 1 };
    EXPECT_CONTAINS(parseError(seeds), "seeds: seed 1 appears twice");

    json groups = specJson();
    groups["groups"][1]["name"] = "eta";
    EXPECT_CONTAINS(parseError(groups), "groups[1].name");
}

TEST(StudySpec, MalformedGroupsAndSeedsAreRefused)
{
    json bare = specJson();
    bare["groups"][0].erase("key");
    EXPECT_CONTAINS(parseError(bare), "groups[0].levels[0]: a bare value needs the group's \"key\"");

    json noSet = specJson();
    noSet["groups"][1]["levels"][0].erase("set");
    EXPECT_CONTAINS(parseError(noSet), "groups[1].levels[0].set: missing");

    json noLevels = specJson();
    noLevels["groups"][0]["levels"] = json::array();
    EXPECT_CONTAINS(parseError(noLevels), "groups[0].levels");

    json badName = specJson();
    badName["groups"][0]["name"] = "eta group";
    EXPECT_CONTAINS(parseError(badName), "groups[0].name");

    json negative = specJson();
    negative["seeds"] = { 0, -1 };
    EXPECT_CONTAINS(parseError(negative), "seeds: expected integers >= 0");

    json noGroups = specJson();
    noGroups.erase("groups");
    EXPECT_CONTAINS(parseError(noGroups), "groups: expected a non-empty array");

    json noBase = specJson();
    noBase.erase("base");
    EXPECT_CONTAINS(parseError(noBase), "base: missing");
}

TEST(StudySpec, ClaimsMustNameAGroupAndTwoOfItsLevels)
{
    json group = specJson();
    group["claims"][0]["group"] = "lr";
    EXPECT_CONTAINS(parseError(group), "claims[0].group: no group named \"lr\"");

    json better = specJson();
    better["claims"][0]["better"] = "2";
    EXPECT_CONTAINS(parseError(better), "claims[0].better: group eta has no level \"2\"");

    json than = specJson();
    than["claims"][0]["than"] = "alpha-first"; // a level of another group
    EXPECT_CONTAINS(parseError(than), "claims[0].than: group eta has no level \"alpha-first\"");

    json itself = specJson();
    itself["claims"][0]["than"] = "5";
    EXPECT_CONTAINS(parseError(itself), "claims[0].than");
    EXPECT_CONTAINS(parseError(itself), "with itself");
}

TEST(StudySpec, ClaimRelationMetricAndToleranceAreChecked)
{
    json relation = specJson();
    relation["claims"][0]["relation"] = "much_above";
    EXPECT_CONTAINS(parseError(relation), "claims[0].relation: expected one of above, at_least, about");

    for (const char* metric : { "accuracy", "final_", "peak_bytes" }) {
        json bad = specJson();
        bad["claims"][0]["metric"] = metric;
        EXPECT_CONTAINS(parseError(bad), "claims[0].metric: expected primary, final_<metric>");
    }
    for (const char* metric : { "primary", "final_top5", "final_loss", "peak_step_bytes", "seconds_per_iteration" }) {
        json good = specJson();
        good["claims"][0]["metric"] = metric;
        EXPECT_EQ(parseError(good), "") << metric;
    }

    json tolerance = specJson();
    tolerance["claims"][0]["tolerance"] = -0.01;
    EXPECT_CONTAINS(parseError(tolerance), "claims[0].tolerance: expected a number >= 0");

    for (const auto& [text, expected] :
        std::vector<std::pair<std::string, ClaimRelation>> { { "above", ClaimRelation::Above },
            { "at_least", ClaimRelation::AtLeast }, { "about", ClaimRelation::About } }) {
        json good = specJson();
        good["claims"][0]["relation"] = text;
        EXPECT_EQ(StudySpec::fromJson(good, "/nonexistent", false).claims.at(0).relation, expected) << text;
        EXPECT_EQ(toString(expected), text);
    }
}

TEST(StudySpec, AnInvalidBaseConfigIsRefusedWhenParsed)
{
    json root = specJson();
    root["base"]["config"]["strategy"] = "nonsense";
    const std::string error = parseError(root);
    EXPECT_CONTAINS(error, "study spec ablate: base config");
    EXPECT_CONTAINS(error, "nonsense");
}

TEST(StudySpec, ALevelThatMakesAnInvalidConfigIsRefusedNamingTheLevel)
{
    json strategy = specJson();
    strategy["groups"][1]["levels"].push_back({ { "label", "bad" }, { "set", { { "strategy", "nonsense" } } } });
    const std::string error = expandError(strategy);
    EXPECT_CONTAINS(error, "groups.order level \"bad\"");
    EXPECT_CONTAINS(error, "nonsense");

    json unknownKey = specJson();
    unknownKey["groups"][1]["levels"].push_back({ { "label", "typo" }, { "set", { { "schedule.ordr", "x" } } } });
    EXPECT_CONTAINS(expandError(unknownKey), "groups.order level \"typo\"");

    json outOfRange = specJson();
    outOfRange["groups"][0]["levels"].push_back(0); // eta must be > 0
    EXPECT_CONTAINS(expandError(outOfRange), "groups.eta level \"0\"");
}

TEST(StudySpec, QuickWithoutAQuickProfileIsRefused)
{
    EXPECT_CONTAINS(parseError(specJson(), /*quick=*/true), "quick: --quick: this spec has no quick profile");
    EXPECT_EQ(parseError(specJson(), /*quick=*/false), "");
}

TEST(StudySpec, QuickProfileAppliesItsSeedsAndAssignments)
{
    json root = specJson();
    root["checkpoint_every"] = 50;
    root["quick"] = { { "seeds", { 7 } }, { "set", { { "optim.epochs", 3 }, { "data.train_limit", 64 } } },
        { "checkpoint_every", 4 } };

    const StudySpec full = StudySpec::fromJson(root, "/nonexistent", false);
    EXPECT_EQ(full.name, "ablate");
    EXPECT_EQ(full.seeds, (std::vector<uint64_t> { 0, 1 }));
    EXPECT_EQ(full.base["optim"]["epochs"], 1);
    EXPECT_EQ(full.checkpointEvery, 50);

    const StudySpec quick = StudySpec::fromJson(root, "/nonexistent", true);
    EXPECT_TRUE(quick.quick);
    EXPECT_EQ(quick.name, "ablate-quick");
    EXPECT_EQ(quick.tag(), "study:ablate-quick");
    EXPECT_EQ(quick.seeds, (std::vector<uint64_t> { 7 }));
    EXPECT_EQ(quick.base["optim"]["epochs"], 3);
    EXPECT_EQ(quick.base["data"]["train_limit"], 64);
    EXPECT_EQ(quick.base["optim"]["lr"], 1e-3); // the rest of the base is kept
    EXPECT_EQ(quick.checkpointEvery, 4);

    const std::vector<StudyRun> runs = quick.expand("/tmp/study");
    ASSERT_EQ(runs.size(), 3u); // (2 + 2 levels − 1 shared) × 1 seed
    for (const StudyRun& run : runs) {
        EXPECT_EQ(run.seed, 7u);
        EXPECT_EQ(run.config.optim.epochs, 3);
        EXPECT_EQ(run.config.checkpoint.every, 4);
    }
    // The quick study trains other configs: none of its runs is a run of the full study.
    const std::vector<std::string> fullKeys = keysOf(full.expand("/tmp/study"));
    for (const StudyRun& run : runs)
        EXPECT_EQ(std::count(fullKeys.begin(), fullKeys.end(), run.key), 0) << run.key;
}

TEST(StudySpec, QuickProfileIsCheckedOnlyWhereItApplies)
{
    json badKey = specJson();
    badKey["quick"] = { { "iterations", 3 } };
    EXPECT_CONTAINS(parseError(badKey), "quick.iterations: unknown key");

    json pretrainSet = specJson();
    pretrainSet["quick"] = { { "pretrain_set", { { "optim.epochs", 1 } } } };
    EXPECT_CONTAINS(parseError(pretrainSet, /*quick=*/true), "quick.pretrain_set: the spec has no pretrain section");

    json every = specJson();
    every["quick"] = { { "checkpoint_every", 0 } };
    EXPECT_CONTAINS(parseError(every, /*quick=*/true), "quick.checkpoint_every: expected an integer >= 1");

    json invalid = specJson();
    invalid["quick"] = { { "set", { { "strategy", "nonsense" } } } };
    EXPECT_CONTAINS(parseError(invalid, /*quick=*/true), "base config");
}

TEST(StudySpec, ConfigFilesAreReadRelativeToTheSpecFolder)
{
    TempDir dir("study_spec");
    fs::create_directories(dir.path / "configs");
    std::ofstream(dir.path / "configs" / "base.json") << "// a comment, as the shipped configs have\n"
                                                      << baseConfig().dump(2);
    json root = specJson();
    root["base"] = { { "config", "configs/base.json" }, { "set", { { "optim.lr", 0.002 } } } };
    const fs::path specPath = dir.path / "ablate.json";
    std::ofstream(specPath) << root.dump(2);

    const StudySpec loaded = StudySpec::load(specPath.string(), false);
    EXPECT_EQ(loaded.file, specPath.string());
    EXPECT_EQ(loaded.base["model"]["depth"], 2);
    EXPECT_EQ(loaded.base["optim"]["lr"], 0.002); // "set" applied after the file

    // fromJson resolves against the folder it is given.
    EXPECT_EQ(StudySpec::fromJson(root, dir.path.string(), false).base, loaded.base);
    const std::string missing = parseError(root); // folder /nonexistent
    EXPECT_CONTAINS(missing, "base.config");
    EXPECT_CONTAINS(missing, "cannot open");

    EXPECT_THROW((void)StudySpec::load((dir.path / "none.json").string(), false), std::invalid_argument);
    std::ofstream(dir.path / "broken.json") << "{ \"name\": ";
    try {
        (void)StudySpec::load((dir.path / "broken.json").string(), false);
        FAIL() << "a malformed spec was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_CONTAINS(e.what(), "invalid JSON");
    }
}

TEST(StudySpec, ExpandsGroupsTimesLevelsTimesSeedsSharingIdenticalConfigs)
{
    const StudySpec spec = StudySpec::fromJson(specJson(), "/nonexistent", false);
    const std::vector<StudyRun> runs = spec.expand("/tmp/study");
    // eta {5, 10} × 2 seeds + order {simultaneous, alpha-first} × 2 seeds, eta 5 = simultaneous = the base.
    ASSERT_EQ(runs.size(), 6u);

    std::set<std::string> keys;
    std::multiset<std::string> pairs;
    for (const StudyRun& run : runs) {
        keys.insert(run.key);
        for (const auto& [group, level] : run.levels)
            pairs.insert(group + "=" + level + "@" + std::to_string(run.seed));
    }
    EXPECT_EQ(keys.size(), runs.size());
    // Every (group, level, seed) is covered exactly once.
    EXPECT_EQ(pairs.size(), 8u);
    for (const char* pair : { "eta=5@0", "eta=5@1", "eta=10@0", "eta=10@1", "order=simultaneous@0",
             "order=simultaneous@1", "order=alpha-first@0", "order=alpha-first@1" })
        EXPECT_EQ(pairs.count(pair), 1u) << pair;

    // The base point is one run per seed that stands for both groups, in spec order.
    size_t shared = 0;
    for (const StudyRun& run : runs) {
        const std::string* eta = levelOf(run, "eta");
        const std::string* order = levelOf(run, "order");
        EXPECT_EQ(levelOf(run, "lr"), nullptr);
        if (eta != nullptr && order != nullptr) {
            ++shared;
            EXPECT_EQ(*eta, "5");
            EXPECT_EQ(*order, "simultaneous");
            EXPECT_EQ(run.levels.front().first, "eta");
            EXPECT_EQ(run.config.schedule.eta, 5);
            EXPECT_EQ(run.config.schedule.order, ScheduleOrder::Simultaneous);
        } else {
            EXPECT_TRUE(eta != nullptr || order != nullptr);
        }
        if (eta != nullptr && *eta == "10") {
            EXPECT_EQ(run.config.schedule.eta, 10);
        }
        if (order != nullptr && *order == "alpha-first") {
            EXPECT_EQ(run.config.schedule.order, ScheduleOrder::AlphaFirst);
        }
    }
    EXPECT_EQ(shared, 2u);
}

TEST(StudySpec, RunsCarryTheirSeedNameAndCheckpointFolder)
{
    const StudySpec spec = StudySpec::fromJson(specJson(), "/nonexistent", false);
    const std::vector<StudyRun> runs = spec.expand("/data/studies/ablate");
    std::set<std::string> keys;
    for (const StudyRun& run : runs) {
        EXPECT_EQ(run.config.seed, run.seed);
        EXPECT_EQ(run.key.size(), 16u);
        EXPECT_EQ(
            run.config.checkpoint.dir, (fs::path("/data/studies/ablate") / "runs" / run.key / "checkpoint").string());
        EXPECT_EQ(run.config.checkpoint.every, spec.checkpointEvery);
        EXPECT_EQ(run.config.name.rfind("ablate: ", 0), 0u) << run.config.name;
        EXPECT_NE(run.config.name.find("seed " + std::to_string(run.seed)), std::string::npos) << run.config.name;
        EXPECT_TRUE(run.config.model.checkpoint.empty()); // no pretrain section
        keys.insert(run.key);
    }
    // The same config with another seed is another run.
    EXPECT_EQ(keys.size(), runs.size());
    EXPECT_EQ(std::count_if(runs.begin(), runs.end(), [](const StudyRun& r) { return r.seed == 0; }), 3);
    EXPECT_EQ(std::count_if(runs.begin(), runs.end(), [](const StudyRun& r) { return r.seed == 1; }), 3);

    EXPECT_EQ(spec.pretrainKey(), "");
    EXPECT_EQ(spec.pretrainedPath("/data/studies/ablate"), "");
    EXPECT_FALSE(spec.pretrainConfig("/data/studies/ablate").has_value());
}

TEST(StudySpec, RunKeysAreStable)
{
    const StudySpec spec = StudySpec::fromJson(specJson(), "/nonexistent", false);
    const std::vector<std::string> keys = keysOf(spec.expand("/tmp/a"));
    EXPECT_EQ(keysOf(spec.expand("/tmp/a")), keys);
    // Another folder (another machine) and a spec parsed again from the same JSON know the same runs.
    EXPECT_EQ(keysOf(spec.expand("/elsewhere/b")), keys);
    EXPECT_EQ(keysOf(StudySpec::fromJson(specJson(), "/other", false).expand("/tmp/a")), keys);
    // Member order in the spec's JSON text does not matter.
    const json reordered = json::parse(specJson().dump());
    EXPECT_EQ(keysOf(StudySpec::fromJson(reordered, "/nonexistent", false).expand("/tmp/a")), keys);
}

TEST(StudySpec, RunKeysFollowWhatIsTrainedNotWhatNamesIt)
{
    const std::vector<std::string> keys
        = keysOf(StudySpec::fromJson(specJson(), "/nonexistent", false).expand("/tmp/a"));

    json renamed = specJson();
    renamed["name"] = "ablate-renamed";
    renamed["description"] = "another text";
    renamed["groups"][0]["title"] = "another title";
    renamed["checkpoint_every"] = 7;
    renamed["base"]["config"]["name"] = "a config name";
    const StudySpec renamedSpec = StudySpec::fromJson(renamed, "/nonexistent", false);
    EXPECT_EQ(keysOf(renamedSpec.expand("/tmp/a")), keys);
    EXPECT_NE(renamedSpec.tag(), StudySpec::fromJson(specJson(), "/nonexistent", false).tag());

    json lr = specJson();
    lr["base"]["config"]["optim"]["lr"] = 2e-3;
    const std::vector<std::string> lrKeys = keysOf(StudySpec::fromJson(lr, "/nonexistent", false).expand("/tmp/a"));
    ASSERT_EQ(lrKeys.size(), keys.size());
    for (const std::string& key : lrKeys)
        EXPECT_EQ(std::count(keys.begin(), keys.end(), key), 0) << key;

    // Another level in one group adds runs and leaves the others' keys alone.
    json more = specJson();
    more["groups"][0]["levels"].push_back(20);
    const std::vector<std::string> moreKeys = keysOf(StudySpec::fromJson(more, "/nonexistent", false).expand("/tmp/a"));
    EXPECT_EQ(moreKeys.size(), keys.size() + 2);
    for (const std::string& key : keys)
        EXPECT_EQ(std::count(moreKeys.begin(), moreKeys.end(), key), 1) << key;
}

json pretrainSection()
{
    json config = baseConfig();
    config["strategy"] = "conventional";
    config["data"]["classes"] = { 0, 1, 2, 3, 4 };
    return { { "config", config }, { "set", { { "optim.epochs", 2 } } } };
}

TEST(StudySpec, EveryRunStartsFromThePretrainedWeights)
{
    json root = specJson();
    root["pretrain"] = pretrainSection();
    const StudySpec spec = StudySpec::fromJson(root, "/nonexistent", false);
    ASSERT_TRUE(spec.pretrain.has_value());
    EXPECT_EQ((*spec.pretrain)["optim"]["epochs"], 2);
    const std::string key = spec.pretrainKey();
    EXPECT_EQ(key.size(), 16u);
    const std::string dir = "/data/studies/ablate";
    EXPECT_EQ(spec.pretrainedPath(dir), (fs::path(dir) / "pretrain" / key / "pretrained.safetensors").string());

    const std::vector<StudyRun> runs = spec.expand(dir);
    ASSERT_EQ(runs.size(), 6u);
    for (const StudyRun& run : runs)
        EXPECT_EQ(run.config.model.checkpoint, spec.pretrainedPath(dir));

    const std::optional<TrainConfig> pretrain = spec.pretrainConfig(dir);
    ASSERT_TRUE(pretrain.has_value());
    EXPECT_EQ(pretrain->strategy, Strategy::Conventional);
    EXPECT_EQ(pretrain->output, spec.pretrainedPath(dir));
    EXPECT_TRUE(pretrain->model.checkpoint.empty());
    EXPECT_EQ(pretrain->checkpoint.dir, (fs::path(dir) / "pretrain" / key / "checkpoint").string());
    EXPECT_EQ(pretrain->checkpoint.every, spec.checkpointEvery);
    EXPECT_EQ(pretrain->optim.epochs, 2);
    EXPECT_EQ(pretrain->data.classes, (std::vector<int64_t> { 0, 1, 2, 3, 4 }));

    // A pretrain section that is not conventional is still pretrained conventionally.
    json dr2net = specJson();
    dr2net["pretrain"] = pretrainSection();
    dr2net["pretrain"]["config"]["strategy"] = "dr2net";
    EXPECT_EQ(StudySpec::fromJson(dr2net, "/nonexistent", false).pretrainConfig(dir)->strategy, Strategy::Conventional);
}

TEST(StudySpec, EditingThePretrainSectionMakesNewWeightsAndNewRuns)
{
    json root = specJson();
    root["pretrain"] = pretrainSection();
    const StudySpec spec = StudySpec::fromJson(root, "/nonexistent", false);
    const std::vector<std::string> keys = keysOf(spec.expand("/tmp/s"));

    // Without pretraining, the same finetunes are other runs.
    const std::vector<std::string> scratchKeys
        = keysOf(StudySpec::fromJson(specJson(), "/nonexistent", false).expand("/tmp/s"));
    for (const std::string& key : keys)
        EXPECT_EQ(std::count(scratchKeys.begin(), scratchKeys.end(), key), 0) << key;

    json edited = root;
    edited["pretrain"]["set"]["optim.lr"] = 5e-4;
    const StudySpec editedSpec = StudySpec::fromJson(edited, "/nonexistent", false);
    EXPECT_NE(editedSpec.pretrainKey(), spec.pretrainKey());
    EXPECT_NE(editedSpec.pretrainedPath("/tmp/s"), spec.pretrainedPath("/tmp/s"));
    EXPECT_NE(editedSpec.pretrainConfig("/tmp/s")->checkpoint.dir, spec.pretrainConfig("/tmp/s")->checkpoint.dir);
    const std::vector<std::string> editedKeys = keysOf(editedSpec.expand("/tmp/s"));
    ASSERT_EQ(editedKeys.size(), keys.size());
    for (const std::string& key : editedKeys)
        EXPECT_EQ(std::count(keys.begin(), keys.end(), key), 0) << key;

    // Naming the pretraining run is not an edit of what it trains.
    json renamed = root;
    renamed["pretrain"]["config"]["name"] = "pretrain-0-4";
    const StudySpec renamedSpec = StudySpec::fromJson(renamed, "/nonexistent", false);
    EXPECT_EQ(renamedSpec.pretrainKey(), spec.pretrainKey());
    EXPECT_EQ(keysOf(renamedSpec.expand("/tmp/s")), keys);

    // The quick profile's pretrain_set edits the quick study's pretraining only.
    root["quick"] = { { "pretrain_set", { { "optim.epochs", 1 } } } };
    const StudySpec quick = StudySpec::fromJson(root, "/nonexistent", true);
    EXPECT_EQ((*quick.pretrain)["optim"]["epochs"], 1);
    EXPECT_NE(quick.pretrainKey(), spec.pretrainKey());
    EXPECT_EQ(StudySpec::fromJson(root, "/nonexistent", false).pretrainKey(), spec.pretrainKey());
}

// BUG (reported, not fixed here): a run's key hashes the spec's JSON as written, not the config it makes, so a
// level that spells out a field the base leaves at its default (here optim.lr = 1e-3, TrainConfig's default) trains
// the same config as the base point but gets another key: the study plans and trains it twice, and the claim or
// table that compares it with another group's base point compares two separate runs. StudyRun::key says "a hash of
// what the run trains"; hashing TrainConfig::fromJson(config).toJson() (without name and paths) would make these
// one run.
TEST(StudySpec, DISABLED_ALevelThatSpellsOutADefaultIsTheBaseRun)
{
    json root = specJson();
    root["base"]["config"]["optim"].erase("lr"); // the default, 1e-3
    root["groups"].push_back({ { "name", "lr" }, { "key", "optim.lr" }, { "levels", { 1e-3, 5e-4 } } });
    const StudySpec spec = StudySpec::fromJson(root, "/nonexistent", false);
    const std::vector<StudyRun> runs = spec.expand("/tmp/s");

    const StudyRun* base = nullptr;
    const StudyRun* explicitDefault = nullptr;
    for (const StudyRun& run : runs) {
        if (run.seed != 0)
            continue;
        if (levelOf(run, "eta") != nullptr && *levelOf(run, "eta") == "5")
            base = &run;
        if (levelOf(run, "lr") != nullptr && *levelOf(run, "lr") == "0.001")
            explicitDefault = &run;
    }
    ASSERT_NE(base, nullptr);
    ASSERT_NE(explicitDefault, nullptr);
    // The two train exactly the same config...
    json a = base->config.toJson();
    json b = explicitDefault->config.toJson();
    for (json* config : { &a, &b }) {
        config->erase("name");
        (*config)["checkpoint"].erase("dir");
    }
    ASSERT_EQ(a, b);
    // ...so they should be one run: 3 levels of eta/order/lr at the base point share one run per seed.
    EXPECT_EQ(base->key, explicitDefault->key);
    EXPECT_EQ(runs.size(), 8u); // (2 + 2 + 2 levels − 2 shared) × 2 seeds; today 10
}

} // namespace
} // namespace dr2
