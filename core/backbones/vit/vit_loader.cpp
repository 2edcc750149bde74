#include "core/backbones/vit/vit_loader.h"

#include "core/architecture_record.h"
#include "core/state_dict_loading.h"
#include "core/tensor_names.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace dr2 {

namespace {

using tensor_names::applyRule;
using tensor_names::splitIndexed;

const std::string kBranches = "stack.branches.";

// A rename rule: an external and an internal spelling, either whole names or prefixes ending in '.'.
struct Rule {
    const char* external;
    const char* internal;
    int branch = 0; ///< inside a layer: 0 attention branch, 1 MLP branch
};

const std::vector<Rule>& topRules(NamingScheme scheme)
{
    static const std::vector<Rule> kTimm = { { "patch_embed.proj.", "patch_embed." }, { "cls_token", "cls_token" },
        { "pos_embed", "pos_embed" }, { "norm.", "norm." }, { "fc_norm.", "fc_norm." }, { "head.", "head." } };
    static const std::vector<Rule> kTorchvision = { { "conv_proj.", "patch_embed." }, { "class_token", "cls_token" },
        { "encoder.pos_embedding", "pos_embed" }, { "encoder.ln.", "norm." }, { "heads.head.", "head." } };
    static const std::vector<Rule> kDr2 = { { "patch_embed.", "patch_embed." }, { "cls_token", "cls_token" },
        { "pos_embed", "pos_embed" }, { "norm.", "norm." }, { "fc_norm.", "fc_norm." }, { "head.", "head." } };
    return scheme == NamingScheme::Timm ? kTimm : scheme == NamingScheme::Torchvision ? kTorchvision : kDr2;
}

// The first rule per (branch, internal) is the one used for export.
const std::vector<Rule>& layerRules(NamingScheme scheme)
{
    static const std::vector<Rule> kTimm = { { "norm1.", "norm.", 0 }, { "attn.qkv.", "qkv.", 0 },
        { "attn.proj.", "proj.", 0 }, { "ls1.gamma", "gamma", 0 }, { "gamma_1", "gamma", 0 }, { "norm2.", "norm.", 1 },
        { "mlp.fc1.", "fc1.", 1 }, { "mlp.fc2.", "fc2.", 1 }, { "ls2.gamma", "gamma", 1 }, { "gamma_2", "gamma", 1 } };
    static const std::vector<Rule> kTorchvision = { { "ln_1.", "norm.", 0 },
        { "self_attention.in_proj_weight", "qkv.weight", 0 }, { "self_attention.in_proj_bias", "qkv.bias", 0 },
        { "self_attention.out_proj.", "proj.", 0 }, { "ln_2.", "norm.", 1 }, { "mlp.0.", "fc1.", 1 },
        { "mlp.linear_1.", "fc1.", 1 }, { "mlp.3.", "fc2.", 1 }, { "mlp.linear_2.", "fc2.", 1 } };
    return scheme == NamingScheme::Timm ? kTimm : kTorchvision;
}

std::string layerPrefix(NamingScheme scheme)
{
    return scheme == NamingScheme::Timm ? "blocks." : "encoder.layers.encoder_layer_";
}

std::string shapeString(const torch::Tensor& t)
{
    return c10::str(t.sizes());
}

std::optional<int64_t> metadataInt(const Metadata& metadata, std::initializer_list<const char*> keys)
{
    for (const char* key : keys) {
        auto it = metadata.find(key);
        if (it == metadata.end())
            continue;
        try {
            size_t used = 0;
            const int64_t value = std::stoll(it->second, &used);
            if (used == it->second.size())
                return value;
        } catch (const std::exception&) {
        }
        throw std::runtime_error(std::string("checkpoint metadata '") + key + "': expected an integer, found '"
            + it->second + "'");
    }
    // Our own exports record the architecture as JSON; "architecture" is an older spelling of the same.
    for (const char* archKey : { metadata_key::kArchitecture, "architecture" }) {
        auto arch = metadata.find(archKey);
        if (arch == metadata.end())
            continue;
        const auto json = nlohmann::json::parse(arch->second, nullptr, /*allow_exceptions=*/false);
        for (const char* key : keys)
            if (json.is_object() && json.contains(key) && json[key].is_number_integer())
                return json[key].get<int64_t>();
    }
    return std::nullopt;
}

} // namespace

std::string toString(NamingScheme scheme)
{
    switch (scheme) {
    case NamingScheme::Dr2: return "dr2";
    case NamingScheme::Timm: return "timm";
    case NamingScheme::Torchvision: return "torchvision";
    }
    return "unknown";
}

NamingScheme parseNamingScheme(const std::string& name)
{
    if (name == "dr2")
        return NamingScheme::Dr2;
    if (name == "timm")
        return NamingScheme::Timm;
    if (name == "torchvision")
        return NamingScheme::Torchvision;
    throw std::invalid_argument("naming scheme '" + name + "': expected dr2, timm or torchvision");
}

NamingScheme detectNamingScheme(const StateDict& tensors, const std::string& source)
{
    auto has = [&](const std::string& prefix) {
        return std::any_of(tensors.begin(), tensors.end(),
            [&](const auto& entry) { return entry.first.compare(0, prefix.size(), prefix) == 0; });
    };
    if (has("conv_proj.") || has("encoder.layers.encoder_layer_") || has("class_token"))
        return NamingScheme::Torchvision;
    if (has("patch_embed.proj.") || has("blocks."))
        return NamingScheme::Timm;
    if (has("patch_embed.") || has(kBranches))
        return NamingScheme::Dr2;
    std::string sample;
    for (size_t i = 0; i < std::min<size_t>(tensors.size(), 4); ++i)
        sample += (i ? ", " : "") + tensors[i].first;
    throw std::runtime_error("checkpoint " + source
        + ": not a ViT with known names: expected timm (patch_embed.proj.weight, blocks.N...), torchvision "
          "(conv_proj.weight, encoder.layers.encoder_layer_N...) or dr2 (patch_embed.weight, stack.branches.N...), found "
        + std::to_string(tensors.size()) + " tensors [" + sample + (tensors.size() > 4 ? ", ..." : "") + "]");
}

StateDict toInternalNames(const StateDict& tensors, NamingScheme scheme)
{
    if (scheme == NamingScheme::Dr2)
        return tensors;
    StateDict out;
    std::map<int64_t, std::pair<torch::Tensor, torch::Tensor>> qvBias; // VideoMAE: layer → (q_bias, v_bias)
    std::map<int64_t, size_t> qvSlot;
    for (const auto& [name, tensor] : tensors) {
        std::string mapped = name;
        int64_t layer = 0;
        std::string rest;
        if (splitIndexed(name, layerPrefix(scheme), layer, rest)) {
            if (scheme == NamingScheme::Timm && (rest == "attn.q_bias" || rest == "attn.v_bias")) {
                auto& pair = qvBias[layer];
                (rest == "attn.q_bias" ? pair.first : pair.second) = tensor;
                if (!qvSlot.count(layer)) {
                    qvSlot[layer] = out.size();
                    out.emplace_back(kBranches + std::to_string(2 * layer) + ".qkv.bias", torch::Tensor());
                }
                continue;
            }
            for (const auto& rule : layerRules(scheme))
                if (applyRule(rest, rule.external, rule.internal, rest)) {
                    mapped = kBranches + std::to_string(2 * layer + rule.branch) + "." + rest;
                    break;
                }
        } else {
            for (const auto& rule : topRules(scheme))
                if (applyRule(name, rule.external, rule.internal, mapped))
                    break;
        }
        out.emplace_back(mapped, tensor);
    }
    for (const auto& [layer, pair] : qvBias) {
        auto& slot = out[qvSlot[layer]];
        if (!pair.first.defined() || !pair.second.defined()) {
            // Keep the one that is there under its own name: the loader reports it as unexpected.
            const bool hasQ = pair.first.defined();
            slot = { layerPrefix(scheme) + std::to_string(layer) + (hasQ ? ".attn.q_bias" : ".attn.v_bias"),
                hasQ ? pair.first : pair.second };
            continue;
        }
        slot.second = torch::cat({ pair.first, torch::zeros_like(pair.second), pair.second });
    }
    return out;
}

std::string externalName(const std::string& internalName, NamingScheme scheme)
{
    if (scheme == NamingScheme::Dr2)
        return internalName;
    int64_t branch = 0;
    std::string rest;
    std::string out;
    if (splitIndexed(internalName, kBranches, branch, rest)) {
        for (const auto& rule : layerRules(scheme))
            if (rule.branch == branch % 2 && applyRule(rest, rule.internal, rule.external, out))
                return layerPrefix(scheme) + std::to_string(branch / 2) + "." + out;
        return internalName;
    }
    for (const auto& rule : topRules(scheme))
        if (applyRule(internalName, rule.internal, rule.external, out))
            return out;
    return internalName;
}

StateDict fromInternalNames(const StateDict& tensors, NamingScheme scheme)
{
    StateDict out;
    out.reserve(tensors.size());
    for (const auto& [name, tensor] : tensors)
        out.emplace_back(externalName(name, scheme), tensor);
    return out;
}

ViTCheckpointInfo describeViT(const LoadedCheckpoint& checkpoint, const ViTOverrides& overrides)
{
    const std::string& path = checkpoint.path;
    auto fail = [&](const std::string& what) -> void { throw std::runtime_error("checkpoint " + path + ": " + what); };

    ViTCheckpointInfo info;
    info.scheme = detectNamingScheme(checkpoint.tensors, path);
    const StateDict tensors = toInternalNames(checkpoint.tensors, info.scheme);
    for (const auto& [name, tensor] : checkpoint.tensors)
        info.parameterCount += tensor.numel();
    auto find = [&](const std::string& name) { return findTensor(tensors, name); };
    auto ext = [&](const std::string& name) { return externalName(name, info.scheme); };

    ViTOptions& o = info.options;
    const torch::Tensor* patch = find("patch_embed.weight");
    if (!patch)
        fail("no patch embedding tensor " + ext("patch_embed.weight"));
    if ((patch->dim() != 4 && patch->dim() != 5) || patch->size(-1) != patch->size(-2))
        fail("tensor " + ext("patch_embed.weight") + ": expected [dim, channels, (tubelet,) patch, patch], found "
            + shapeString(*patch));
    info.video = patch->dim() == 5;
    o.embedDim = patch->size(0);
    o.inChannels = patch->size(1);
    o.patchSize = patch->size(-1);
    if (info.video)
        o.tubeletSize = patch->size(2);

    int64_t branches = 0;
    for (const auto& [name, tensor] : tensors) {
        int64_t index = 0;
        std::string rest;
        if (splitIndexed(name, kBranches, index, rest))
            branches = std::max(branches, index + 1);
    }
    if (branches == 0)
        fail("no transformer blocks (" + ext(kBranches + "0.qkv.weight") + ", ...)");
    o.depth = (branches + 1) / 2;
    // Every layer holds several tensors: names claiming more layers than the file has tensors are a lie, and
    // believing them would build (allocate) that many layers before the missing tensors are reported.
    if (o.depth > static_cast<int64_t>(tensors.size()))
        fail("block names claim " + std::to_string(o.depth) + " layers, but the file holds only "
            + std::to_string(tensors.size()) + " tensors");
    o.qkvBias = false;
    o.layerScaleInit = 0.0;
    o.mlpRatio = 0.0;
    for (int64_t layer = 0; layer < o.depth; ++layer) {
        const std::string attn = kBranches + std::to_string(2 * layer) + ".";
        const std::string mlp = kBranches + std::to_string(2 * layer + 1) + ".";
        o.qkvBias = o.qkvBias || find(attn + "qkv.bias");
        if (find(attn + "gamma") || find(mlp + "gamma"))
            o.layerScaleInit = 1.0; // any non-zero value: the file's gammas replace it
        const torch::Tensor* fc1 = find(mlp + "fc1.weight");
        if (fc1 && o.mlpRatio == 0.0 && fc1->dim() == 2)
            o.mlpRatio = static_cast<double>(fc1->size(0)) / static_cast<double>(o.embedDim);
    }
    if (o.mlpRatio == 0.0)
        fail("no MLP weight " + ext(kBranches + "1.fc1.weight") + " to infer the MLP ratio from");

    o.classToken = find("cls_token") != nullptr;
    const bool hasFcNorm = find("fc_norm.weight") != nullptr;
    o.globalPool = hasFcNorm || !o.classToken;
    o.fcNorm = hasFcNorm;
    if (overrides.globalPool) {
        o.globalPool = *overrides.globalPool;
        o.fcNorm = o.globalPool && hasFcNorm;
    }
    const torch::Tensor* head = find("head.weight");
    info.checkpointNumClasses = head && head->dim() == 2 ? head->size(0) : 0;

    const int64_t prefix = o.numPrefixTokens();
    const torch::Tensor* pos = find("pos_embed");
    if (info.video) {
        o.numFrames = overrides.numFrames.value_or(metadataInt(checkpoint.metadata, { "num_frames" }).value_or(16));
        if (o.numFrames <= 0 || o.numFrames % o.tubeletSize != 0)
            fail("frames " + std::to_string(o.numFrames) + ": expected a positive multiple of the tubelet size "
                + std::to_string(o.tubeletSize) + " (--frames)");
    }
    if (pos) {
        if (pos->dim() != 3 || pos->size(0) != 1 || pos->size(2) != o.embedDim || pos->size(1) <= prefix)
            fail("tensor " + ext("pos_embed") + ": expected [1, tokens, " + std::to_string(o.embedDim) + "], found "
                + shapeString(*pos));
        int64_t spatial = pos->size(1) - prefix;
        if (info.video) {
            const int64_t temporal = o.numFrames / o.tubeletSize;
            if (spatial % temporal != 0)
                fail("tensor " + ext("pos_embed") + " " + shapeString(*pos) + " does not split into "
                    + std::to_string(temporal) + " temporal positions for " + std::to_string(o.numFrames)
                    + " frames (--frames)");
            spatial /= temporal;
        }
        const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(spatial))));
        if (grid * grid != spatial)
            fail("tensor " + ext("pos_embed") + " " + shapeString(*pos) + ": " + std::to_string(spatial)
                + " patch positions are not a square grid");
        info.checkpointImageSize = grid * o.patchSize;
    } else {
        o.fixedPosEmbed = true;
        info.checkpointImageSize = overrides.imageSize.value_or(
            metadataInt(checkpoint.metadata, { "image_size", "img_size" }).value_or(224));
        info.notes.push_back("no position embedding in the file: fixed sinusoid table");
    }

    if (overrides.heads) {
        o.heads = *overrides.heads;
        info.headsSource = "override";
    } else if (auto heads = metadataInt(checkpoint.metadata, { "num_heads", "heads" })) {
        o.heads = *heads;
        info.headsSource = "metadata";
    } else {
        static const std::map<int64_t, int64_t> kTable = { { 192, 3 }, { 384, 6 }, { 768, 12 }, { 1024, 16 },
            { 1280, 16 } };
        auto it = kTable.find(o.embedDim);
        if (it == kTable.end())
            fail("attention heads unknown for embedding dim " + std::to_string(o.embedDim)
                + " (no metadata, not a standard size 192/384/768/1024/1280): pass --heads N");
        o.heads = it->second;
        info.headsSource = "standard size table";
    }
    o.imageSize = overrides.imageSize.value_or(info.checkpointImageSize);
    if (overrides.patchSize)
        o.patchSize = *overrides.patchSize;
    o.numClasses = overrides.numClasses.value_or(info.checkpointNumClasses);
    o.dropout = o.attnDropout = o.dropPath = 0.0;
    try {
        o.validate();
    } catch (const std::invalid_argument& error) {
        fail(std::string("inferred architecture is invalid: ") + error.what());
    }
    return info;
}

ViT loadViT(const std::string& path, const ViTLoadOptions& options, ViTLoadReport* report)
{
    return loadViT(readCheckpoint(path), options, report);
}

ViT loadViT(const LoadedCheckpoint& checkpoint, const ViTLoadOptions& options, ViTLoadReport* reportOut)
{
    ViTLoadReport report;
    report.format = checkpoint.format;
    report.notes = checkpoint.notes;
    report.info = describeViT(checkpoint, options.overrides);
    const ViTCheckpointInfo& info = report.info;
    report.notes.insert(report.notes.end(), info.notes.begin(), info.notes.end());
    ViTOptions vitOptions = info.options;
    vitOptions.stack = options.stack;
    vitOptions.dropout = options.dropout;
    vitOptions.attnDropout = options.dropout;
    vitOptions.dropPath = options.dropPath;
    ViT model(vitOptions);

    report.oldNumClasses = info.checkpointNumClasses;
    report.newNumClasses = vitOptions.numClasses;
    report.headReplaced = vitOptions.numClasses != info.checkpointNumClasses;

    auto isHead = [](const std::string& name) { return name.compare(0, 5, "head.") == 0; };
    StateDictCopyOptions copy;
    copy.source = checkpoint.path;
    copy.allowMissing = options.allowMissing;
    copy.externalName = [&](const std::string& name) { return externalName(name, info.scheme); };
    // A replaced head keeps the file's classifier out of the model, and a model without a head (the task builds it)
    // takes none of the file's head tensors, whatever their layout (a segmentation head): the caller gets them in
    // report.headTensors.
    copy.skip = [&](const std::string& name) {
        return (report.headReplaced || vitOptions.numClasses == 0) && isHead(name);
    };
    copy.optional = [&](const std::string& name) { return name == "pos_embed" && vitOptions.fixedPosEmbed; };
    copy.adapt = [&](const std::string& name, const torch::Tensor& source, const torch::Tensor& target,
                     std::vector<std::string>&) {
        if (name != "pos_embed" || vitOptions.fixedPosEmbed || source.dim() != 3 || source.sizes() == target.sizes()
            || vitOptions.imageSize == info.checkpointImageSize)
            return source;
        report.oldGrid = info.checkpointImageSize / info.options.patchSize;
        report.newGrid = vitOptions.gridSize();
        report.posEmbedResized = true;
        const int64_t prefixTokens = vitOptions.numPrefixTokens();
        if (vitOptions.numFrames == 0)
            return resizePositionEmbedding(source, prefixTokens, report.newGrid);
        // Resize each temporal slice of a learned video table on its spatial grid.
        const int64_t temporal = vitOptions.numFrames / vitOptions.tubeletSize;
        const auto slices = source.narrow(1, prefixTokens, source.size(1) - prefixTokens).chunk(temporal, 1);
        std::vector<torch::Tensor> parts { source.narrow(1, 0, prefixTokens) };
        for (const auto& slice : slices)
            parts.push_back(resizePositionEmbedding(slice, 0, report.newGrid));
        return torch::cat(parts, 1);
    };
    StateDictCopyReport copied = copyStateDict(*model, toInternalNames(checkpoint.tensors, info.scheme), copy);
    report.missingKeys = std::move(copied.missingKeys);
    report.unexpectedKeys = std::move(copied.unexpectedKeys);
    report.nanTensors = std::move(copied.nanTensors);
    report.notes.insert(report.notes.end(), copied.notes.begin(), copied.notes.end());
    report.headTensors = std::move(copied.skipped);
    if (reportOut)
        *reportOut = std::move(report);
    return model;
}

} // namespace dr2
