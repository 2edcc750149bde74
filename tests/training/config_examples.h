#pragma once
// Configs built from the field table (training/config_fields.h), shared by the training and GUI tests.

#include "training/config_fields.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

namespace dr2::test {

/// The JSON pointer of a dotted config key ("model.image_size" → /model/image_size).
inline nlohmann::json::json_pointer pointerOf(const std::string& key)
{
    std::string path = key;
    std::replace(path.begin(), path.end(), '.', '/');
    return nlohmann::json::json_pointer("/" + path);
}

/// Every field at its declared example, so a newly declared field is covered without touching the tests.
inline nlohmann::json everyFieldAtItsExample()
{
    nlohmann::json config = nlohmann::json::object();
    for (const ConfigField& field : configFields())
        config[pointerOf(field.key)] = field.example;
    return config;
}

} // namespace dr2::test
