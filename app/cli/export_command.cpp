// dr2net-cli export: a recorded run's finetuned weights as safetensors, with the metadata to rebuild the network.
#include "app/cli/commands.h"

#include "app/recording/run_export.h"
#include "core/architecture_record.h"
#include "storage/run_store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct ExportArgs {
    RunExportOptions options;
    bool json = false;
};

void runExport(ExportArgs args)
{
    if (args.options.databasePath.empty())
        args.options.databasePath = RunStore::defaultPath();
    const RunExportResult result = exportRun(args.options);
    if (args.json) {
        std::cout << nlohmann::json {
            { "run_id", result.runId }, { "out", result.outPath }, { "naming", result.naming },
            { "tensors", result.tensors }, { "bytes", result.bytes }, { "sha256", result.sha256 },
            { "weights", result.weightsPath }, { "metadata", result.metadata }
        }.dump() << std::endl;
        return;
    }
    std::cout << "exported run " << result.runId << " to " << result.outPath << " (" << result.naming << " names, "
              << result.tensors << " tensors, " << result.bytes << " bytes, alpha "
              << result.metadata.at(metadata_key::kAlpha) << ", beta " << result.metadata.at(metadata_key::kBeta)
              << ", first skip " << result.metadata.at(metadata_key::kFirstSkip) << ")\nsha256 " << result.sha256
              << std::endl;
}

} // namespace

void addExportCommand(CLI::App& app)
{
    auto args = std::make_shared<ExportArgs>();
    auto* command = app.add_subcommand("export",
        "Write a recorded run's final weights as safetensors with the metadata that rebuilds the network "
        "(architecture, alpha, beta, first skip, strategy, config, source checkpoint hash, run id, version). "
        "The file loads with inspect, forward, as model.checkpoint of a train config, and in Python.");
    command->add_option("run", args->options.run, "run id or unique name (see `runs list`)")->required();
    command->add_option("--out", args->options.outPath, "the .safetensors file to write")->required();
    // The backbone's family decides which names it can write (exportRun checks, listing them).
    command
        ->add_option("--names", args->options.names,
            "tensor names: dr2 (ours); timm or torchvision (ViT, Swin); official (Swin); video-swin (Video Swin); or "
            "source (the scheme of the run's source checkpoint)")
        ->capture_default_str();
    command->add_option("--db", args->options.databasePath,
        "run database (default: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else ~/.local/share/dr2net/runs.sqlite)");
    command->add_flag("--json", args->json, "print the result as one JSON object");
    command->callback([args] { runExport(*args); });
}

} // namespace dr2::cli
