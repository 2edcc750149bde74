// dr2net-cli inspect: what a checkpoint holds and the Dr²Net it becomes.
#include "app/cli/checkpoint_args.h"
#include "app/cli/commands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct InspectArgs {
    CheckpointArgs checkpoint;
    bool json = false;
};

/// "embed dim" → "embed_dim": the description's keys as JSON keys.
std::string jsonKey(std::string key)
{
    std::replace(key.begin(), key.end(), ' ', '_');
    return key;
}

void runInspect(const InspectArgs& args)
{
    const LoadedCheckpoint checkpoint = readCheckpoint(args.checkpoint.path);
    BackboneLoadOptions options = loadOptionsFrom(args.checkpoint);
    options.allowMissing = true; // inspect shows the gaps instead of refusing
    const CheckpointNetwork loaded = loadCheckpointNetwork(checkpoint, args.checkpoint, options);
    const BackboneLoadReport& report = loaded.report;
    const BackboneDescription description = loaded.backbone->describe();
    int64_t headParameters = 0;
    if (!loaded.network.is_empty())
        for (const auto& p : loaded.network->task().head()->parameters())
            headParameters += p.numel();

    nlohmann::ordered_json json = {
        { "path", checkpoint.path },
        { "format", toString(checkpoint.format) },
        { "naming", report.naming },
        { "family", description.family },
        // "vit" / "video_vit" as before families had names of their own; "video-swin" already says it.
        { "architecture",
            report.video && description.family.rfind("video", 0) != 0 ? "video_" + description.family
                                                                       : description.family },
        { "summary", description.summary },
    };
    for (const auto& [key, value] : description.details) {
        // Numbers stay numbers ("depth": 2); the rest ("class token", "yes") stays text.
        nlohmann::json parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
        const std::string name = json.contains(jsonKey(key)) ? "detail_" + jsonKey(key) : jsonKey(key);
        json[name] = parsed.is_number() ? parsed : nlohmann::json(value);
    }
    nlohmann::ordered_json stages = nlohmann::ordered_json::array();
    for (const auto& stage : description.stages)
        stages.push_back({ { "name", stage.name }, { "branches", stage.branches }, { "width", stage.width },
            { "stride", stage.stride } });
    json["stages"] = stages;
    json["checkpoint_image_size"] = report.checkpointImageSize;
    json["num_classes"] = loaded.numClasses;
    json["checkpoint_num_classes"] = report.checkpointNumClasses;
    json["tensors"] = checkpoint.tensors.size();
    json["file_parameters"] = report.fileParameters;
    json["backbone_parameters"] = description.parameters;
    json["model_parameters"] = description.parameters + headParameters;
    json["branches"] = description.branches();
    json["head_replaced"] = loaded.numClasses != report.checkpointNumClasses;
    json["missing_keys"] = report.missingKeys;
    json["unexpected_keys"] = report.unexpectedKeys;
    json["nan_tensors"] = report.nanTensors;
    std::vector<std::string> notes = report.notes;
    notes.insert(notes.end(), loaded.headNotes.begin(), loaded.headNotes.end());
    json["notes"] = notes;
    json["metadata"] = checkpoint.metadata;
    if (args.json) {
        std::cout << json.dump() << std::endl;
        return;
    }
    for (const auto& [key, value] : json.items()) {
        if (key == "stages") {
            std::cout << "stages: " << description.stages.size() << "\n";
            for (const auto& stage : description.stages)
                std::cout << "  " << stage.name << ": " << stage.branches << " branches, width " << stage.width
                          << ", stride " << stage.stride << "\n";
            continue;
        }
        if ((value.is_array() || value.is_object()) && value.empty())
            continue;
        std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
    std::cout.flush();
    printLoadWarnings(report);
}

} // namespace

void addInspectCommand(CLI::App& app)
{
    auto args = std::make_shared<InspectArgs>();
    CLI::App* command = app.add_subcommand("inspect",
        "Show a checkpoint's format, naming, backbone family, stages, inferred hyperparameters, sizes and metadata");
    addCheckpointOptions(*command, args->checkpoint);
    command->add_flag("--json", args->json, "one JSON object on stdout");
    command->callback([args] { runInspect(*args); });
}

} // namespace dr2::cli
