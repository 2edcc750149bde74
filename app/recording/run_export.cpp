#include "app/recording/run_export.h"

#include "core/architecture_record.h"
#include "core/backbone_registry.h"
#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "core/version.h"
#include "storage/run_records.h"
#include "storage/run_store.h"
#include "storage/sha256.h"

#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace dr2 {
namespace {

    /// The newest `weights` artifact of a run.
    ArtifactRecord finalWeightsOf(RunStore& store, const RunRecord& run)
    {
        const std::vector<ArtifactRecord> artifacts = store.artifacts(run.id);
        for (auto it = artifacts.rbegin(); it != artifacts.rend(); ++it)
            if (it->kind == "weights")
                return *it;
        throw std::runtime_error("run " + std::to_string(run.id) + " ('" + run.name + "', " + toString(run.status)
            + ") in '" + store.path() + "': no final weights recorded (expected a `weights` artifact; runs record "
            "them when they finish or are cancelled, not when they fail or their process dies: resume it with "
            "`train --resume CHECKPOINT_DIR` to finish it)");
    }

    std::string chooseNaming(const std::string& names, const RunRecord& run, const BackboneFamily& family)
    {
        if (names != "source") {
            for (const auto& naming : family.namings)
                if (naming == names)
                    return naming;
            std::string known;
            for (const auto& naming : family.namings)
                known += (known.empty() ? "" : ", ") + naming;
            throw std::invalid_argument("naming scheme '" + names + "': expected " + known + " or source");
        }
        if (run.sourceCheckpoint.empty())
            throw std::invalid_argument("--names source: run " + std::to_string(run.id)
                + " was not started from a checkpoint; choose one of the family's namings");
        const LoadedCheckpoint source = readCheckpoint(run.sourceCheckpoint);
        return family.detectNaming(source.tensors, run.sourceCheckpoint);
    }

} // namespace

RunExportResult exportRun(const RunExportOptions& options)
{
    if (options.outPath.empty())
        throw std::invalid_argument("export: give the file to write (--out FILE.safetensors)");
    RunStore store(options.databasePath, /*createIfMissing=*/false);
    const RunRecord run = store.resolveRun(options.run);
    const ArtifactRecord weights = finalWeightsOf(store, run);
    if (!fs::exists(weights.path))
        throw std::runtime_error("run " + std::to_string(run.id) + ": its final weights '" + weights.path
            + "' are gone (moved or deleted since the run)");
    const std::string actualSha = sha256OfFile(weights.path);
    if (!weights.sha256.empty() && actualSha != weights.sha256)
        throw std::runtime_error("run " + std::to_string(run.id) + ": final weights '" + weights.path
            + "' changed since they were recorded: SHA-256 expected " + weights.sha256 + ", found " + actualSha);
    std::error_code error;
    if (fs::equivalent(weights.path, options.outPath, error))
        throw std::invalid_argument("export: --out '" + options.outPath + "' is the run's own weights file");
    const fs::path parent = fs::path(options.outPath).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
        throw std::runtime_error("export of run " + std::to_string(run.id) + " to '" + options.outPath
            + "': folder '" + parent.string() + "' does not exist; no file was written");

    LoadedCheckpoint checkpoint = readCheckpoint(weights.path);
    if (!ArchitectureRecord::presentIn(checkpoint.metadata))
        throw std::runtime_error("run " + std::to_string(run.id) + ": final weights '" + weights.path
            + "' lack the dr2net.architecture / alpha / beta / first_skip metadata the export needs (not written by dr2net?)");
    const BackboneFamily& family = familyOfExport(checkpoint);
    const std::string naming = chooseNaming(options.names, run, family);
    const StateDict tensors = family.rename(checkpoint.tensors, naming);

    Metadata metadata;
    ArchitectureRecord::readFrom(checkpoint.metadata, weights.path).writeTo(metadata);
    for (const char* key : { "num_heads", metadata_key::kIterations }) {
        const auto found = checkpoint.metadata.find(key);
        if (found != checkpoint.metadata.end())
            metadata[key] = found->second;
    }
    namespace key = metadata_key;
    metadata[key::kFormat] = "pt"; // what safetensors' Python loader expects for torch tensors
    metadata[key::kNaming] = naming;
    metadata[key::kStrategy] = run.strategy;
    metadata[key::kRunId] = std::to_string(run.id);
    metadata[key::kRunName] = run.name;
    metadata[key::kConfig] = run.configJson;
    metadata[key::kSourceCheckpoint] = run.sourceCheckpoint;
    metadata[key::kSourceSha256] = run.sourceSha256;
    metadata[key::kWeightsSha256] = actualSha;
    metadata[key::kVersion] = DR2_VERSION;
    metadata[key::kExportedAt] = isoTimeNow();

    try {
        writeSafetensors(options.outPath, tensors, metadata);
    } catch (const std::exception& exception) {
        throw std::runtime_error("export of run " + std::to_string(run.id) + ": " + exception.what()
            + "; no file was written");
    }

    RunExportResult result;
    result.runId = run.id;
    result.weightsPath = weights.path;
    result.outPath = options.outPath;
    result.naming = naming;
    result.tensors = static_cast<int64_t>(tensors.size());
    result.bytes = static_cast<int64_t>(fs::file_size(options.outPath));
    result.sha256 = sha256OfFile(options.outPath);
    result.metadata = std::move(metadata);

    ArtifactRecord artifact;
    artifact.path = fs::absolute(options.outPath).lexically_normal().string();
    artifact.kind = "export";
    artifact.sha256 = result.sha256;
    artifact.bytes = result.bytes;
    store.addArtifact(run.id, artifact);
    return result;
}

} // namespace dr2
