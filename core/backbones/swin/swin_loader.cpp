#include "core/backbones/swin/swin_loader.h"

#include "core/architecture_record.h"
#include "core/state_dict_loading.h"
#include "core/tensor_names.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>

namespace dr2 {

namespace {

using tensor_names::applyRule;
using tensor_names::endsWith;
using tensor_names::splitIndexed;
using tensor_names::startsWith;

const std::string kStages = "stages.";
const std::string kMerges = "merges.";
const std::string kBackbone = "backbone."; // mmaction2's recognizer prefix on the Video Swin backbone
const std::string kIndex = "relative_position_index";
const std::string kTable = "relative_position_bias_table";
const std::string kMask = "attn_mask";

// A rename rule: an external and an internal spelling, either whole names or prefixes ending in '.'.
struct Rule {
    const char* external;
    const char* internal;
    int branch = 0; ///< inside a block: 0 attention branch, 1 MLP branch
};

// The names inside one block. The first rule per (branch, internal) is the one export writes.
const std::vector<Rule>& blockRules(SwinNaming naming)
{
    static const std::vector<Rule> kReleases = { { "norm1.", "norm.", 0 }, { "attn.qkv.", "qkv.", 0 },
        { "attn.proj.", "proj.", 0 }, { "attn.relative_position_bias_table", "relative_position_bias_table", 0 },
        { "attn.relative_position_index", "relative_position_index", 0 }, { "attn_mask", "attn_mask", 0 },
        { "norm2.", "norm.", 1 }, { "mlp.fc1.", "fc1.", 1 }, { "mlp.fc2.", "fc2.", 1 } };
    // torchvision >= 0.14 writes mlp.0 / mlp.3; 0.13 wrote MLPBlock's linear_1 / linear_2.
    static const std::vector<Rule> kTorchvision = { { "norm1.", "norm.", 0 }, { "attn.qkv.", "qkv.", 0 },
        { "attn.proj.", "proj.", 0 }, { "attn.relative_position_bias_table", "relative_position_bias_table", 0 },
        { "attn.relative_position_index", "relative_position_index", 0 }, { "norm2.", "norm.", 1 },
        { "mlp.0.", "fc1.", 1 }, { "mlp.linear_1.", "fc1.", 1 }, { "mlp.3.", "fc2.", 1 },
        { "mlp.linear_2.", "fc2.", 1 } };
    return naming == SwinNaming::Torchvision ? kTorchvision : kReleases;
}

// Names outside the stages. The first rule per internal name is the one export writes.
const std::vector<Rule>& topRules(SwinNaming naming)
{
    static const std::vector<Rule> kTorchvision = { { "features.0.0.", "patch_embed." },
        { "features.0.2.", "patch_norm." }, { "norm.", "norm." }, { "head.", "head." } };
    static const std::vector<Rule> kTimm = { { "patch_embed.proj.", "patch_embed." },
        { "patch_embed.norm.", "patch_norm." }, { "norm.", "norm." }, { "head.fc.", "head." }, { "head.", "head." } };
    static const std::vector<Rule> kOfficial = { { "patch_embed.proj.", "patch_embed." },
        { "patch_embed.norm.", "patch_norm." }, { "norm.", "norm." }, { "head.", "head." } };
    static const std::vector<Rule> kVideoSwin = { { "patch_embed.proj.", "patch_embed." },
        { "patch_embed.norm.", "patch_norm." }, { "norm.", "norm." }, { "cls_head.fc_cls.", "head." },
        { "head.", "head." } };
    switch (naming) {
    case SwinNaming::Torchvision: return kTorchvision;
    case SwinNaming::Timm: return kTimm;
    case SwinNaming::VideoSwin: return kVideoSwin;
    default: return kOfficial;
    }
}

std::string branchName(int64_t stage, int64_t branch, const std::string& rest)
{
    return kStages + std::to_string(stage) + ".branches." + std::to_string(branch) + "." + rest;
}

// "stages.S.branches.B.rest" → S, B and rest.
bool splitBranchName(const std::string& name, int64_t& stage, int64_t& branch, std::string& rest)
{
    std::string inStage;
    return splitIndexed(name, kStages, stage, inStage) && splitIndexed(inStage, "branches.", branch, rest);
}

// Buffers every release derives from the window: the model recomputes them, so they are never copied.
bool isRecomputed(const std::string& internalName)
{
    return endsWith(internalName, kIndex) || endsWith(internalName, kMask);
}

bool isHead(const std::string& internalName)
{
    return startsWith(internalName, "head.");
}

std::string shapeString(const torch::Tensor& t)
{
    return c10::str(t.sizes());
}

std::string extentString(const Extent3& e, bool video)
{
    return (video ? std::to_string(e[0]) + "×" : std::string()) + std::to_string(e[1]) + "×" + std::to_string(e[2]);
}

std::string joined(const std::vector<int64_t>& values, const char* separator)
{
    std::string out;
    for (size_t i = 0; i < values.size(); ++i)
        out += (i ? separator : "") + std::to_string(values[i]);
    return out;
}

bool hasPrefix(const StateDict& tensors, const std::string& prefix)
{
    return std::any_of(
        tensors.begin(), tensors.end(), [&](const auto& entry) { return startsWith(entry.first, prefix); });
}

// A block of the release layouts: "<layers>S.blocks.N.attn...".
bool hasReleaseBlock(const StateDict& tensors, const std::string& layers)
{
    return std::any_of(tensors.begin(), tensors.end(), [&](const auto& entry) {
        int64_t stage = 0;
        int64_t block = 0;
        std::string inStage;
        std::string inBlock;
        return splitIndexed(entry.first, layers, stage, inStage) && splitIndexed(inStage, "blocks.", block, inBlock)
            && startsWith(inBlock, "attn.");
    });
}

// torchvision's stage S is features.{1+2S}: "features.<odd>.N.attn...".
bool hasTorchvisionBlock(const StateDict& tensors)
{
    return std::any_of(tensors.begin(), tensors.end(), [&](const auto& entry) {
        int64_t feature = 0;
        int64_t block = 0;
        std::string inFeature;
        std::string inBlock;
        return splitIndexed(entry.first, "features.", feature, inFeature) && feature % 2 == 1
            && splitIndexed(inFeature, "", block, inBlock) && startsWith(inBlock, "attn.");
    });
}

// timm >= 0.9 puts the merging after stage S at the start of stage S+1, the Swin release (and older timm) at the
// end of stage S. Which stages have one tells them apart; with a single downsample in the middle, the reduction's
// input width (4·C of the stage it follows) does.
SwinNaming timmOrOfficial(const StateDict& tensors)
{
    std::set<int64_t> downsampled;
    int64_t lastStage = -1;
    for (const auto& [name, tensor] : tensors) {
        int64_t stage = 0;
        std::string rest;
        if (!splitIndexed(name, "layers.", stage, rest))
            continue;
        lastStage = std::max(lastStage, stage);
        if (startsWith(rest, "downsample."))
            downsampled.insert(stage);
    }
    if (downsampled.count(0))
        return SwinNaming::Official;
    if (lastStage > 0 && downsampled.count(lastStage))
        return SwinNaming::Timm;
    const torch::Tensor* patch = findTensor(tensors, "patch_embed.proj.weight");
    for (int64_t stage : downsampled) {
        const torch::Tensor* reduction
            = findTensor(tensors, "layers." + std::to_string(stage) + ".downsample.reduction.weight");
        if (!patch || !reduction || reduction->dim() != 2 || patch->dim() < 1)
            continue;
        const int64_t embed = patch->size(0);
        if (reduction->size(1) == (4 * embed) << stage)
            return SwinNaming::Official;
        if (stage > 0 && reduction->size(1) == (4 * embed) << (stage - 1))
            return SwinNaming::Timm;
    }
    if (hasPrefix(tensors, "head.fc."))
        return SwinNaming::Timm;
    if (findTensor(tensors, "head.weight"))
        return SwinNaming::Official;
    return SwinNaming::Timm;
}

// One file name → internal name under `naming` (unknown names come back unchanged).
std::string internalName(const std::string& fileName, SwinNaming naming)
{
    std::string name = fileName;
    if (naming == SwinNaming::VideoSwin && startsWith(name, kBackbone))
        name = name.substr(kBackbone.size());
    std::string out;
    auto block = [&](int64_t stage, int64_t index, const std::string& rest) {
        for (const auto& rule : blockRules(naming))
            if (applyRule(rest, rule.external, rule.internal, out)) {
                out = branchName(stage, 2 * index + rule.branch, out);
                return true;
            }
        return false;
    };
    int64_t outer = 0;
    int64_t inner = 0;
    std::string rest;
    std::string inBlock;
    if (naming == SwinNaming::Torchvision && splitIndexed(name, "features.", outer, rest) && outer > 0) {
        if (outer % 2 == 1 && splitIndexed(rest, "", inner, inBlock) && block((outer - 1) / 2, inner, inBlock))
            return out;
        if (outer % 2 == 0)
            return kMerges + std::to_string((outer - 2) / 2) + "." + rest;
        return fileName;
    }
    if (naming != SwinNaming::Torchvision && splitIndexed(name, "layers.", outer, rest)) {
        if (splitIndexed(rest, "blocks.", inner, inBlock) && block(outer, inner, inBlock))
            return out;
        const int64_t merge = naming == SwinNaming::Timm ? outer - 1 : outer;
        if (startsWith(rest, "downsample.") && merge >= 0)
            return kMerges + std::to_string(merge) + "." + rest.substr(std::string("downsample.").size());
        return fileName;
    }
    for (const auto& rule : topRules(naming))
        if (applyRule(name, rule.external, rule.internal, out))
            return out;
    return fileName;
}

// Everything a failed inference names: the file, its naming, and the file's spelling of internal names.
struct Context {
    const LoadedCheckpoint& checkpoint;
    SwinNaming naming;
    bool backbonePrefix;
    StateDict tensors; ///< internal names

    [[noreturn]] void fail(const std::string& what) const
    {
        throw std::runtime_error("checkpoint " + checkpoint.path + ": " + what);
    }
    std::string ext(const std::string& name) const { return swinExternalName(name, naming, backbonePrefix); }
    const torch::Tensor* find(const std::string& name) const { return findTensor(tensors, name); }
    std::string describeTensor(const std::string& name, const torch::Tensor& t) const
    {
        return "tensor " + ext(name) + " " + shapeString(t);
    }
};

std::optional<int64_t> metadataInt(const Context& c, std::initializer_list<const char*> keys)
{
    for (const char* key : keys) {
        auto it = c.checkpoint.metadata.find(key);
        if (it == c.checkpoint.metadata.end())
            continue;
        try {
            size_t used = 0;
            const int64_t value = std::stoll(it->second, &used);
            if (used == it->second.size())
                return value;
        } catch (const std::exception&) {
        }
        c.fail(std::string("metadata '") + key + "': expected an integer, found '" + it->second + "'");
    }
    return std::nullopt;
}

// The patch embedding: embed dim, input channels, patch extent and whether the model is a video model.
void inferPatch(const Context& c, SwinOptions& o, bool& video)
{
    const std::string name = "patch_embed.weight";
    const torch::Tensor* patch = c.find(name);
    if (!patch)
        c.fail("no patch embedding tensor " + c.ext(name));
    const bool releaseVideo = c.naming == SwinNaming::VideoSwin;
    const bool image2d = c.naming == SwinNaming::Torchvision || c.naming == SwinNaming::Timm
        || c.naming == SwinNaming::Official;
    if (patch->dim() == 4 && !releaseVideo) {
        video = false;
        o.patch = { 1, patch->size(2), patch->size(3) };
    } else if (patch->dim() == 5 && !image2d) {
        video = true;
        o.patch = { patch->size(2), patch->size(3), patch->size(4) };
    } else {
        c.fail("tensor " + c.ext(name) + ": expected "
            + (releaseVideo ? std::string("a Conv3d weight [dim, channels, frames, patch, patch]")
                            : image2d ? std::string("a Conv2d weight [dim, channels, patch, patch]")
                                      : std::string("[dim, channels, patch, patch] or [dim, channels, frames, patch, patch]"))
            + ", found " + shapeString(*patch));
    }
    o.embedDim = patch->size(0);
    o.inChannels = patch->size(1);
}

// Blocks per stage from the names stages.S.branches.N.*; every stage up to the last must have some.
std::vector<int64_t> inferDepths(const Context& c)
{
    std::map<int64_t, int64_t> branches; // stage → highest branch index + 1
    for (const auto& [name, tensor] : c.tensors) {
        int64_t stage = 0;
        int64_t branch = 0;
        std::string rest;
        if (splitBranchName(name, stage, branch, rest))
            branches[stage] = std::max(branches[stage], branch + 1);
    }
    if (branches.empty())
        c.fail("no Swin blocks (" + c.ext(branchName(0, 0, "qkv.weight")) + ", ...)");
    std::vector<int64_t> depths;
    for (int64_t stage = 0; stage <= branches.rbegin()->first; ++stage) {
        auto it = branches.find(stage);
        if (it == branches.end())
            c.fail("stage " + std::to_string(stage + 1) + " of " + std::to_string(branches.rbegin()->first + 1)
                + " has no blocks (expected " + c.ext(branchName(stage, 0, "qkv.weight")) + ", ...)");
        depths.push_back((it->second + 1) / 2);
    }
    // Every block holds several tensors: a name claiming more blocks than the file has tensors is a lie, and
    // believing it would build (allocate) that many blocks before the missing tensors are reported.
    const int64_t claimed = std::accumulate(depths.begin(), depths.end(), int64_t { 0 });
    if (claimed > static_cast<int64_t>(c.tensors.size()))
        c.fail("block names claim " + std::to_string(claimed) + " blocks, but the file holds only "
            + std::to_string(c.tensors.size()) + " tensors");
    return depths;
}

// The windows (d, h, h) whose bias table has `rows` = (2d−1)(2h−1)² rows, h ascending (images: d = 1).
std::vector<Extent3> windowsOfRows(int64_t rows, bool video)
{
    std::vector<Extent3> candidates;
    for (int64_t h = 1; (2 * h - 1) * (2 * h - 1) <= rows; ++h) {
        const int64_t plane = (2 * h - 1) * (2 * h - 1);
        const int64_t depthRows = rows / plane;
        if (rows % plane != 0 || depthRows % 2 == 0)
            continue;
        const int64_t d = (depthRows + 1) / 2;
        if (!video && d != 1)
            continue;
        candidates.push_back({ d, h, h });
    }
    // A window one token wide over many frames (every table fits d×1×1) is no Swin window: drop it when any other fits.
    if (candidates.size() > 1 && candidates.front()[1] == 1)
        candidates.erase(candidates.begin());
    return candidates;
}

// Tokens of the window a relative_position_index describes: [N, N] (the releases) or [N²] (torchvision).
int64_t indexTokens(const Context& c, const std::string& name, const torch::Tensor& index)
{
    if (index.dim() == 2 && index.size(0) == index.size(1))
        return index.size(0);
    if (index.dim() == 1) {
        const auto n = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(index.numel()))));
        if (n * n == index.numel())
            return n;
    }
    c.fail(c.describeTensor(name, index) + ": expected [N, N] or [N·N] for a window of N tokens");
}

// The window a bias table of `rows` rows was trained for, with h = w. Images: rows = (2w−1)². Video: rows =
// (2d−1)(2h−1)², which can factor several ways; the file's index (N = d·h² tokens) picks one, else the largest
// square factor with an odd quotient.
Extent3 inferWindow(const Context& c, const std::string& tableName, const torch::Tensor& table, bool video,
    std::vector<std::string>& notes)
{
    const int64_t rows = table.size(0);
    std::string indexName;
    const torch::Tensor* index = nullptr;
    for (const auto& [name, tensor] : c.tensors)
        if (endsWith(name, "." + kIndex)) {
            indexName = name;
            index = &tensor;
            break;
        }
    const int64_t tokens = index ? indexTokens(c, indexName, *index) : 0;
    const std::vector<Extent3> candidates = windowsOfRows(rows, video);
    const std::string layout = video ? "(2d−1)(2h−1)(2w−1) rows for a window d×h×w with h = w"
                                     : "(2w−1)² rows for a square window w×w";
    if (candidates.empty())
        c.fail(c.describeTensor(tableName, table) + ": expected " + layout + ", found " + std::to_string(rows)
            + " rows (non-square windows are not supported)");
    if (index) {
        for (const auto& window : candidates)
            if (window[0] * window[1] * window[2] == tokens) {
                notes.push_back("window " + extentString(window, video) + " from the bias tables"
                    + (video && candidates.size() > 1 ? " and " + c.ext(indexName) : std::string()));
                return window;
            }
        std::string fits;
        for (const auto& window : candidates)
            fits += (fits.empty() ? "" : ", ") + extentString(window, video);
        c.fail(c.describeTensor(tableName, table) + " fits window " + fits + ", but " + c.describeTensor(indexName, *index)
            + " is for " + std::to_string(tokens) + " tokens: expected a relative_position_index for the table's window");
    }
    const Extent3 window = candidates.back();
    std::string note = "window " + extentString(window, video) + " from the bias tables";
    if (candidates.size() > 1)
        note += " (the largest of " + std::to_string(candidates.size())
            + " windows their rows fit; no relative_position_index to tell)";
    notes.push_back(note);
    return window;
}

// Heads per stage from each stage's bias tables, and the one window they all share.
void inferHeadsAndWindow(const Context& c, SwinOptions& o, bool video, Extent3& window, std::vector<std::string>& notes)
{
    const torch::Tensor* reference = nullptr;
    std::string referenceName;
    o.heads.assign(o.depths.size(), 0);
    for (int64_t s = 0; s < o.stages(); ++s) {
        const torch::Tensor* stageReference = nullptr;
        std::string stageReferenceName;
        for (int64_t b = 0; b < o.depths[static_cast<size_t>(s)]; ++b) {
            const std::string name = branchName(s, 2 * b, kTable);
            const torch::Tensor* table = c.find(name);
            if (!table)
                continue;
            if (table->dim() != 2)
                c.fail(c.describeTensor(name, *table) + ": expected [rows, heads]");
            if (!reference) {
                reference = table;
                referenceName = name;
            }
            if (!stageReference) {
                stageReference = table;
                stageReferenceName = name;
            }
            const std::string expected = "[" + std::to_string(reference->size(0)) + ", "
                + std::to_string(stageReference->size(1)) + "]";
            if (table->size(0) != reference->size(0)) {
                if (stageReference == reference || s == 0)
                    c.fail("tensor " + c.ext(name) + ": expected " + expected + " (the window of "
                        + c.ext(referenceName) + "), found " + shapeString(*table));
                c.fail("tensor " + c.ext(name) + ": expected " + expected + " (the window of stage 1, "
                    + c.ext(referenceName) + "), found " + shapeString(*table)
                    + ": per-stage windows are not supported");
            }
            if (table->size(1) != stageReference->size(1))
                c.fail("tensor " + c.ext(name) + ": expected " + expected + " (the heads of " + c.ext(stageReferenceName)
                    + "), found " + shapeString(*table));
        }
        if (!stageReference)
            c.fail("stage " + std::to_string(s + 1) + " has no relative position bias table (expected "
                + c.ext(branchName(s, 0, kTable)) + "): cannot tell its heads");
        o.heads[static_cast<size_t>(s)] = stageReference->size(1);
    }
    notes.push_back("heads " + joined(o.heads, "/") + " from the bias tables");
    window = inferWindow(c, referenceName, *reference, video, notes);
}

// Stage widths double from the embedding width: checked on each stage's first qkv weight.
void checkStageWidths(const Context& c, const SwinOptions& o)
{
    for (int64_t s = 0; s < o.stages(); ++s)
        for (int64_t b = 0; b < o.depths[static_cast<size_t>(s)]; ++b) {
            const std::string name = branchName(s, 2 * b, "qkv.weight");
            const torch::Tensor* qkv = c.find(name);
            if (!qkv)
                continue;
            const int64_t dim = o.stageDim(s);
            if (qkv->dim() != 2 || qkv->size(0) != 3 * dim || qkv->size(1) != dim)
                c.fail("tensor " + c.ext(name) + ": expected [" + std::to_string(3 * dim) + ", " + std::to_string(dim)
                    + "] (stage " + std::to_string(s + 1) + " is " + std::to_string(int64_t { 1 } << s)
                    + "× the embedding width " + std::to_string(o.embedDim) + "), found " + shapeString(*qkv));
            break;
        }
}

void inferMlpAndBias(const Context& c, SwinOptions& o)
{
    o.mlpRatio = 0.0;
    o.qkvBias = false;
    o.patchNorm = c.find("patch_norm.weight") != nullptr; // the Video Swin release may be built without it
    for (const auto& [name, tensor] : c.tensors) {
        int64_t stage = 0;
        int64_t branch = 0;
        std::string rest;
        if (!splitBranchName(name, stage, branch, rest) || stage >= o.stages())
            continue;
        o.qkvBias = o.qkvBias || rest == "qkv.bias";
        if (rest == "fc1.weight" && o.mlpRatio == 0.0 && tensor.dim() == 2)
            o.mlpRatio = static_cast<double>(tensor.size(0)) / static_cast<double>(o.stageDim(stage));
    }
    if (o.mlpRatio == 0.0)
        c.fail("no MLP weight " + c.ext(branchName(0, 1, "fc1.weight")) + " to infer the MLP ratio from");
}

// The hyperparameters our own export recorded (SwinImpl::architectureJson()).
SwinOptions optionsFromRecord(const Context& c, const std::string& text)
{
    const std::string key = metadata_key::kArchitecture;
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object())
        c.fail("metadata " + key + ": expected a JSON object, found '" + text + "'");
    auto field = [&](const char* name) -> const nlohmann::json& {
        if (!json.contains(name))
            c.fail("metadata " + key + ": no field '" + name + "'");
        return json.at(name);
    };
    auto integers = [&](const char* name, size_t count) {
        const auto& value = field(name);
        std::vector<int64_t> out;
        if (value.is_array())
            for (const auto& item : value)
                if (item.is_number_integer())
                    out.push_back(item.get<int64_t>());
        if (!value.is_array() || out.size() != value.size() || (count && out.size() != count) || out.empty())
            c.fail("metadata " + key + " field '" + name + "': expected "
                + (count ? std::to_string(count) + " integers" : std::string("a list of integers")) + ", found "
                + value.dump());
        return out;
    };
    auto integer = [&](const char* name) {
        const auto& value = field(name);
        if (!value.is_number_integer())
            c.fail("metadata " + key + " field '" + name + "': expected an integer, found " + value.dump());
        return value.get<int64_t>();
    };
    const std::string family = json.value("family", std::string());
    if (family != "swin" && family != "video-swin")
        c.fail("metadata " + key + ": expected family swin or video-swin, found '" + family + "'");
    SwinOptions o;
    o.embedDim = integer("embed_dim");
    o.depths = integers("depths", 0);
    o.heads = integers("heads", 0);
    const auto window = integers("window", 3);
    const auto patch = integers("patch", 3);
    o.window = { window[0], window[1], window[2] };
    o.patch = { patch[0], patch[1], patch[2] };
    if (json.contains("mlp_ratio") && json["mlp_ratio"].is_number())
        o.mlpRatio = json["mlp_ratio"].get<double>();
    if (json.contains("qkv_bias") && json["qkv_bias"].is_boolean())
        o.qkvBias = json["qkv_bias"].get<bool>();
    if (json.contains("patch_norm") && json["patch_norm"].is_boolean())
        o.patchNorm = json["patch_norm"].get<bool>();
    if (json.contains("in_channels"))
        o.inChannels = integer("in_channels");
    if (json.contains("image_size")) {
        const auto size = integers("image_size", 2);
        o.imageHeight = size[0];
        o.imageWidth = size[1];
    }
    if (json.contains("num_frames"))
        o.numFrames = integer("num_frames");
    if (json.contains("num_classes"))
        o.numClasses = integer("num_classes");
    if (json.contains("window_fit")) {
        try {
            o.windowFit = parseWindowFit(json.value("window_fit", std::string()));
        } catch (const std::invalid_argument& error) {
            c.fail("metadata " + key + ": " + error.what());
        }
    } else {
        o.windowFit = o.video() ? WindowFit::Shrink : WindowFit::Pad;
    }
    return o;
}

// Everything the names and shapes say, for a file without our architecture record.
SwinOptions inferOptions(const Context& c, bool& video, Extent3& window, std::vector<std::string>& notes)
{
    SwinOptions o;
    inferPatch(c, o, video);
    o.depths = inferDepths(c);
    inferHeadsAndWindow(c, o, video, window, notes);
    checkStageWidths(c, o);
    inferMlpAndBias(c, o);
    o.window = window;
    o.windowFit = video ? WindowFit::Shrink : WindowFit::Pad;
    o.imageHeight = o.imageWidth = metadataInt(c, { "image_size", "img_size" }).value_or(224);
    o.numFrames = video ? metadataInt(c, { "num_frames" }).value_or(32) : 0;
    return o;
}

} // namespace

std::string toString(SwinNaming naming)
{
    switch (naming) {
    case SwinNaming::Dr2: return "dr2";
    case SwinNaming::Torchvision: return "torchvision";
    case SwinNaming::Timm: return "timm";
    case SwinNaming::Official: return "official";
    case SwinNaming::VideoSwin: return "video-swin";
    }
    return "unknown";
}

SwinNaming parseSwinNaming(const std::string& name)
{
    for (SwinNaming naming : { SwinNaming::Dr2, SwinNaming::Torchvision, SwinNaming::Timm, SwinNaming::Official,
             SwinNaming::VideoSwin })
        if (toString(naming) == name)
            return naming;
    throw std::invalid_argument("Swin naming scheme '" + name + "': expected dr2, torchvision, timm, official or video-swin");
}

std::optional<SwinNaming> recognizeSwinNaming(const StateDict& tensors)
{
    const bool dr2 = std::any_of(tensors.begin(), tensors.end(), [](const auto& entry) {
        int64_t stage = 0;
        int64_t branch = 0;
        std::string rest;
        return splitBranchName(entry.first, stage, branch, rest);
    });
    if (dr2)
        return SwinNaming::Dr2;
    if (hasTorchvisionBlock(tensors))
        return SwinNaming::Torchvision;
    if (hasReleaseBlock(tensors, kBackbone + "layers."))
        return SwinNaming::VideoSwin;
    if (hasReleaseBlock(tensors, "layers.")) {
        // Without mmaction2's prefix the Video Swin release reads like the Swin release; its Conv3d patch embedding
        // and its I3D head tell it apart.
        const torch::Tensor* patch = findTensor(tensors, "patch_embed.proj.weight");
        if ((patch && patch->dim() == 5) || hasPrefix(tensors, "cls_head."))
            return SwinNaming::VideoSwin;
        return timmOrOfficial(tensors);
    }
    return std::nullopt;
}

SwinNaming detectSwinNaming(const StateDict& tensors, const std::string& source)
{
    if (auto naming = recognizeSwinNaming(tensors))
        return *naming;
    std::string sample;
    for (size_t i = 0; i < std::min<size_t>(tensors.size(), 4); ++i)
        sample += (i ? ", " : "") + tensors[i].first;
    throw std::runtime_error("checkpoint " + source
        + ": not a Swin Transformer with known names: expected torchvision (features.0.0.weight, "
          "features.1.N.attn.qkv.weight, ...), timm or the Swin release (patch_embed.proj.weight, "
          "layers.S.blocks.N.attn.qkv.weight, ...), the Video Swin release (backbone.layers.S.blocks.N...) or dr2 "
          "(patch_embed.weight, stages.S.branches.N...), found "
        + std::to_string(tensors.size()) + " tensors [" + sample + (tensors.size() > 4 ? ", ..." : "") + "]");
}

bool isVideoSwin(const StateDict& tensors, SwinNaming naming)
{
    if (naming == SwinNaming::VideoSwin)
        return true;
    if (naming != SwinNaming::Dr2)
        return false;
    const torch::Tensor* patch = findTensor(tensors, "patch_embed.weight");
    return patch && patch->dim() == 5;
}

StateDict swinToInternalNames(const StateDict& tensors, SwinNaming naming)
{
    if (naming == SwinNaming::Dr2)
        return tensors;
    StateDict out;
    out.reserve(tensors.size());
    for (const auto& [name, tensor] : tensors)
        out.emplace_back(internalName(name, naming), tensor);
    return out;
}

std::string swinExternalName(const std::string& internal, SwinNaming naming, bool backbonePrefix)
{
    if (naming == SwinNaming::Dr2)
        return internal;
    const std::string prefix = naming == SwinNaming::VideoSwin && backbonePrefix ? kBackbone : std::string();
    const bool torchvision = naming == SwinNaming::Torchvision;
    int64_t stage = 0;
    int64_t branch = 0;
    std::string rest;
    std::string out;
    if (splitBranchName(internal, stage, branch, rest)) {
        for (const auto& rule : blockRules(naming))
            if (rule.branch == branch % 2 && applyRule(rest, rule.internal, rule.external, out))
                return prefix
                    + (torchvision ? "features." + std::to_string(1 + 2 * stage) + "."
                                   : "layers." + std::to_string(stage) + ".blocks.")
                    + std::to_string(branch / 2) + "." + out;
        return internal;
    }
    if (splitIndexed(internal, kMerges, stage, rest)) {
        if (torchvision)
            return "features." + std::to_string(2 + 2 * stage) + "." + rest;
        const int64_t layer = naming == SwinNaming::Timm ? stage + 1 : stage;
        return prefix + "layers." + std::to_string(layer) + ".downsample." + rest;
    }
    for (const auto& rule : topRules(naming))
        if (applyRule(internal, rule.internal, rule.external, out))
            return startsWith(out, "cls_head.") ? out : prefix + out;
    return internal;
}

StateDict swinFromInternalNames(const StateDict& tensors, SwinNaming naming)
{
    if (naming == SwinNaming::Dr2)
        return tensors;
    // The model keeps no index (it recomputes it), but torchvision and the releases hold one as a persistent buffer
    // and refuse a strict load without it: each block's index is written after its table, for the table's window.
    // timm >= 0.9 keeps it out of its state dict (a strict load would call it unexpected), so timm gets none; a
    // video table whose rows fit several windows gets none either rather than a guessed one (the release's own
    // loader is not strict and recomputes it).
    const torch::Tensor* patch = findTensor(tensors, "patch_embed.weight");
    const bool video = naming == SwinNaming::VideoSwin || (patch && patch->dim() == 5);
    const bool writeIndex = naming != SwinNaming::Timm;
    std::set<std::string> indexed;
    for (const auto& [name, tensor] : tensors)
        if (endsWith(name, kIndex))
            indexed.insert(name);
    StateDict out;
    out.reserve(tensors.size() + tensors.size() / 8);
    auto addIndex = [&](const std::string& name, const torch::Tensor& index) {
        // torchvision keeps the index flat ([N²]); timm and the releases keep [N, N].
        const auto n = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(index.numel()))));
        out.emplace_back(swinExternalName(name, naming),
            naming == SwinNaming::Torchvision ? index.reshape({ -1 }) : index.reshape({ n, n }));
    };
    for (const auto& [name, tensor] : tensors) {
        if (endsWith(name, kIndex)) {
            if (writeIndex)
                addIndex(name, tensor);
            continue;
        }
        out.emplace_back(swinExternalName(name, naming), tensor);
        const std::string indexName = name.substr(0, name.size() - kTable.size()) + kIndex;
        if (writeIndex && endsWith(name, kTable) && !indexed.count(indexName) && tensor.dim() == 2) {
            const std::vector<Extent3> windows = windowsOfRows(tensor.size(0), video);
            if (windows.size() == 1)
                addIndex(indexName, relativePositionIndex(windows.front()));
        }
    }
    return out;
}

SwinCheckpointInfo describeSwin(const LoadedCheckpoint& checkpoint, const SwinOverrides& overrides)
{
    SwinCheckpointInfo info;
    info.naming = detectSwinNaming(checkpoint.tensors, checkpoint.path);
    info.backbonePrefix = info.naming == SwinNaming::VideoSwin && hasPrefix(checkpoint.tensors, kBackbone);
    const Context c { checkpoint, info.naming, info.backbonePrefix,
        swinToInternalNames(checkpoint.tensors, info.naming) };
    for (const auto& [name, tensor] : checkpoint.tensors)
        info.parameterCount += tensor.numel();
    for (const auto& [name, tensor] : checkpoint.tensors)
        if (name.find("attn.logit_scale") != std::string::npos || name.find("attn.cpb_mlp.") != std::string::npos)
            c.fail("tensor " + name + ": a Swin Transformer v2 (logit scale, continuous position bias); only Swin "
                "v1 and Video Swin are supported");

    SwinOptions& o = info.options;
    auto record = checkpoint.metadata.find(metadata_key::kArchitecture);
    if (info.naming == SwinNaming::Dr2 && record != checkpoint.metadata.end()) {
        o = optionsFromRecord(c, record->second);
        info.video = o.video();
        info.fileWindow = o.window;
        info.notes.push_back("architecture from the " + std::string(metadata_key::kArchitecture) + " record");
    } else {
        o = inferOptions(c, info.video, info.fileWindow, info.notes);
    }

    bool index = false;
    bool mask = false;
    for (const auto& [name, tensor] : c.tensors) {
        index = index || endsWith(name, kIndex);
        mask = mask || endsWith(name, kMask);
    }
    if (index && info.naming != SwinNaming::Dr2)
        info.notes.push_back("relative_position_index buffers ignored: recomputed for the window");
    if (mask)
        info.notes.push_back("attn_mask buffers ignored: recomputed for each input size");

    const torch::Tensor* head = c.find("head.weight");
    info.checkpointNumClasses = head && head->dim() == 2 ? head->size(0) : 0;
    if (overrides.imageSize)
        o.imageHeight = o.imageWidth = *overrides.imageSize;
    if (info.video && overrides.numFrames) {
        if (*overrides.numFrames <= 0)
            c.fail("frames " + std::to_string(*overrides.numFrames) + ": expected a positive count for a video model "
                "(--frames)");
        o.numFrames = *overrides.numFrames;
    }
    if (overrides.windowSize) {
        if (*overrides.windowSize <= 0)
            c.fail("window " + std::to_string(*overrides.windowSize) + ": expected a positive size (--window)");
        o.window = { info.fileWindow[0], *overrides.windowSize, *overrides.windowSize };
    }
    o.numClasses = overrides.numClasses.value_or(info.checkpointNumClasses);
    o.dropout = o.attnDropout = o.dropPath = 0.0;
    try {
        o.validate();
    } catch (const std::invalid_argument& error) {
        c.fail(std::string("inferred architecture is invalid: ") + error.what());
    }
    return info;
}

Swin loadSwin(const std::string& path, const SwinLoadOptions& options, SwinLoadReport* report)
{
    return loadSwin(readCheckpoint(path), options, report);
}

Swin loadSwin(const LoadedCheckpoint& checkpoint, const SwinLoadOptions& options, SwinLoadReport* reportOut)
{
    SwinLoadReport report;
    report.format = checkpoint.format;
    report.notes = checkpoint.notes;
    report.info = describeSwin(checkpoint, options.overrides);
    const SwinCheckpointInfo& info = report.info;
    report.notes.insert(report.notes.end(), info.notes.begin(), info.notes.end());
    SwinOptions swinOptions = info.options;
    swinOptions.stack = options.stack;
    swinOptions.dropout = options.dropout;
    swinOptions.attnDropout = options.dropout;
    swinOptions.dropPath = options.dropPath;
    Swin model(swinOptions);
    report.headReplaced = swinOptions.numClasses != info.checkpointNumClasses;

    StateDictCopyOptions copy;
    copy.source = checkpoint.path;
    copy.allowMissing = options.allowMissing;
    copy.externalName = [&](const std::string& name) { return swinExternalName(name, info.naming, info.backbonePrefix); };
    // The model recomputes indices and masks for its own window; a replaced head goes to report.headTensors.
    // A model without a head (the task builds it) takes none of the file's head tensors, whatever their layout.
    copy.skip = [&](const std::string& name) {
        return isRecomputed(name) || ((report.headReplaced || swinOptions.numClasses == 0) && isHead(name));
    };
    copy.adapt = [&](const std::string& name, const torch::Tensor& source, const torch::Tensor&,
                     std::vector<std::string>&) {
        if (!endsWith(name, kTable) || info.fileWindow == swinOptions.window)
            return source;
        report.tablesResized = true;
        return resizeRelativePositionTable(source, info.fileWindow, swinOptions.window);
    };
    StateDictCopyReport copied
        = copyStateDict(*model, swinToInternalNames(checkpoint.tensors, info.naming), copy);
    if (report.tablesResized)
        report.notes.push_back("relative position bias tables resized " + extentString(info.fileWindow, info.video)
            + " → " + extentString(swinOptions.window, info.video));
    report.missingKeys = std::move(copied.missingKeys);
    report.unexpectedKeys = std::move(copied.unexpectedKeys);
    report.nanTensors = std::move(copied.nanTensors);
    report.notes.insert(report.notes.end(), copied.notes.begin(), copied.notes.end());
    for (auto& [name, tensor] : copied.skipped)
        if (isHead(name))
            report.headTensors.emplace_back(name, std::move(tensor));
    if (reportOut)
        *reportOut = std::move(report);
    return model;
}

} // namespace dr2
