#include "training/model_factory.h"

#include "core/architecture_record.h"
#include "core/random_stream.h"
#include "core/safetensors.h"
#include "training/task_registry.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

namespace dr2 {

namespace {

/// The value of a described hyperparameter ("depth" → "4"), or empty.
std::string detail(const BackboneDescription& description, const std::string& key)
{
    for (const auto& [k, v] : description.details)
        if (k == key)
            return v;
    return {};
}

/// Config values the checkpoint's architecture replaces, one note each (they are not errors: the file decides).
void reportOverridden(const TrainConfig& config, const BackboneDescription& loaded, std::vector<std::string>& notes)
{
    struct Asked {
        const char* configKey;
        const char* detailKey; // as the backbone's describe() names it
        int64_t value; // 0: not set in the config
    };
    const Asked asked[] = { { "model.depth", "depth", config.model.depth },
        { "model.embed_dim", "embed dim", config.model.embedDim }, { "model.heads", "heads", config.model.heads } };
    for (const Asked& a : asked) {
        const std::string found = detail(loaded, a.detailKey);
        if (a.value != 0 && !found.empty() && found != std::to_string(a.value))
            notes.push_back("config " + std::string(a.configKey) + " " + std::to_string(a.value)
                + " not used: the checkpoint's backbone has " + a.detailKey + " " + found);
    }
}

} // namespace

std::string sourceCheckpointOf(const TrainConfig& config)
{
    return config.strategy == Strategy::ReversibleScratch ? std::string() : config.model.checkpoint;
}

BackboneSpec backboneSpecFor(const TrainConfig& config)
{
    BackboneSpec spec;
    spec.preset = config.model.preset;
    spec.depth = config.model.depth;
    spec.embedDim = config.model.embedDim;
    spec.heads = config.model.heads;
    spec.input = { config.model.inChannels, config.model.imageSize, config.model.imageSize, config.model.numFrames };
    spec.patchSize = config.model.patchSize;
    spec.window = config.model.windowSize;
    spec.tubeletSize = config.model.tubeletSize;
    spec.dropout = config.model.dropout;
    spec.dropPath = config.model.dropPath;
    spec.stack.firstSkip = parseFirstSkip(config.model.firstSkip);
    return spec;
}

BuiltNetwork buildNetwork(const TrainConfig& config, int64_t numClasses, const std::vector<std::string>& classNames)
{
    BuiltNetwork built;
    // LibTorch's module constructors draw their initial weights from the process-wide default generator: seed it
    // under its lock, so two runs started together do not interleave their draws (and nothing else is disturbed).
    SeededDefaultGenerator seeded(config.seed);

    // The weights come from sourceCheckpointOf; a strategy that starts from scratch still takes the architecture of
    // a named checkpoint, so that its baseline is the same network untrained (not the preset's default size).
    const std::string checkpoint = sourceCheckpointOf(config);
    const std::string& path = config.model.checkpoint;
    BackbonePtr backbone;
    StateDict pretrainedHead;
    const bool architectureOnly = checkpoint.empty() && !path.empty();
    if (path.empty() || (architectureOnly && !std::filesystem::exists(path))) {
        backbone = createBackbone(backboneSpecFor(config));
        built.source = "random";
        if (!path.empty())
            built.notes.push_back("warning: strategy " + toString(config.strategy) + " starts from random weights, "
                + "and the checkpoint '" + path + "' whose architecture it would take is not there: building model "
                + config.model.preset + " from the config instead");
    } else {
        built.checkpoint = checkpoint;
        BackboneLoadOptions load;
        load.loadWeights = !architectureOnly;
        load.imageSize = config.model.imageSize;
        if (config.model.numFrames > 0)
            load.numFrames = config.model.numFrames;
        if (config.model.windowSize > 0)
            load.windowSize = config.model.windowSize;
        load.numClasses = 0; // the task builds the head
        load.dropout = config.model.dropout;
        load.dropPath = config.model.dropPath;
        load.stack.firstSkip = parseFirstSkip(config.model.firstSkip);
        BackboneLoadReport report;
        backbone = loadBackbone(path, load, &report);
        const InputShape input = backbone->inputShape();
        if (input.channels != config.model.inChannels)
            throw std::invalid_argument("config model.in_channels " + std::to_string(config.model.inChannels)
                + ": the checkpoint '" + path + "' expects " + std::to_string(input.channels) + " channels");
        built.source = path + " (" + toString(report.format) + ", " + report.naming + " names)";
        if (architectureOnly) {
            built.source = "random, architecture of " + built.source;
            built.notes.push_back("strategy " + toString(config.strategy) + " starts from random weights in the "
                + "architecture of the checkpoint '" + path + "'");
        }
        reportOverridden(config, backbone->describe(), built.notes);
        built.notes.insert(built.notes.end(), report.notes.begin(), report.notes.end());
        for (const auto& name : report.unexpectedKeys)
            built.notes.push_back("warning: checkpoint tensor " + name + " is not used");
        for (const auto& name : report.nanTensors)
            built.notes.push_back("warning: checkpoint tensor " + name + " holds NaN or Inf values");
        pretrainedHead = std::move(report.headTensors);
    }
    std::shared_ptr<Task> task
        = createTask({ config.task, numClasses, config.optim.labelSmoothing, classNames, config.model.headDim });
    for (auto& note : task->buildHead(*backbone, pretrainedHead, /*reuse=*/!config.model.resetHead))
        built.notes.push_back(std::move(note));
    built.network = Network(std::move(backbone), std::move(task));
    return built;
}

void saveNativeCheckpoint(const std::string& path, NetworkImpl& network, const std::map<std::string, std::string>& extra)
{
    Metadata metadata(extra.begin(), extra.end());
    metadata[metadata_key::kFormat] = "pt";
    Backbone& backbone = network.backbone();
    ArchitectureRecord record;
    record.family = backbone.family();
    record.architectureJson = backbone.architectureJson();
    record.alpha = backbone.alpha();
    record.beta = backbone.beta();
    record.firstSkip = backbone.firstSkip();
    record.task = network.task().name();
    record.classNames = network.task().classNames();
    record.writeTo(metadata);
    writeSafetensors(path, network.exportTensors(), metadata);
}

} // namespace dr2
