#pragma once

#include "core/state_dict.h"

#include <cstdint>
#include <string>

namespace dr2 {

/// What to export: a recorded run's final weights, to a safetensors file.
struct RunExportOptions {
    std::string databasePath; ///< the run database
    std::string run; ///< run id or unique name
    std::string outPath; ///< the .safetensors file to write (atomically)
    std::string names = "dr2"; ///< "dr2", "timm", "torchvision", or "source" (the source checkpoint's scheme)
};

/// What exportRun wrote.
struct RunExportResult {
    int64_t runId = 0;
    std::string weightsPath; ///< the run's final weights that were exported
    std::string outPath;
    std::string naming = "dr2"; ///< the naming scheme written
    int64_t tensors = 0;
    int64_t bytes = 0;
    std::string sha256; ///< of the written file
    Metadata metadata; ///< what the file's __metadata__ holds
};

/// Exports the final weights recorded for a run (its `weights` artifact, checked against the recorded SHA-256)
/// with the names of `options.names` (one of the backbone family's namings) and metadata that rebuilds the network:
/// the ArchitectureRecord (`dr2net.family`, `dr2net.architecture` JSON, `dr2net.alpha`, `dr2net.beta`,
/// `dr2net.first_skip`, `dr2net.task`), `num_heads` when the weights carry it, `dr2net.naming`, `dr2net.strategy`,
/// `dr2net.run_id`, `dr2net.run_name`, `dr2net.config` (the run's full config JSON), `dr2net.source_checkpoint`,
/// `dr2net.source_sha256`, `dr2net.weights_sha256`, `dr2net.version`, `dr2net.exported_at`. The file is written
/// to a temporary name, flushed and renamed: on failure (full disk, file-size limit, unwritable folder) one
/// error names the path and cause and no file is left. The export is recorded as an `export` artifact.
RunExportResult exportRun(const RunExportOptions& options);

} // namespace dr2
