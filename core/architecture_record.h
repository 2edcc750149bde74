#pragma once

#include "core/dr2_stack.h"
#include "core/state_dict.h"

#include <string>
#include <vector>

namespace dr2 {

/// The metadata keys this product writes into safetensors files, in one place (export, native checkpoints,
/// loading and the tests all use these names).
namespace metadata_key {
inline constexpr const char* kFamily = "dr2net.family"; ///< backbone family, e.g. "vit"
inline constexpr const char* kArchitecture = "dr2net.architecture"; ///< the family's hyperparameters as JSON
inline constexpr const char* kAlpha = "dr2net.alpha";
inline constexpr const char* kBeta = "dr2net.beta";
inline constexpr const char* kFirstSkip = "dr2net.first_skip";
inline constexpr const char* kTask = "dr2net.task"; ///< the task whose head the file holds ("classification")
inline constexpr const char* kClasses = "dr2net.classes"; ///< JSON list of the head's class names (dense tasks)
inline constexpr const char* kStrategy = "dr2net.strategy";
inline constexpr const char* kRun = "dr2net.run"; ///< run name
inline constexpr const char* kRunId = "dr2net.run_id";
inline constexpr const char* kRunName = "dr2net.run_name";
inline constexpr const char* kIterations = "dr2net.iterations";
inline constexpr const char* kConfig = "dr2net.config";
inline constexpr const char* kNaming = "dr2net.naming";
inline constexpr const char* kSourceCheckpoint = "dr2net.source_checkpoint";
inline constexpr const char* kSourceSha256 = "dr2net.source_sha256";
inline constexpr const char* kWeightsSha256 = "dr2net.weights_sha256";
inline constexpr const char* kVersion = "dr2net.version";
inline constexpr const char* kExportedAt = "dr2net.exported_at";
/// What safetensors' Python loader expects for torch tensors ("format": "pt").
inline constexpr const char* kFormat = "format";
} // namespace metadata_key

/// Everything needed to rebuild a Dr²Net from exported weights: the backbone family and its hyperparameters,
/// α, β and the first-skip rule, and the task. Written by export and native checkpoints, read back by loading.
struct ArchitectureRecord {
    std::string family; ///< "vit"
    std::string architectureJson; ///< the family's hyperparameters (Backbone::architectureJson())
    double alpha = 1.0;
    double beta = 0.0;
    FirstSkip firstSkip = FirstSkip::Scaled;
    std::string task; ///< empty: unknown (files written before tasks were recorded)
    std::vector<std::string> classNames; ///< the head's classes, index → name, where the task names them; may be empty

    /// Adds the record's keys to `metadata` (α and β as shortest round-trip text).
    void writeTo(Metadata& metadata) const;
    /// Reads a record; throws std::runtime_error naming `source` and the first missing or malformed key.
    static ArchitectureRecord readFrom(const Metadata& metadata, const std::string& source);
    /// True when `metadata` holds the keys readFrom needs.
    static bool presentIn(const Metadata& metadata);
    /// The keys writeTo writes (the ones an export must carry over).
    static std::vector<std::string> keys();
};

} // namespace dr2
