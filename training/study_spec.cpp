// A study spec: parsing, validation and expansion to runs. See resources/studies/README.md for the format.
#include "training/study_spec.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#ifndef DR2_SOURCE_STUDIES_DIR
#define DR2_SOURCE_STUDIES_DIR ""
#endif
#ifndef DR2_INSTALLED_STUDIES_DIR
#define DR2_INSTALLED_STUDIES_DIR ""
#endif

namespace dr2 {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// Errors name the spec (file or "study spec") and the field.
class SpecError {
public:
    explicit SpecError(std::string where)
        : m_where(std::move(where))
    {
    }
    [[noreturn]] void fail(const std::string& field, const std::string& what) const
    {
        throw std::invalid_argument(m_where + ": " + field + ": " + what);
    }
    void requireKeys(const json& object, const std::string& field, const std::set<std::string>& allowed) const
    {
        if (!object.is_object())
            fail(field.empty() ? "the spec" : field, "expected a JSON object, found " + std::string(object.type_name()));
        for (const auto& item : object.items())
            if (allowed.count(item.key()) == 0) {
                std::string known;
                for (const auto& key : allowed)
                    known += (known.empty() ? "" : ", ") + key;
                fail(field.empty() ? item.key() : field + "." + item.key(), "unknown key (known: " + known + ")");
            }
    }
    std::string string(const json& object, const std::string& key, const std::string& field, bool required) const
    {
        if (!object.contains(key)) {
            if (required)
                fail(field + key, "missing (a string)");
            return {};
        }
        if (!object.at(key).is_string())
            fail(field + key, "expected a string, found " + object.at(key).dump());
        return object.at(key).get<std::string>();
    }

private:
    std::string m_where;
};

bool isPlainName(const std::string& text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
            || c == '.';
    });
}

json readJsonFile(const fs::path& path, const std::string& what)
{
    std::ifstream file(path);
    if (!file)
        throw std::invalid_argument(what + " '" + path.string() + "': cannot open");
    try {
        return json::parse(file, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    } catch (const json::parse_error& e) {
        throw std::invalid_argument(what + " '" + path.string() + "': invalid JSON (" + e.what() + ")");
    }
}

/// "key.path=value" for every member of a {"key.path": value} object.
std::vector<std::string> assignmentsOf(const json& set, const std::string& field, const SpecError& error)
{
    if (!set.is_object())
        error.fail(field, "expected an object of config assignments {\"key.path\": value}, found " + set.dump());
    std::vector<std::string> out;
    for (const auto& item : set.items())
        out.push_back(item.key() + "=" + item.value().dump());
    return out;
}

void applyAll(json& config, const std::vector<std::string>& assignments, const std::string& field, const SpecError& error)
{
    for (const auto& assignment : assignments) {
        try {
            applyOverride(config, assignment);
        } catch (const std::invalid_argument& e) {
            error.fail(field, e.what());
        }
    }
}

/// A config section: {"config": "FILE" or {...}, "set": {...}}, the file relative to the spec's folder.
json configSection(const json& section, const std::string& field, const fs::path& folder, const SpecError& error)
{
    error.requireKeys(section, field, { "config", "set" });
    json config = json::object();
    if (section.contains("config")) {
        const json& source = section.at("config");
        if (source.is_string()) {
            fs::path path(source.get<std::string>());
            if (path.is_relative())
                path = folder / path;
            config = readJsonFile(path, field + ".config");
        } else if (source.is_object()) {
            config = source;
        } else {
            error.fail(field + ".config", "expected a config file name or a config object, found " + source.dump());
        }
    }
    if (section.contains("set"))
        applyAll(config, assignmentsOf(section.at("set"), field + ".set", error), field + ".set", error);
    return config;
}

std::string levelLabel(const json& value)
{
    return value.is_string() ? value.get<std::string>() : value.dump();
}

StudyGroup parseGroup(const json& item, const std::string& field, const SpecError& error)
{
    error.requireKeys(item, field, { "name", "title", "key", "levels" });
    StudyGroup group;
    group.name = error.string(item, "name", field + ".", true);
    if (!isPlainName(group.name))
        error.fail(field + ".name", "expected letters, digits, '_', '-' or '.', found \"" + group.name + "\"");
    group.title = error.string(item, "title", field + ".", false);
    if (group.title.empty())
        group.title = group.name;
    const std::string key = error.string(item, "key", field + ".", false);
    if (!item.contains("levels") || !item.at("levels").is_array() || item.at("levels").empty())
        error.fail(field + ".levels", "expected a non-empty array of levels");
    std::set<std::string> labels;
    for (size_t i = 0; i < item.at("levels").size(); ++i) {
        const json& value = item.at("levels").at(i);
        const std::string where = field + ".levels[" + std::to_string(i) + "]";
        StudyLevel level;
        if (value.is_object()) {
            error.requireKeys(value, where, { "label", "set" });
            level.label = error.string(value, "label", where + ".", true);
            if (!value.contains("set"))
                error.fail(where + ".set", "missing (the config assignments of this level)");
            level.assignments = assignmentsOf(value.at("set"), where + ".set", error);
        } else {
            if (key.empty())
                error.fail(where, "a bare value needs the group's \"key\" (the config field it sets); or give "
                                  "{\"label\": ..., \"set\": {...}}");
            level.label = levelLabel(value);
            level.assignments.push_back(key + "=" + value.dump());
        }
        if (level.label.empty())
            error.fail(where + ".label", "empty");
        if (!labels.insert(level.label).second)
            error.fail(where + ".label", "\"" + level.label + "\" appears twice in group " + group.name);
        group.levels.push_back(std::move(level));
    }
    return group;
}

ClaimRelation parseRelation(const std::string& text, const std::string& field, const SpecError& error)
{
    for (ClaimRelation relation : { ClaimRelation::Above, ClaimRelation::AtLeast, ClaimRelation::About })
        if (text == toString(relation))
            return relation;
    error.fail(field, "expected one of above, at_least, about, found \"" + text + "\"");
}

StudyClaim parseClaim(const json& item, const std::string& field, const std::vector<StudyGroup>& groups,
    const SpecError& error)
{
    error.requireKeys(item, field, { "name", "paper", "group", "better", "than", "metric", "relation", "tolerance" });
    StudyClaim claim;
    claim.name = error.string(item, "name", field + ".", true);
    claim.paper = error.string(item, "paper", field + ".", false);
    claim.group = error.string(item, "group", field + ".", true);
    claim.better = error.string(item, "better", field + ".", true);
    claim.than = error.string(item, "than", field + ".", true);
    if (item.contains("metric"))
        claim.metric = error.string(item, "metric", field + ".", true);
    if (item.contains("relation"))
        claim.relation = parseRelation(error.string(item, "relation", field + ".", true), field + ".relation", error);
    if (item.contains("tolerance")) {
        if (!item.at("tolerance").is_number() || item.at("tolerance").get<double>() < 0)
            error.fail(field + ".tolerance", "expected a number >= 0, found " + item.at("tolerance").dump());
        claim.tolerance = item.at("tolerance").get<double>();
    }
    const bool knownMetric = claim.metric == "primary" || claim.metric == "peak_step_bytes"
        || claim.metric == "seconds_per_iteration" || (claim.metric.rfind("final_", 0) == 0 && claim.metric.size() > 6);
    if (!knownMetric)
        error.fail(field + ".metric",
            "expected primary, final_<metric>, peak_step_bytes or seconds_per_iteration, found \"" + claim.metric + "\"");
    const auto group = std::find_if(groups.begin(), groups.end(), [&](const StudyGroup& g) { return g.name == claim.group; });
    if (group == groups.end())
        error.fail(field + ".group", "no group named \"" + claim.group + "\"");
    for (const std::string* label : { &claim.better, &claim.than }) {
        const bool found = std::any_of(
            group->levels.begin(), group->levels.end(), [&](const StudyLevel& level) { return level.label == *label; });
        if (!found) {
            std::string known;
            for (const auto& level : group->levels)
                known += (known.empty() ? "\"" : ", \"") + level.label + "\"";
            error.fail(field + (label == &claim.better ? ".better" : ".than"),
                "group " + claim.group + " has no level \"" + *label + "\" (its levels: " + known + ")");
        }
    }
    if (claim.better == claim.than)
        error.fail(field + ".than", "compares \"" + claim.better + "\" with itself");
    return claim;
}

std::vector<uint64_t> parseSeeds(const json& value, const std::string& field, const SpecError& error)
{
    if (!value.is_array() || value.empty())
        error.fail(field, "expected a non-empty array of seeds (integers >= 0)");
    std::vector<uint64_t> seeds;
    for (const json& seed : value) {
        if (!seed.is_number_integer() || seed.get<int64_t>() < 0)
            error.fail(field, "expected integers >= 0, found " + seed.dump());
        const auto s = seed.get<uint64_t>();
        if (std::find(seeds.begin(), seeds.end(), s) != seeds.end())
            error.fail(field, "seed " + std::to_string(s) + " appears twice");
        seeds.push_back(s);
    }
    return seeds;
}

/// 64-bit FNV-1a: stable across compilers and runs (std::hash is not), enough to tell configs apart.
std::string stableHash(const std::string& text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ULL;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
    return out;
}

/// What a run trains, without what names or places it (canonical: nlohmann's objects are sorted by key).
json trainedPart(json config)
{
    config.erase("name");
    config.erase("output");
    if (config.contains("checkpoint"))
        config.erase("checkpoint");
    if (config.contains("model") && config["model"].is_object())
        config["model"].erase("checkpoint");
    return config;
}

} // namespace

std::string toString(ClaimRelation relation)
{
    switch (relation) {
    case ClaimRelation::Above:
        return "above";
    case ClaimRelation::AtLeast:
        return "at_least";
    case ClaimRelation::About:
        return "about";
    }
    return "above";
}

StudySpec StudySpec::load(const std::string& path, bool quick)
{
    const json root = readJsonFile(path, "study spec");
    StudySpec spec = fromJson(root, fs::path(path).parent_path().string(), quick);
    spec.file = path;
    return spec;
}

std::vector<std::string> StudySpec::builtInFolders()
{
    std::vector<std::string> folders;
    std::error_code ignored;
    for (const char* dir : { DR2_SOURCE_STUDIES_DIR, DR2_INSTALLED_STUDIES_DIR })
        if (*dir != '\0' && fs::is_directory(dir, ignored))
            folders.emplace_back(dir);
    return folders;
}

std::vector<std::string> StudySpec::builtInNames()
{
    std::set<std::string> names;
    for (const auto& folder : builtInFolders()) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(folder, error))
            if (entry.path().extension() == ".json")
                names.insert(entry.path().stem().string());
    }
    return { names.begin(), names.end() };
}

std::string StudySpec::resolve(const std::string& specOrName)
{
    std::error_code ignored;
    if (fs::exists(specOrName, ignored) || specOrName.find('/') != std::string::npos
        || fs::path(specOrName).extension() == ".json")
        return specOrName;
    for (const auto& folder : builtInFolders()) {
        const fs::path candidate = fs::path(folder) / (specOrName + ".json");
        if (fs::exists(candidate, ignored))
            return candidate.string();
    }
    std::string known;
    for (const auto& name : builtInNames())
        known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("study spec '" + specOrName + "': no such file, and no built-in study of that name ("
        + (known.empty() ? std::string("no built-in studies are installed") : "built-in: " + known) + ")");
}

std::string StudySpec::defaultDirectory(const std::string& databasePath, const std::string& studyName)
{
    return (fs::absolute(databasePath).parent_path() / "studies" / studyName).string();
}

StudySpec StudySpec::fromJson(const json& root, const std::string& folder, bool quick)
{
    const SpecError error("study spec");
    error.requireKeys(root, "",
        { "name", "description", "pretrain", "base", "seeds", "groups", "claims", "quick", "checkpoint_every" });
    StudySpec spec;
    spec.quick = quick;
    spec.name = error.string(root, "name", "", true);
    if (!isPlainName(spec.name))
        error.fail("name", "expected letters, digits, '_', '-' or '.', found \"" + spec.name + "\"");
    const SpecError named("study spec " + spec.name);
    spec.description = named.string(root, "description", "", false);
    if (!root.contains("base"))
        named.fail("base", "missing (the finetune config every run starts from: {\"config\": FILE, \"set\": {...}})");
    spec.base = configSection(root.at("base"), "base", folder, named);
    if (root.contains("pretrain"))
        spec.pretrain = configSection(root.at("pretrain"), "pretrain", folder, named);
    spec.seeds = root.contains("seeds") ? parseSeeds(root.at("seeds"), "seeds", named) : std::vector<uint64_t> { 0 };
    if (root.contains("checkpoint_every")) {
        const json& every = root.at("checkpoint_every");
        if (!every.is_number_integer() || every.get<int64_t>() < 1)
            named.fail("checkpoint_every", "expected an integer >= 1, found " + every.dump());
        spec.checkpointEvery = every.get<int64_t>();
    }
    if (!root.contains("groups") || !root.at("groups").is_array() || root.at("groups").empty())
        named.fail("groups", "expected a non-empty array of groups");
    std::set<std::string> groupNames;
    for (size_t i = 0; i < root.at("groups").size(); ++i) {
        StudyGroup group = parseGroup(root.at("groups").at(i), "groups[" + std::to_string(i) + "]", named);
        if (!groupNames.insert(group.name).second)
            named.fail("groups[" + std::to_string(i) + "].name", "\"" + group.name + "\" appears twice");
        spec.groups.push_back(std::move(group));
    }
    if (root.contains("claims")) {
        if (!root.at("claims").is_array())
            named.fail("claims", "expected an array of claims");
        for (size_t i = 0; i < root.at("claims").size(); ++i)
            spec.claims.push_back(
                parseClaim(root.at("claims").at(i), "claims[" + std::to_string(i) + "]", spec.groups, named));
    }
    if (root.contains("quick")) {
        const json& profile = root.at("quick");
        named.requireKeys(profile, "quick", { "seeds", "set", "pretrain_set", "checkpoint_every" });
        if (quick) {
            if (profile.contains("seeds"))
                spec.seeds = parseSeeds(profile.at("seeds"), "quick.seeds", named);
            if (profile.contains("set"))
                applyAll(spec.base, assignmentsOf(profile.at("set"), "quick.set", named), "quick.set", named);
            if (profile.contains("pretrain_set")) {
                if (!spec.pretrain)
                    named.fail("quick.pretrain_set", "the spec has no pretrain section");
                applyAll(*spec.pretrain, assignmentsOf(profile.at("pretrain_set"), "quick.pretrain_set", named),
                    "quick.pretrain_set", named);
            }
            if (profile.contains("checkpoint_every")) {
                const json& every = profile.at("checkpoint_every");
                if (!every.is_number_integer() || every.get<int64_t>() < 1)
                    named.fail("quick.checkpoint_every", "expected an integer >= 1, found " + every.dump());
                spec.checkpointEvery = every.get<int64_t>();
            }
        }
    } else if (quick) {
        named.fail("quick", "--quick: this spec has no quick profile");
    }
    if (quick)
        spec.name += "-quick";
    // Fail now, naming the section, rather than at the first run.
    try {
        (void)TrainConfig::fromJson(spec.base);
        if (spec.pretrain)
            (void)TrainConfig::fromJson(*spec.pretrain);
    } catch (const std::invalid_argument& e) {
        named.fail(spec.pretrain ? "base or pretrain config" : "base config", e.what());
    }
    return spec;
}

std::string StudySpec::tag() const
{
    return "study:" + name;
}

std::string StudySpec::runTag(const std::string& key)
{
    return "study-run:" + key;
}

std::string StudySpec::pretrainKey() const
{
    return pretrain ? stableHash(trainedPart(*pretrain).dump()) : std::string();
}

std::string StudySpec::pretrainedPath(const std::string& studyDir) const
{
    if (!pretrain)
        return {};
    return (fs::path(studyDir) / "pretrain" / pretrainKey() / "pretrained.safetensors").string();
}

std::optional<TrainConfig> StudySpec::pretrainConfig(const std::string& studyDir) const
{
    if (!pretrain)
        return std::nullopt;
    TrainConfig config = TrainConfig::fromJson(*pretrain);
    config.name = name + ": pretrain";
    config.strategy = Strategy::Conventional;
    config.model.checkpoint.clear();
    config.output = pretrainedPath(studyDir);
    config.checkpoint.dir = (fs::path(studyDir) / "pretrain" / pretrainKey() / "checkpoint").string();
    config.checkpoint.every = checkpointEvery;
    return config;
}

std::vector<StudyRun> StudySpec::expand(const std::string& studyDir) const
{
    const SpecError error("study spec " + name);
    const std::string pretrainPart = pretrain ? trainedPart(*pretrain).dump() : std::string();
    std::vector<StudyRun> runs;
    for (const StudyGroup& group : groups)
        for (const StudyLevel& level : group.levels)
            for (uint64_t seed : seeds) {
                json config = base;
                const std::string where = "groups." + group.name + " level \"" + level.label + "\"";
                applyAll(config, level.assignments, where, error);
                config["seed"] = seed;
                const std::string key = stableHash(trainedPart(config).dump() + "\n" + pretrainPart);
                const auto same = std::find_if(runs.begin(), runs.end(), [&](const StudyRun& r) { return r.key == key; });
                if (same != runs.end()) {
                    same->levels.emplace_back(group.name, level.label);
                    continue;
                }
                StudyRun run;
                run.key = key;
                run.seed = seed;
                run.levels.emplace_back(group.name, level.label);
                try {
                    run.config = TrainConfig::fromJson(config);
                } catch (const std::invalid_argument& e) {
                    error.fail(where, e.what());
                }
                run.config.name = name + ": " + group.name + " " + level.label + ", seed " + std::to_string(seed);
                run.config.checkpoint.dir = (fs::path(studyDir) / "runs" / key / "checkpoint").string();
                run.config.checkpoint.every = checkpointEvery;
                if (pretrain)
                    run.config.model.checkpoint = pretrainedPath(studyDir);
                runs.push_back(std::move(run));
            }
    return runs;
}

const std::string* levelOf(const StudyRun& run, const std::string& group)
{
    for (const auto& [name, label] : run.levels)
        if (name == group)
            return &label;
    return nullptr;
}

} // namespace dr2
