#include "training/train_config.h"

#include "core/backbone_registry.h"
#include "training/config_fields.h"
#include "training/task_registry.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace dr2 {

namespace {

using nlohmann::json;

const std::vector<std::pair<Strategy, std::string>>& strategyTable()
{
    static const std::vector<std::pair<Strategy, std::string>> table {
        { Strategy::Conventional, "conventional" },
        { Strategy::Checkpointed, "checkpointed" },
        { Strategy::Frozen, "frozen" },
        { Strategy::ReversibleScratch, "reversible-scratch" },
        { Strategy::HardFinetune, "hard-finetune" },
        { Strategy::Vanilla, "vanilla" },
        { Strategy::Dr2Net, "dr2net" },
    };
    return table;
}

[[noreturn]] void outOfRange(const std::string& field, const std::string& expected, const std::string& found)
{
    throw std::invalid_argument("config " + field + ": expected " + expected + ", found " + found);
}

std::string num(double v)
{
    std::ostringstream out;
    out << v;
    return out.str();
}

/// "a, b or c", as the messages state choices.
std::string joinChoices(const std::vector<std::string>& choices)
{
    std::string text;
    for (size_t i = 0; i < choices.size(); ++i)
        text += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    return text;
}

std::string joinComma(const std::vector<std::string>& items)
{
    std::string text;
    for (const auto& item : items)
        text += (text.empty() ? "" : ", ") + item;
    return text;
}

std::vector<std::string> splitKey(const std::string& key)
{
    std::vector<std::string> parts;
    std::stringstream stream(key);
    std::string part;
    while (std::getline(stream, part, '.'))
        parts.push_back(part);
    return parts;
}

json::json_pointer pointerOf(const std::string& key)
{
    std::string path = key;
    std::replace(path.begin(), path.end(), '.', '/');
    return json::json_pointer("/" + path);
}

template <typename T>
constexpr ConfigFieldType typeOf()
{
    if constexpr (std::is_same_v<T, bool>)
        return ConfigFieldType::Bool;
    else if constexpr (std::is_integral_v<T>)
        return ConfigFieldType::Integer;
    else if constexpr (std::is_floating_point_v<T>)
        return ConfigFieldType::Real;
    else if constexpr (std::is_same_v<T, std::string>)
        return ConfigFieldType::String;
    else
        return ConfigFieldType::IntegerList;
}

template <typename T>
std::string typeName()
{
    if constexpr (std::is_same_v<T, bool>)
        return "true or false";
    else if constexpr (std::is_integral_v<T>)
        return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
        return "a number";
    else if constexpr (std::is_same_v<T, std::string>)
        return "a string";
    else
        return "a list of integers";
}

/// An accessor through a chain of pointers to members: at(&TrainConfig::model, &TrainConfig::Model::depth)
/// maps a config to config.model.depth (const or not).
template <typename... Members>
auto at(Members... members)
{
    return [members...](auto& config) -> auto& { return (config .* ... .* members); };
}

/// Where and how a field is shown.
struct Shown {
    const char* group;
    const char* label;
    const char* help;
};

/// A field stored as its JSON type (bool, integer, number, string, integer list).
template <typename Ref>
ConfigField valueField(const std::string& key, Ref ref, const Shown& shown, json example,
    std::optional<ConfigRange> range = std::nullopt)
{
    using T = std::decay_t<decltype(ref(std::declval<TrainConfig&>()))>;
    ConfigField field;
    field.key = key;
    field.type = typeOf<T>();
    field.group = shown.group;
    field.label = shown.label;
    field.help = shown.help;
    field.range = std::move(range);
    field.example = std::move(example);
    field.get = [ref](const TrainConfig& config) { return json(ref(config)); };
    field.set = [ref, key](TrainConfig& config, const json& value) {
        try {
            ref(config) = value.template get<T>();
        } catch (const json::exception&) {
            throw std::invalid_argument("config " + key + ": expected " + typeName<T>() + ", found " + value.dump());
        }
    };
    return field;
}

/// A string field restricted to `choices` (checked by validate(), so a config built in code is checked too).
template <typename Ref>
ConfigField choiceField(const std::string& key, Ref ref, const Shown& shown,
    std::function<std::vector<std::string>()> choices, json example)
{
    ConfigField field = valueField(key, ref, shown, std::move(example));
    field.type = ConfigFieldType::Choice;
    field.choiceList = std::move(choices);
    return field;
}

/// A field stored as an enum, named in JSON by toString(value) and read with `parse`. `prefixKey`: wrap parse's
/// message in "config KEY: " (parse messages that do not name the field).
template <typename Ref, typename E>
ConfigField enumField(const std::string& key, Ref ref, const Shown& shown, std::vector<E> values,
    E (*parse)(const std::string&), bool prefixKey, json example)
{
    ConfigField field;
    field.key = key;
    field.type = ConfigFieldType::Choice;
    field.group = shown.group;
    field.label = shown.label;
    field.help = shown.help;
    field.example = std::move(example);
    field.choiceList = [values] {
        std::vector<std::string> names;
        names.reserve(values.size());
        for (E value : values)
            names.push_back(toString(value));
        return names;
    };
    field.get = [ref](const TrainConfig& config) { return json(toString(ref(config))); };
    field.set = [ref, key, parse, prefixKey](TrainConfig& config, const json& value) {
        if (!value.is_string())
            throw std::invalid_argument("config " + key + ": expected a string, found " + value.dump());
        try {
            ref(config) = parse(value.get<std::string>());
        } catch (const std::invalid_argument& e) {
            if (!prefixKey)
                throw;
            throw std::invalid_argument("config " + key + ": " + e.what());
        }
    };
    return field;
}

ConfigRange atLeast(double min, std::string expected = ">= 0")
{
    ConfigRange range;
    range.min = min;
    range.hasMin = true;
    range.expected = std::move(expected);
    return range;
}

ConfigRange above(double min, std::string expected = "> 0")
{
    ConfigRange range = atLeast(min, std::move(expected));
    range.minInclusive = false;
    return range;
}

/// [min, max) or, with `maxInclusive`, [min, max].
ConfigRange between(double min, double max, std::string expected, bool maxInclusive = false)
{
    ConfigRange range = atLeast(min, std::move(expected));
    range.max = max;
    range.hasMax = true;
    range.maxInclusive = maxInclusive;
    return range;
}

/// The first choice other than `current` (the choice itself when there is no other).
json otherChoice(const std::vector<std::string>& choices, const std::string& current)
{
    for (const auto& choice : choices)
        if (choice != current)
            return choice;
    return current;
}

std::vector<ConfigField> makeConfigFields()
{
    using C = TrainConfig;
    const char* const kRun = "Run";
    const char* const kData = "Dataset";
    const char* const kModel = "Model and resolution";
    const char* const kOptim = "Optimizer";
    const char* const kSchedule = "α/β schedule";
    const char* const kProbes = "Probes and segments";
    const char* const kOutput = "Checkpoints and output";
    const ConfigRange probability = between(0.0, 1.0, "a probability in [0, 1)");
    const TrainConfig defaults;
    return {
        valueField("name", at(&C::name), { kRun, "Name", "the run's name in the registry and reports" }, "every-field"),
        choiceField("task", at(&C::task), { kRun, "Task", "what the network learns (its head and loss)" }, taskNames,
            otherChoice(taskNames(), defaults.task)),
        enumField("strategy", at(&C::strategy), { kRun, "Strategy", "the Table 2 row: how the backbone is finetuned" },
            std::vector<Strategy> { Strategy::Conventional, Strategy::Checkpointed, Strategy::Frozen,
                Strategy::ReversibleScratch, Strategy::HardFinetune, Strategy::Vanilla, Strategy::Dr2Net },
            parseStrategy, /*prefixKey=*/true, "hard-finetune"),
        valueField("seed", at(&C::seed), { kRun, "Seed", "seeds initialisation, data order and augmentation" }, 7),
        valueField("device", at(&C::device), { kRun, "Device", "cpu, cuda or cuda:N" }, "cuda:1"),
        valueField("threads", at(&C::threads), { kRun, "Threads (0: default)", "intra-op threads; 0 keeps LibTorch's" },
            2, atLeast(0)),
        choiceField("recompute_overlap", at(&C::recomputeOverlap),
            { kRun, "Recompute overlap",
                "reversible backward: recompute branch i-1 and compute the weight gradients on a second thread while "
                "branch i back-propagates (same gradients; one more branch in memory, a peak that varies a little "
                "between runs); auto: on CPU when a core is free and the BLAS runs one thread" },
            [] { return std::vector<std::string> { "auto", "on", "off" }; }, "off"),
        valueField("world_size", at(&C::worldSize),
            { kRun, "Ranks (0: as launched)",
                "data-parallel processes, started by dr2net-cli train --nproc N or a launcher setting WORLD_SIZE; "
                "recorded with the run" },
            2, atLeast(0)),

        choiceField("data.dataset", at(&C::data, &C::Data::dataset),
            { kData, "Dataset",
                "fashion-mnist, folder (root/<class>/<image>), clips (root/<class>/<clip>/<frame>); for segmentation "
                "scenes (from Fashion-MNIST under root) or masks (root/images + root/masks)" },
            [] { return std::vector<std::string> { "fashion-mnist", "folder", "clips", "scenes", "masks" }; }, "clips"),
        valueField("data.root", at(&C::data, &C::Data::root), { kData, "Root", "the folder holding the dataset" },
            "/nonexistent/clips"),
        valueField("data.classes", at(&C::data, &C::Data::classes),
            { kData, "Classes (e.g. 5,6,7)", "subset of labels, relabelled 0..k-1 (empty: all)" }, json::array({ 1, 3 })),
        valueField("data.train_limit", at(&C::data, &C::Data::trainLimit),
            { kData, "Train images (0: all)", "use at most this many training images" }, 100),
        valueField("data.val_limit", at(&C::data, &C::Data::valLimit),
            { kData, "Validation images (0: all)", "evaluate on at most this many images" }, 50),
        valueField("data.val_fraction", at(&C::data, &C::Data::valFraction),
            { kData, "Validation fraction", "> 0: split validation off the training set instead of the test set" },
            0.25, between(0.0, 1.0, "a fraction in [0, 1)")),
        valueField("data.random_crop", at(&C::data, &C::Data::randomCrop),
            { kData, "Random crop", "augment training images with random crops" }, false),
        valueField("data.flip", at(&C::data, &C::Data::flip),
            { kData, "Horizontal flip", "augment training images with random horizontal flips" }, false),
        valueField("data.min_scale", at(&C::data, &C::Data::minScale),
            { kData, "Scale jitter min", "random rescale of training samples before the crop (segmentation)" }, 0.75,
            above(0.0)),
        valueField("data.max_scale", at(&C::data, &C::Data::maxScale),
            { kData, "Scale jitter max", "random rescale of training samples before the crop (segmentation)" }, 1.5,
            above(0.0)),
        valueField("data.scenes.train", at(&C::data, &C::Data::scenes, &C::Data::Scenes::train),
            { kData, "Training scenes", "built-in segmentation scenes to train on" }, 64, atLeast(1, ">= 1")),
        valueField("data.scenes.val", at(&C::data, &C::Data::scenes, &C::Data::Scenes::val),
            { kData, "Validation scenes", "built-in segmentation scenes to evaluate on" }, 32, atLeast(1, ">= 1")),
        valueField("data.scenes.min_items", at(&C::data, &C::Data::scenes, &C::Data::Scenes::minItems),
            { kData, "Items per scene (min)", "Fashion-MNIST items placed on each scene" }, 1, atLeast(1, ">= 1")),
        valueField("data.scenes.max_items", at(&C::data, &C::Data::scenes, &C::Data::Scenes::maxItems),
            { kData, "Items per scene (max)", "Fashion-MNIST items placed on each scene" }, 4, atLeast(1, ">= 1")),
        valueField("data.scenes.min_scale", at(&C::data, &C::Data::scenes, &C::Data::Scenes::minScale),
            { kData, "Item scale (min)", "item side in units of 28 px" }, 0.5, above(0.0)),
        valueField("data.scenes.max_scale", at(&C::data, &C::Data::scenes, &C::Data::Scenes::maxScale),
            { kData, "Item scale (max)", "item side in units of 28 px" }, 2.0, above(0.0)),
        valueField("data.workers", at(&C::data, &C::Data::workers),
            { kData, "Loader threads", "background loader threads (0: load on the training thread)" }, 3,
            between(0.0, 16.0, "0..16", /*maxInclusive=*/true)),

        valueField("model.checkpoint", at(&C::model, &C::Model::checkpoint),
            { kModel, "Checkpoint", "pretrained weights (empty: random initialisation)" },
            "/nonexistent/pretrained.safetensors"),
        choiceField("model.preset", at(&C::model, &C::Model::preset),
            { kModel, "Preset", "the backbone built from scratch (a checkpoint brings its own)" }, backbonePresetNames,
            "vit-s"),
        valueField("model.image_size", at(&C::model, &C::Model::imageSize),
            { kModel, "Image size", "input resolution in pixels (a multiple of the patch size)" }, 64),
        valueField("model.patch_size", at(&C::model, &C::Model::patchSize),
            { kModel, "Patch size", "pixels per patch side" }, 8),
        valueField("model.window_size", at(&C::model, &C::Model::windowSize),
            { kModel, "Window (0: preset)", "attention window side of a Swin backbone; a checkpoint's bias tables are resized to it" },
            6, atLeast(0)),
        valueField("model.in_channels", at(&C::model, &C::Model::inChannels),
            { kModel, "Input channels", "1 (grey) or 3 (colour)" }, 3),
        valueField("model.embed_dim", at(&C::model, &C::Model::embedDim),
            { kModel, "Embedding (0: preset)", "token width" }, 96),
        valueField("model.depth", at(&C::model, &C::Model::depth),
            { kModel, "Depth (0: preset)", "transformer blocks (Swin: over all stages, in the preset's proportions)" }, 6, atLeast(0)),
        valueField("model.heads", at(&C::model, &C::Model::heads),
            { kModel, "Heads (0: preset)", "attention heads (Swin: of stage 1, doubling per stage)" }, 3),
        valueField("model.num_frames", at(&C::model, &C::Model::numFrames),
            { kModel, "Frames (0: images)", "> 0: a video backbone over clips of this many frames (dataset clips)" }, 8),
        valueField("model.tubelet_size", at(&C::model, &C::Model::tubeletSize),
            { kModel, "Tubelet size", "frames per video token" }, 4),
        valueField("model.dropout", at(&C::model, &C::Model::dropout), { kModel, "Dropout", "dropout probability" },
            0.2, probability),
        valueField("model.drop_path", at(&C::model, &C::Model::dropPath),
            { kModel, "Drop path", "stochastic depth probability" }, 0.3, probability),
        choiceField("model.first_skip", at(&C::model, &C::Model::firstSkip),
            { kModel, "First skip", "what the first reversible block's skip carries" },
            [] { return std::vector<std::string> { "scaled", "input" }; }, "input"),
        valueField("model.reset_head", at(&C::model, &C::Model::resetHead),
            { kModel, "Reset head", "re-initialise the checkpoint's head for the new task" }, false),
        valueField("model.head_dim", at(&C::model, &C::Model::headDim),
            { kModel, "Head channels", "channels of the segmentation head (a multiple of 8)" }, 32, atLeast(8, ">= 8")),

        valueField("optim.epochs", at(&C::optim, &C::Optim::epochs), { kOptim, "Epochs", "passes over the training set" },
            3, above(0)),
        valueField("optim.batch_size", at(&C::optim, &C::Optim::batchSize),
            { kOptim, "Batch size", "images per forward pass" }, 16, above(0)),
        valueField("optim.accumulation", at(&C::optim, &C::Optim::accumulation),
            { kOptim, "Accumulation", "gradient accumulation steps per optimizer step" }, 2, above(0)),
        valueField("optim.lr", at(&C::optim, &C::Optim::lr), { kOptim, "Learning rate", "peak learning rate" }, 0.01),
        valueField("optim.min_lr", at(&C::optim, &C::Optim::minLr),
            { kOptim, "Minimum learning rate", "the cosine decay ends here" }, 0.001),
        valueField("optim.weight_decay", at(&C::optim, &C::Optim::weightDecay),
            { kOptim, "Weight decay", "AdamW decoupled weight decay" }, 0.1, atLeast(0)),
        valueField("optim.warmup_iterations", at(&C::optim, &C::Optim::warmupIterations),
            { kOptim, "Warm-up iterations", "linear learning-rate warm-up" }, 10, atLeast(0)),
        valueField("optim.clip_grad", at(&C::optim, &C::Optim::clipGrad),
            { kOptim, "Clip gradient norm", "max global gradient norm (0: off)" }, 2.5,
            atLeast(0, ">= 0 (0 turns clipping off)")),
        valueField("optim.label_smoothing", at(&C::optim, &C::Optim::labelSmoothing),
            { kOptim, "Label smoothing", "of the training loss" }, 0.2, between(0.0, 1.0, "in [0, 1)")),
        enumField("optim.precision", at(&C::optim, &C::Optim::precision),
            { kOptim, "Precision", "what the branches compute in (autocast); streams stay float32" }, allPrecisions(),
            parsePrecisionName, /*prefixKey=*/true, "bf16"),

        valueField("schedule.start.alpha", at(&C::schedule, &ScheduleOptions::start, &Coefficients::alpha),
            { kSchedule, "Start α", "α at iteration 0" }, 0.9),
        valueField("schedule.start.beta", at(&C::schedule, &ScheduleOptions::start, &Coefficients::beta),
            { kSchedule, "Start β", "β at iteration 0" }, 0.2),
        valueField("schedule.end.alpha", at(&C::schedule, &ScheduleOptions::end, &Coefficients::alpha),
            { kSchedule, "End α", "α from τ on" }, 0.1),
        valueField("schedule.end.beta", at(&C::schedule, &ScheduleOptions::end, &Coefficients::beta),
            { kSchedule, "End β", "β from τ on" }, 0.9),
        valueField("schedule.tau_iterations", at(&C::schedule, &ScheduleOptions::tauIterations),
            { kSchedule, "τ (iterations)", "the end point is reached at this iteration" }, 500, above(0)),
        valueField("schedule.tau_epochs", at(&C::tauEpochs),
            { kSchedule, "τ (epochs, 0: iterations)", "> 0: τ = tau_epochs × iterations per epoch" }, 1.5,
            atLeast(0, ">= 0 (0: use tau_iterations)")),
        valueField("schedule.eta", at(&C::schedule, &ScheduleOptions::eta),
            { kSchedule, "η (update every)", "coefficients change only at multiples of η" }, 5, above(0)),
        enumField("schedule.policy", at(&C::schedule, &ScheduleOptions::policy),
            { kSchedule, "Policy", "how the coefficients travel from start to end" },
            std::vector<SchedulePolicy> { SchedulePolicy::Linear, SchedulePolicy::Exponential,
                SchedulePolicy::Logarithmic },
            parseSchedulePolicy, /*prefixKey=*/false, "exponential"),
        enumField("schedule.order", at(&C::schedule, &ScheduleOptions::order),
            { kSchedule, "Order", "which coefficient moves when" },
            std::vector<ScheduleOrder> { ScheduleOrder::Simultaneous, ScheduleOrder::AlphaFirst,
                ScheduleOrder::BetaFirst },
            parseScheduleOrder, /*prefixKey=*/false, "alpha-first"),
        valueField("schedule.curvature", at(&C::schedule, &ScheduleOptions::curvature),
            { kSchedule, "Curvature", "k of the exponential and logarithmic policies" }, 2.0),
        valueField("schedule.auto_end.enabled", at(&C::autoEnd, &C::AutoEnd::enabled),
            { kSchedule, "Auto end point", "choose the end point from gradient probes" }, true),
        valueField("schedule.auto_end.target_mse", at(&C::autoEnd, &C::AutoEnd::targetMse),
            { kSchedule, "Auto end target MSE", "the gradient error the end point may reach" }, 1e-6),
        valueField("schedule.auto_end.points", at(&C::autoEnd, &C::AutoEnd::points),
            { kSchedule, "Auto end points", "probed points along the path" }, 5),

        valueField("probe.every", at(&C::probe, &C::Probe::every),
            { kProbes, "Probe every (0: never)", "probe the gradient error every K iterations" }, 20, atLeast(0)),
        valueField("segments.every", at(&C::segments, &C::Segments::every),
            { kProbes, "Segment length (0: default)",
                "fixed segment length in branches (0: one segment; checkpointed: about √N branches per stage of N)" },
            2, atLeast(0)),
        valueField("segments.error_target", at(&C::segments, &C::Segments::errorTarget),
            { kProbes, "Segment error target", "> 0: choose the segment length to keep the MSE below this" }, 1e-5,
            atLeast(0)),

        valueField("checkpoint.dir", at(&C::checkpoint, &C::Checkpoint::dir),
            { kOutput, "Checkpoint folder", "where resumable checkpoints go (empty: none)" }, "/nonexistent/ck"),
        valueField("checkpoint.every", at(&C::checkpoint, &C::Checkpoint::every),
            { kOutput, "Checkpoint every", "iterations between checkpoints (0: only at the end)" }, 100, atLeast(0)),
        valueField("output", at(&C::output),
            { kOutput, "Output", "pretrain: where the final safetensors checkpoint is written" },
            "/nonexistent/out.safetensors"),
    };
}

/// Lookups over configFields(): fields by key and the keys inside each object.
struct ConfigIndex {
    std::map<std::string, const ConfigField*> fields;
    std::map<std::string, std::set<std::string>> children; ///< object key ("" root) → its keys

    ConfigIndex()
    {
        for (const ConfigField& field : configFields()) {
            fields[field.key] = &field;
            std::string parent;
            for (const std::string& part : splitKey(field.key)) {
                children[parent].insert(part);
                parent = parent.empty() ? part : parent + "." + part;
            }
        }
    }
};

const ConfigIndex& configIndex()
{
    static const ConfigIndex index;
    return index;
}

/// Structure of the JSON against the table: objects where the table has groups, no unknown keys.
void checkObject(const json& node, const std::string& path)
{
    if (!node.is_object())
        throw std::invalid_argument("config " + (path.empty() ? std::string("root") : path)
            + ": expected an object, found " + node.type_name());
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = path.empty() ? it.key() : path + "." + it.key();
        // A key holding a dot ("model.depth" at the root) is no field, whatever it spells.
        const bool plain = !it.key().empty() && it.key().find('.') == std::string::npos;
        if (plain && findConfigField(key))
            continue;
        if (plain && isConfigGroupKey(key)) {
            if (!it->is_null())
                checkObject(*it, key);
            continue;
        }
        throw std::invalid_argument(
            "config " + key + ": unknown key (known here: " + joinComma(configKeysUnder(path)) + ")");
    }
}

/// The value at a dotted key; null when it (or an object on the way) is absent or null.
const json* findValue(const json& root, const std::string& key)
{
    const json* node = &root;
    for (const std::string& part : splitKey(key)) {
        if (!node->is_object())
            return nullptr;
        auto it = node->find(part);
        if (it == node->end() || it->is_null())
            return nullptr;
        node = &*it;
    }
    return node;
}

} // namespace

bool ConfigRange::contains(double value) const
{
    if (hasMin && (minInclusive ? value < min : value <= min))
        return false;
    if (hasMax && (maxInclusive ? value > max : value >= max))
        return false;
    return true;
}

const std::vector<ConfigField>& configFields()
{
    static const std::vector<ConfigField> fields = makeConfigFields();
    return fields;
}

const ConfigField* findConfigField(const std::string& key)
{
    const auto& fields = configIndex().fields;
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : it->second;
}

bool isConfigGroupKey(const std::string& key)
{
    return configIndex().children.count(key) > 0;
}

std::vector<std::string> configKeysUnder(const std::string& key)
{
    const auto& children = configIndex().children;
    auto it = children.find(key);
    return it == children.end() ? std::vector<std::string> {}
                                : std::vector<std::string>(it->second.begin(), it->second.end());
}

std::string configValueText(const json& value)
{
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_array()) {
        std::string text;
        for (const auto& item : value)
            text += (text.empty() ? "" : ",") + configValueText(item);
        return text;
    }
    return value.dump();
}

std::vector<std::pair<std::string, std::string>> configSummary(const TrainConfig& config)
{
    std::vector<std::pair<std::string, std::string>> lines;
    for (const ConfigField& field : configFields())
        lines.emplace_back(field.key, configValueText(field.get(config)));
    return lines;
}

Strategy parseStrategy(const std::string& name)
{
    for (const auto& [strategy, text] : strategyTable())
        if (text == name)
            return strategy;
    std::string names;
    for (const auto& n : strategyNames())
        names += (names.empty() ? "" : ", ") + n;
    throw std::invalid_argument("strategy '" + name + "': expected one of " + names);
}

std::string toString(Strategy strategy)
{
    for (const auto& [s, text] : strategyTable())
        if (s == strategy)
            return text;
    return "?";
}

std::vector<std::string> strategyNames()
{
    std::vector<std::string> names;
    for (const auto& entry : strategyTable())
        names.push_back(entry.second);
    return names;
}

bool isReversible(Strategy strategy)
{
    return strategy == Strategy::ReversibleScratch || strategy == Strategy::HardFinetune
        || strategy == Strategy::Vanilla || strategy == Strategy::Dr2Net;
}

TrainConfig TrainConfig::fromJson(const json& root, InputCheck inputs)
{
    checkObject(root, "");
    TrainConfig c;
    for (const ConfigField& field : configFields())
        if (const json* value = findValue(root, field.key))
            field.set(c, *value);
    c.validate();
    if (inputs == InputCheck::Check)
        c.checkInputs();
    return c;
}

void TrainConfig::validate() const
{
    if (name.empty())
        outOfRange("name", "a non-empty string", "\"\"");
    // The bounds and choices the table declares; the rules across fields follow.
    for (const ConfigField& field : configFields()) {
        const json value = field.get(*this);
        if (field.range && value.is_number() && !field.range->contains(value.get<double>()))
            outOfRange(field.key, field.range->expected, value.is_number_float() ? num(value.get<double>()) : value.dump());
        if (field.type == ConfigFieldType::Choice && value.is_string()) {
            const std::vector<std::string> choices = field.choices();
            if (std::find(choices.begin(), choices.end(), value.get<std::string>()) == choices.end())
                outOfRange(field.key, joinChoices(choices), value.dump());
        }
    }
    if (model.imageSize <= 0 || model.patchSize <= 0 || model.imageSize % model.patchSize != 0)
        outOfRange("model.image_size", "a positive multiple of model.patch_size " + std::to_string(model.patchSize),
            std::to_string(model.imageSize));
    if (model.inChannels != 1 && model.inChannels != 3)
        outOfRange("model.in_channels", "1 or 3", std::to_string(model.inChannels));
    if ((data.dataset == "clips") != (model.numFrames > 0))
        outOfRange("model.num_frames", "> 0 exactly when data.dataset is clips", std::to_string(model.numFrames));
    if (model.numFrames < 0 || model.tubeletSize <= 0 || (model.numFrames > 0 && model.numFrames % model.tubeletSize))
        outOfRange("model.num_frames", "a positive multiple of model.tubelet_size " + std::to_string(model.tubeletSize),
            std::to_string(model.numFrames));
    if (model.headDim % 8 != 0)
        outOfRange("model.head_dim", "a multiple of 8 (the head's GroupNorm has 8 groups)", std::to_string(model.headDim));
    if (data.minScale > data.maxScale)
        outOfRange("data.min_scale", "<= data.max_scale " + num(data.maxScale), num(data.minScale));
    if (data.scenes.minItems > data.scenes.maxItems)
        outOfRange("data.scenes.min_items", "<= data.scenes.max_items " + std::to_string(data.scenes.maxItems),
            std::to_string(data.scenes.minItems));
    if (data.scenes.minScale > data.scenes.maxScale)
        outOfRange("data.scenes.min_scale", "<= data.scenes.max_scale " + num(data.scenes.maxScale),
            num(data.scenes.minScale));
    if (data.trainLimit < 0 || data.valLimit < 0)
        outOfRange("data.train_limit/val_limit", ">= 0", std::to_string(std::min(data.trainLimit, data.valLimit)));
    for (int64_t label : data.classes)
        if (label < 0)
            outOfRange("data.classes", "non-negative labels", std::to_string(label));
    if (!(optim.lr > 0) || !std::isfinite(optim.lr))
        outOfRange("optim.lr", "a finite number > 0", num(optim.lr));
    if (optim.minLr < 0 || optim.minLr > optim.lr)
        outOfRange("optim.min_lr", "in [0, optim.lr]", num(optim.minLr));
    // CPU autocast computes bfloat16 only, and float16 without loss scaling underflows small gradients: fp16 is a
    // CUDA-only choice (the Trainer scales the loss there). "auto" is checked once the device is resolved.
    if (optim.precision == Precision::Float16 && device.rfind("cpu", 0) == 0)
        outOfRange("optim.precision", "fp32 or bf16 on device " + device + " (fp16 needs a CUDA device)", "\"fp16\"");

    auto checkPoint = [&](const char* field, const Coefficients& c) {
        if (c.alpha < 0 || c.alpha > 1)
            outOfRange(std::string("schedule.") + field + ".alpha", "α in [0, 1]", num(c.alpha));
        const bool reversible = isReversible(strategy);
        if (reversible ? (c.beta <= 0 || c.beta > 1) : (c.beta < 0 || c.beta > 1))
            outOfRange(std::string("schedule.") + field + ".beta",
                reversible ? "β in (0, 1] for a reversible strategy" : "β in [0, 1]", num(c.beta));
    };
    if (strategy == Strategy::Dr2Net) {
        checkPoint("start", schedule.start);
        checkPoint("end", schedule.end);
    }
    if (autoEnd.enabled && (!(autoEnd.targetMse > 0) || autoEnd.points < 2))
        outOfRange("schedule.auto_end", "target_mse > 0 and points >= 2",
            num(autoEnd.targetMse) + ", " + std::to_string(autoEnd.points));
}

void TrainConfig::checkInputs() const
{
    if (!model.checkpoint.empty()) {
        std::ifstream file(model.checkpoint, std::ios::binary);
        if (!file)
            outOfRange("model.checkpoint", "a readable file", "\"" + model.checkpoint + "\"");
    }
    std::error_code error;
    if (!std::filesystem::is_directory(data.root, error))
        outOfRange("data.root", "an existing directory", "\"" + data.root + "\"");
}

json TrainConfig::toJson() const
{
    json out = json::object();
    for (const ConfigField& field : configFields())
        out[pointerOf(field.key)] = field.get(*this);
    return out;
}

void applyOverride(json& root, const std::string& assignment)
{
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("--set '" + assignment + "': expected key.path=value");
    const std::string path = assignment.substr(0, eq);
    const std::string text = assignment.substr(eq + 1);
    json value;
    try {
        value = json::parse(text);
    } catch (const json::exception&) {
        value = text; // a bare word such as dr2net is a string
    }
    json* node = &root;
    std::stringstream parts(path);
    std::string part;
    std::vector<std::string> keys;
    while (std::getline(parts, part, '.'))
        keys.push_back(part);
    if (path.back() == '.')
        keys.emplace_back();
    for (const std::string& key : keys)
        if (key.empty())
            throw std::invalid_argument("--set '" + assignment + "': empty key in '" + path + "'");
    if (const ConfigField* field = findConfigField(path)) {
        // A name or path that reads as JSON (2024, true, null) is still meant as text.
        if ((field->type == ConfigFieldType::String || field->type == ConfigFieldType::Choice) && !value.is_string())
            value = text;
    } else if (!isConfigGroupKey(path)) {
        std::string parent;
        for (const std::string& key : keys) {
            const std::string next = parent.empty() ? key : parent + "." + key;
            if (!isConfigGroupKey(next))
                break;
            parent = next;
        }
        throw std::invalid_argument("--set '" + assignment + "': unknown key '" + path + "' (known "
            + (parent.empty() ? std::string("at the top level") : "in " + parent) + ": "
            + joinComma(configKeysUnder(parent)) + ")");
    }
    for (size_t i = 0; i < keys.size(); ++i) {
        if (node->is_null())
            *node = json::object();
        if (!node->is_object())
            throw std::invalid_argument("--set '" + assignment + "': '" + keys[i - 1] + "' is not an object");
        node = &(*node)[keys[i]];
    }
    *node = value;
}

TrainConfig TrainConfig::load(const std::string& path, const std::vector<std::string>& overrides, InputCheck inputs)
{
    json root = json::object();
    if (!path.empty()) {
        std::ifstream file(path);
        if (!file)
            throw std::invalid_argument("config file '" + path + "': cannot open");
        try {
            root = json::parse(file, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
        } catch (const json::parse_error& e) {
            throw std::invalid_argument("config file '" + path + "': invalid JSON (" + e.what() + ")");
        }
    }
    for (const auto& assignment : overrides)
        applyOverride(root, assignment);
    return fromJson(root, inputs);
}

} // namespace dr2
