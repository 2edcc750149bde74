#include "core/architecture_record.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace dr2 {

namespace {

// The keys that must be present; task is optional (older files lack it).
const std::vector<std::string>& requiredKeys()
{
    static const std::vector<std::string> keys { metadata_key::kArchitecture, metadata_key::kAlpha,
        metadata_key::kBeta, metadata_key::kFirstSkip };
    return keys;
}

double readNumber(const Metadata& metadata, const char* key, const std::string& source)
{
    const std::string& text = metadata.at(key);
    const auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!value.is_number())
        throw std::runtime_error(source + ": metadata " + key + ": expected a number, found '" + text + "'");
    return value.get<double>();
}

} // namespace

void ArchitectureRecord::writeTo(Metadata& metadata) const
{
    metadata[metadata_key::kFamily] = family;
    metadata[metadata_key::kArchitecture] = architectureJson;
    // Shortest round-trip text (std::to_string keeps 6 decimals, which changes a mid-schedule α or β).
    metadata[metadata_key::kAlpha] = nlohmann::json(alpha).dump();
    metadata[metadata_key::kBeta] = nlohmann::json(beta).dump();
    metadata[metadata_key::kFirstSkip] = toString(firstSkip);
    if (!task.empty())
        metadata[metadata_key::kTask] = task;
    if (!classNames.empty())
        metadata[metadata_key::kClasses] = nlohmann::json(classNames).dump();
}

bool ArchitectureRecord::presentIn(const Metadata& metadata)
{
    for (const auto& key : requiredKeys())
        if (!metadata.count(key))
            return false;
    return true;
}

ArchitectureRecord ArchitectureRecord::readFrom(const Metadata& metadata, const std::string& source)
{
    for (const auto& key : requiredKeys())
        if (!metadata.count(key))
            throw std::runtime_error(source + ": metadata lacks " + key + " (not a Dr²Net export, or written by an "
                + "older version)");
    ArchitectureRecord record;
    record.architectureJson = metadata.at(metadata_key::kArchitecture);
    const auto architecture = nlohmann::json::parse(record.architectureJson, nullptr, /*allow_exceptions=*/false);
    if (!architecture.is_object())
        throw std::runtime_error(source + ": metadata " + std::string(metadata_key::kArchitecture)
            + ": expected a JSON object, found '" + record.architectureJson + "'");
    auto family = metadata.find(metadata_key::kFamily);
    if (family != metadata.end())
        record.family = family->second;
    else if (architecture.contains("family") && architecture["family"].is_string())
        record.family = architecture["family"].get<std::string>();
    record.alpha = readNumber(metadata, metadata_key::kAlpha, source);
    record.beta = readNumber(metadata, metadata_key::kBeta, source);
    try {
        record.firstSkip = parseFirstSkip(metadata.at(metadata_key::kFirstSkip));
    } catch (const std::invalid_argument& error) {
        throw std::runtime_error(source + ": metadata " + std::string(metadata_key::kFirstSkip) + ": " + error.what());
    }
    auto task = metadata.find(metadata_key::kTask);
    if (task != metadata.end())
        record.task = task->second;
    auto classes = metadata.find(metadata_key::kClasses);
    if (classes != metadata.end()) {
        const auto names = nlohmann::json::parse(classes->second, nullptr, /*allow_exceptions=*/false);
        const bool listOfStrings = names.is_array()
            && std::all_of(names.begin(), names.end(), [](const nlohmann::json& n) { return n.is_string(); });
        if (!listOfStrings)
            throw std::runtime_error(source + ": metadata " + std::string(metadata_key::kClasses)
                + ": expected a JSON list of class names, found '" + classes->second.substr(0, 80) + "'");
        record.classNames = names.get<std::vector<std::string>>();
    }
    return record;
}

std::vector<std::string> ArchitectureRecord::keys()
{
    std::vector<std::string> all { metadata_key::kFamily };
    all.insert(all.end(), requiredKeys().begin(), requiredKeys().end());
    all.emplace_back(metadata_key::kTask);
    all.emplace_back(metadata_key::kClasses);
    return all;
}

} // namespace dr2
