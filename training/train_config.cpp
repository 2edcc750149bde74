#include "training/train_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace dr2 {

namespace {

using nlohmann::json;

const std::vector<std::pair<Strategy, std::string>>& strategyTable()
{
    static const std::vector<std::pair<Strategy, std::string>> table {
        { Strategy::Conventional, "conventional" },
        { Strategy::Frozen, "frozen" },
        { Strategy::ReversibleScratch, "reversible-scratch" },
        { Strategy::HardFinetune, "hard-finetune" },
        { Strategy::Vanilla, "vanilla" },
        { Strategy::Dr2Net, "dr2net" },
    };
    return table;
}

/// Reads fields of one JSON object, remembering which keys were used so leftovers can be reported.
class FieldReader {
public:
    FieldReader(const json& object, std::string path)
        : m_object(object)
        , m_path(std::move(path))
    {
        if (!m_object.is_object())
            throw std::invalid_argument("config " + (m_path.empty() ? std::string("root") : m_path)
                + ": expected an object, found " + m_object.type_name());
    }

    template <typename T>
    void read(const char* key, T& target)
    {
        m_used.insert(key);
        auto it = m_object.find(key);
        if (it == m_object.end() || it->is_null())
            return;
        try {
            target = it->template get<T>();
        } catch (const json::exception&) {
            throw std::invalid_argument("config " + field(key) + ": expected " + typeName<T>() + ", found "
                + it->dump());
        }
    }

    /// A nested object (absent: an empty object).
    FieldReader child(const char* key)
    {
        m_used.insert(key);
        auto it = m_object.find(key);
        static const json empty = json::object();
        return FieldReader(it == m_object.end() || it->is_null() ? empty : *it, field(key));
    }

    void rejectUnknown() const
    {
        for (auto it = m_object.begin(); it != m_object.end(); ++it) {
            if (!m_used.count(it.key())) {
                std::string known;
                for (const auto& k : m_used)
                    known += (known.empty() ? "" : ", ") + k;
                throw std::invalid_argument("config " + field(it.key().c_str()) + ": unknown key (known here: " + known + ")");
            }
        }
    }

    std::string field(const char* key) const { return m_path.empty() ? key : m_path + "." + key; }

private:
    template <typename T>
    static std::string typeName()
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

    const json& m_object;
    std::string m_path;
    std::set<std::string> m_used;
};

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

} // namespace

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

TrainConfig TrainConfig::fromJson(const json& root)
{
    TrainConfig c;
    FieldReader r(root, "");
    std::string strategy = toString(c.strategy);
    r.read("name", c.name);
    r.read("strategy", strategy);
    r.read("seed", c.seed);
    r.read("device", c.device);
    r.read("threads", c.threads);
    r.read("output", c.output);
    try {
        c.strategy = parseStrategy(strategy);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("config strategy: ") + e.what());
    }

    auto m = r.child("model");
    m.read("preset", c.model.preset);
    m.read("checkpoint", c.model.checkpoint);
    m.read("depth", c.model.depth);
    m.read("embed_dim", c.model.embedDim);
    m.read("heads", c.model.heads);
    m.read("image_size", c.model.imageSize);
    m.read("patch_size", c.model.patchSize);
    m.read("in_channels", c.model.inChannels);
    m.read("num_frames", c.model.numFrames);
    m.read("tubelet_size", c.model.tubeletSize);
    m.read("dropout", c.model.dropout);
    m.read("drop_path", c.model.dropPath);
    m.read("first_skip", c.model.firstSkip);
    m.read("reset_head", c.model.resetHead);
    m.rejectUnknown();

    auto d = r.child("data");
    d.read("dataset", c.data.dataset);
    d.read("root", c.data.root);
    d.read("classes", c.data.classes);
    d.read("train_limit", c.data.trainLimit);
    d.read("val_limit", c.data.valLimit);
    d.read("val_fraction", c.data.valFraction);
    d.read("random_crop", c.data.randomCrop);
    d.read("flip", c.data.flip);
    d.read("workers", c.data.workers);
    d.rejectUnknown();

    auto o = r.child("optim");
    o.read("epochs", c.optim.epochs);
    o.read("batch_size", c.optim.batchSize);
    o.read("accumulation", c.optim.accumulation);
    o.read("lr", c.optim.lr);
    o.read("min_lr", c.optim.minLr);
    o.read("weight_decay", c.optim.weightDecay);
    o.read("warmup_iterations", c.optim.warmupIterations);
    o.read("clip_grad", c.optim.clipGrad);
    o.read("label_smoothing", c.optim.labelSmoothing);
    o.rejectUnknown();

    auto s = r.child("schedule");
    auto start = s.child("start");
    start.read("alpha", c.schedule.start.alpha);
    start.read("beta", c.schedule.start.beta);
    start.rejectUnknown();
    auto end = s.child("end");
    end.read("alpha", c.schedule.end.alpha);
    end.read("beta", c.schedule.end.beta);
    end.rejectUnknown();
    std::string policy = toString(c.schedule.policy);
    std::string order = toString(c.schedule.order);
    s.read("tau_iterations", c.schedule.tauIterations);
    s.read("tau_epochs", c.tauEpochs);
    s.read("eta", c.schedule.eta);
    s.read("policy", policy);
    s.read("order", order);
    s.read("curvature", c.schedule.curvature);
    c.schedule.policy = parseSchedulePolicy(policy);
    c.schedule.order = parseScheduleOrder(order);
    auto a = s.child("auto_end");
    a.read("enabled", c.autoEnd.enabled);
    a.read("target_mse", c.autoEnd.targetMse);
    a.read("points", c.autoEnd.points);
    a.rejectUnknown();
    s.rejectUnknown();

    auto seg = r.child("segments");
    seg.read("every", c.segments.every);
    seg.read("error_target", c.segments.errorTarget);
    seg.rejectUnknown();

    auto p = r.child("probe");
    p.read("every", c.probe.every);
    p.rejectUnknown();

    auto ck = r.child("checkpoint");
    ck.read("dir", c.checkpoint.dir);
    ck.read("every", c.checkpoint.every);
    ck.rejectUnknown();

    r.rejectUnknown();
    c.validate();
    return c;
}

void TrainConfig::validate() const
{
    if (name.empty())
        outOfRange("name", "a non-empty string", "\"\"");
    if (threads < 0)
        outOfRange("threads", ">= 0", std::to_string(threads));
    if (model.imageSize <= 0 || model.patchSize <= 0 || model.imageSize % model.patchSize != 0)
        outOfRange("model.image_size", "a positive multiple of model.patch_size " + std::to_string(model.patchSize),
            std::to_string(model.imageSize));
    if (model.inChannels != 1 && model.inChannels != 3)
        outOfRange("model.in_channels", "1 or 3", std::to_string(model.inChannels));
    if (model.depth < 0)
        outOfRange("model.depth", ">= 0", std::to_string(model.depth));
    if (model.dropout < 0 || model.dropout >= 1)
        outOfRange("model.dropout", "a probability in [0, 1)", num(model.dropout));
    if (model.dropPath < 0 || model.dropPath >= 1)
        outOfRange("model.drop_path", "a probability in [0, 1)", num(model.dropPath));
    if (model.firstSkip != "scaled" && model.firstSkip != "input")
        outOfRange("model.first_skip", "scaled or input", "\"" + model.firstSkip + "\"");
    if (data.dataset != "fashion-mnist" && data.dataset != "folder" && data.dataset != "clips")
        outOfRange("data.dataset", "fashion-mnist, folder or clips", "\"" + data.dataset + "\"");
    if ((data.dataset == "clips") != (model.numFrames > 0))
        outOfRange("model.num_frames", "> 0 exactly when data.dataset is clips", std::to_string(model.numFrames));
    if (model.numFrames < 0 || model.tubeletSize <= 0 || (model.numFrames > 0 && model.numFrames % model.tubeletSize))
        outOfRange("model.num_frames", "a positive multiple of model.tubelet_size " + std::to_string(model.tubeletSize),
            std::to_string(model.numFrames));
    if (data.valFraction < 0 || data.valFraction >= 1)
        outOfRange("data.val_fraction", "a fraction in [0, 1)", num(data.valFraction));
    if (data.trainLimit < 0 || data.valLimit < 0)
        outOfRange("data.train_limit/val_limit", ">= 0", std::to_string(std::min(data.trainLimit, data.valLimit)));
    if (data.workers < 0 || data.workers > 16)
        outOfRange("data.workers", "0..16", std::to_string(data.workers));
    for (int64_t label : data.classes)
        if (label < 0)
            outOfRange("data.classes", "non-negative labels", std::to_string(label));
    if (optim.epochs <= 0)
        outOfRange("optim.epochs", "> 0", std::to_string(optim.epochs));
    if (optim.batchSize <= 0)
        outOfRange("optim.batch_size", "> 0", std::to_string(optim.batchSize));
    if (optim.accumulation <= 0)
        outOfRange("optim.accumulation", "> 0", std::to_string(optim.accumulation));
    if (!(optim.lr > 0) || !std::isfinite(optim.lr))
        outOfRange("optim.lr", "a finite number > 0", num(optim.lr));
    if (optim.minLr < 0 || optim.minLr > optim.lr)
        outOfRange("optim.min_lr", "in [0, optim.lr]", num(optim.minLr));
    if (optim.weightDecay < 0)
        outOfRange("optim.weight_decay", ">= 0", num(optim.weightDecay));
    if (optim.warmupIterations < 0)
        outOfRange("optim.warmup_iterations", ">= 0", std::to_string(optim.warmupIterations));
    if (optim.clipGrad < 0)
        outOfRange("optim.clip_grad", ">= 0 (0 turns clipping off)", num(optim.clipGrad));
    if (optim.labelSmoothing < 0 || optim.labelSmoothing >= 1)
        outOfRange("optim.label_smoothing", "in [0, 1)", num(optim.labelSmoothing));

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
    if (schedule.tauIterations <= 0)
        outOfRange("schedule.tau_iterations", "> 0", std::to_string(schedule.tauIterations));
    if (tauEpochs < 0)
        outOfRange("schedule.tau_epochs", ">= 0 (0: use tau_iterations)", num(tauEpochs));
    if (schedule.eta <= 0)
        outOfRange("schedule.eta", "> 0", std::to_string(schedule.eta));
    if (autoEnd.enabled && (!(autoEnd.targetMse > 0) || autoEnd.points < 2))
        outOfRange("schedule.auto_end", "target_mse > 0 and points >= 2",
            num(autoEnd.targetMse) + ", " + std::to_string(autoEnd.points));
    if (segments.every < 0)
        outOfRange("segments.every", ">= 0", std::to_string(segments.every));
    if (segments.errorTarget < 0)
        outOfRange("segments.error_target", ">= 0", num(segments.errorTarget));
    if (probe.every < 0)
        outOfRange("probe.every", ">= 0", std::to_string(probe.every));
    if (checkpoint.every < 0)
        outOfRange("checkpoint.every", ">= 0", std::to_string(checkpoint.every));
    if (!model.checkpoint.empty()) {
        std::ifstream file(model.checkpoint, std::ios::binary);
        if (!file)
            outOfRange("model.checkpoint", "a readable file", "\"" + model.checkpoint + "\"");
    }
}

json TrainConfig::toJson() const
{
    return json {
        { "name", name },
        { "strategy", toString(strategy) },
        { "seed", seed },
        { "device", device },
        { "threads", threads },
        { "output", output },
        { "model",
            { { "preset", model.preset }, { "checkpoint", model.checkpoint }, { "depth", model.depth },
                { "embed_dim", model.embedDim }, { "heads", model.heads }, { "image_size", model.imageSize },
                { "patch_size", model.patchSize }, { "in_channels", model.inChannels },
                { "num_frames", model.numFrames }, { "tubelet_size", model.tubeletSize }, { "dropout", model.dropout },
                { "drop_path", model.dropPath }, { "first_skip", model.firstSkip },
                { "reset_head", model.resetHead } } },
        { "data",
            { { "dataset", data.dataset }, { "root", data.root }, { "classes", data.classes },
                { "train_limit", data.trainLimit }, { "val_limit", data.valLimit }, { "val_fraction", data.valFraction },
                { "random_crop", data.randomCrop }, { "flip", data.flip }, { "workers", data.workers } } },
        { "optim",
            { { "epochs", optim.epochs }, { "batch_size", optim.batchSize }, { "accumulation", optim.accumulation },
                { "lr", optim.lr }, { "min_lr", optim.minLr }, { "weight_decay", optim.weightDecay },
                { "warmup_iterations", optim.warmupIterations }, { "clip_grad", optim.clipGrad },
                { "label_smoothing", optim.labelSmoothing } } },
        { "schedule",
            { { "start", { { "alpha", schedule.start.alpha }, { "beta", schedule.start.beta } } },
                { "end", { { "alpha", schedule.end.alpha }, { "beta", schedule.end.beta } } },
                { "tau_iterations", schedule.tauIterations }, { "tau_epochs", tauEpochs }, { "eta", schedule.eta },
                { "policy", toString(schedule.policy) }, { "order", toString(schedule.order) },
                { "curvature", schedule.curvature },
                { "auto_end",
                    { { "enabled", autoEnd.enabled }, { "target_mse", autoEnd.targetMse },
                        { "points", autoEnd.points } } } } },
        { "segments", { { "every", segments.every }, { "error_target", segments.errorTarget } } },
        { "probe", { { "every", probe.every } } },
        { "checkpoint", { { "dir", checkpoint.dir }, { "every", checkpoint.every } } },
    };
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
    for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].empty())
            throw std::invalid_argument("--set '" + assignment + "': empty key in '" + path + "'");
        if (node->is_null())
            *node = json::object();
        if (!node->is_object())
            throw std::invalid_argument("--set '" + assignment + "': '" + keys[i - 1] + "' is not an object");
        node = &(*node)[keys[i]];
    }
    *node = value;
}

TrainConfig TrainConfig::load(const std::string& path, const std::vector<std::string>& overrides)
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
    return fromJson(root);
}

} // namespace dr2
