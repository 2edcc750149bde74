#pragma once

#include "training/train_config.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dr2 {

/// The JSON type of a config field (what the GUI edits it with).
enum class ConfigFieldType {
    Bool, ///< true or false (a check box)
    Integer, ///< an integer
    Real, ///< a number
    String, ///< free text (a path, a name)
    IntegerList, ///< a list of integers ("5,6,7" in the form)
    Choice, ///< a string out of choices() (a combo box)
};

/// A numeric bound checked by TrainConfig::validate(); the message is "config KEY: expected TEXT, found VALUE".
struct ConfigRange {
    double min = 0.0;
    bool hasMin = false;
    bool minInclusive = true;
    double max = 0.0;
    bool hasMax = false;
    bool maxInclusive = true;
    std::string expected; ///< how the message states the bound (">= 0", "a probability in [0, 1)")

    /// True when `value` lies inside the bound.
    bool contains(double value) const;
};

/// One field of TrainConfig: its JSON key, type, bound or choices, help and GUI group, and how to read and write it.
/// fromJson, toJson, --set, the GUI form and configSummary() all iterate configFields().
// NOLINTNEXTLINE(bugprone-exception-escape): only through nlohmann::json, whose destructor may allocate (clang-tidy 14)
struct ConfigField {
    std::string key; ///< dotted JSON key ("model.image_size")
    ConfigFieldType type = ConfigFieldType::String;
    std::string group; ///< the GUI group box it is shown in ("Model and resolution")
    std::string label; ///< the GUI label ("Image size")
    std::string help; ///< one line: what it does
    std::optional<ConfigRange> range; ///< numeric bound (cross-field rules stay in TrainConfig::validate)
    std::function<std::vector<std::string>()> choiceList; ///< Choice: the allowed values
    nlohmann::json example; ///< a valid value other than the default where one exists (tests set every field to it)
    /// The field's value in `config` as JSON.
    std::function<nlohmann::json(const TrainConfig&)> get;
    /// Sets the field from JSON; throws std::invalid_argument "config KEY: expected ..., found ..." on a wrong type
    /// (or an unknown choice of an enum-valued field).
    std::function<void(TrainConfig&, const nlohmann::json&)> set;

    /// The allowed values of a Choice field (empty otherwise).
    std::vector<std::string> choices() const { return choiceList ? choiceList() : std::vector<std::string> {}; }
};

/// Every field of TrainConfig, in form order (one declaration each, in training/train_config.cpp).
const std::vector<ConfigField>& configFields();
/// The field with this dotted key, or null.
const ConfigField* findConfigField(const std::string& key);
/// True when `key` names an object holding fields ("model", "schedule.start"); "" is the root.
bool isConfigGroupKey(const std::string& key);
/// The keys directly inside the object `key` names ("" is the root), sorted: field names and object names.
std::vector<std::string> configKeysUnder(const std::string& key);

/// A config value as a report shows it: strings unquoted, lists as "5,6,7", numbers and booleans as JSON.
std::string configValueText(const nlohmann::json& value);
/// Every field of `config` as (dotted key, value text), in form order (for reports and logs).
std::vector<std::pair<std::string, std::string>> configSummary(const TrainConfig& config);

} // namespace dr2
