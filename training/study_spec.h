#pragma once

#include "training/train_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// One level of a study group: a label for people and the config assignments that make it ("key.path=json").
struct StudyLevel {
    std::string label; ///< e.g. "vanilla, one segment", "alpha-first", "5"
    std::vector<std::string> assignments; ///< applied to the base config, in order (applyOverride's syntax)
};

/// One factor a study varies, the others held at the base config (the paper's tables vary one thing at a time).
struct StudyGroup {
    std::string name; ///< e.g. "strategy", "order"; [A-Za-z0-9_.-]
    std::string title; ///< for the report, e.g. "Schedule order (paper Tables 8-10)"
    std::vector<StudyLevel> levels;
};

/// How a claim compares the value of `better` with the value of `than`.
enum class ClaimRelation {
    Above, ///< better is better by more than the tolerance ("dynamic ≫ vanilla")
    AtLeast, ///< better is not worse by more than the tolerance ("small η ≥ large η")
    About, ///< the two are within the tolerance of each other ("Dr²Net ≈ conventional")
};

/// "above" | "at_least" | "about".
std::string toString(ClaimRelation relation);

/// One of the paper's orderings, checked on a study's runs.
struct StudyClaim {
    std::string name; ///< e.g. "dynamic > vanilla"
    std::string paper; ///< where the paper makes it, e.g. "Tables 5-7"
    std::string group; ///< the group whose levels it compares
    std::string better; ///< level label
    std::string than; ///< level label
    /// What is compared: "primary" (the best value of the task's primary metric over the run), "final_<metric>",
    /// "peak_step_bytes" or "seconds_per_iteration". Better means higher for a metric that is higher-is-better,
    /// lower for losses, errors, memory and time.
    std::string metric = "primary";
    ClaimRelation relation = ClaimRelation::Above;
    /// In the metric's unit (a fraction for top-1: 0.01 is one point; a ratio for memory and time: 0.5 means
    /// "better is at most half of than" for Above).
    double tolerance = 0.0;
};

/// One run a study needs: a config, and the group levels it stands for (a config shared by several groups, such
/// as the base point of each ablation, is one run).
struct StudyRun {
    /// Stable over reruns and machines: a hash of what the run trains (its config without name and paths, and the
    /// pretraining it starts from). A study knows a recorded run by it.
    std::string key;
    uint64_t seed = 0;
    /// (group name, level label) pairs this run stands for, in spec order.
    std::vector<std::pair<std::string, std::string>> levels;
    TrainConfig config; ///< name, checkpoint directory and pretrained checkpoint filled in for the study folder
};

/// A study: a base config, groups of levels, seeds and the claims to check, read from a JSON spec
/// (resources/studies/*.json; the format is described in resources/studies/README.md).
///
/// Paths in a spec (configs) are relative to the spec's folder. `quick` applies the spec's "quick" profile (fewer
/// seeds, smaller data, fewer iterations), which is another study (its own name and runs).
struct StudySpec { // NOLINT(bugprone-exception-escape): nlohmann::json members are not noexcept-constructible
    std::string name; ///< with "-quick" appended for the quick profile
    std::string description;
    std::string file; ///< the spec it was read from (empty when parsed from JSON)
    bool quick = false;
    nlohmann::json base; ///< base finetune config (JSON, the profile's assignments applied)
    std::optional<nlohmann::json> pretrain; ///< a conventional pretraining run the finetunes start from
    std::vector<uint64_t> seeds;
    std::vector<StudyGroup> groups;
    std::vector<StudyClaim> claims;
    /// Iterations between a run's resumable checkpoints (a killed study loses at most this many per run).
    int64_t checkpointEvery = 25;

    /// Reads and validates a spec file; throws std::invalid_argument naming the file and the field.
    static StudySpec load(const std::string& path, bool quick);
    /// The spec file `specOrName` names: an existing file (or anything that looks like a path) as given, else the
    /// built-in study of that name (builtInFolders()/NAME.json). Throws std::invalid_argument listing the built-in
    /// studies when there is none.
    static std::string resolve(const std::string& specOrName);
    /// Where built-in specs are looked for: the source tree's resources/studies (a developer's build), then the
    /// installed share/dr2net/studies; only folders that exist.
    static std::vector<std::string> builtInFolders();
    /// The names of the built-in specs (e.g. "paper-ablations", "paper-table2"), sorted, each once.
    static std::vector<std::string> builtInNames();
    /// A study's folder when none is given: studies/NAME beside the run database.
    static std::string defaultDirectory(const std::string& databasePath, const std::string& studyName);
    /// Parses a spec; relative config paths are resolved against `folder`.
    static StudySpec fromJson(const nlohmann::json& json, const std::string& folder, bool quick);

    /// The tag every run of this study carries ("study:NAME").
    std::string tag() const;
    /// The tag a run carries for its key ("study-run:KEY").
    static std::string runTag(const std::string& key);

    /// The pretraining run's key (a hash of what it trains, like StudyRun::key); empty without a pretraining step.
    std::string pretrainKey() const;
    /// Where the pretraining run of a study folder writes its weights: STUDY_DIR/pretrain/KEY/pretrained.safetensors
    /// (keyed, so an edited pretraining section makes new weights instead of reusing stale ones); empty without one.
    std::string pretrainedPath(const std::string& studyDir) const;
    /// The pretraining run's config for a study folder (output: pretrainedPath(), checkpoints in
    /// STUDY_DIR/pretrain/KEY/checkpoint); nullopt without a pretraining step.
    std::optional<TrainConfig> pretrainConfig(const std::string& studyDir) const;
    /// Every run of the study (groups × levels × seeds, shared configs once), in spec order, with paths under
    /// `studyDir` (STUDY_DIR/runs/KEY/checkpoint). Throws std::invalid_argument naming the group and level
    /// whose assignments make an invalid config.
    std::vector<StudyRun> expand(const std::string& studyDir) const;
};

/// The level of `group` a run stands for, or nullptr.
const std::string* levelOf(const StudyRun& run, const std::string& group);

} // namespace dr2
