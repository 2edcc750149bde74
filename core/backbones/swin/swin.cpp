#include "core/backbones/swin/swin.h"

#include "core/tensor_names.h"
#include "core/weight_gradients.h"

#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace dr2 {

namespace F = torch::nn::functional;

namespace {

[[noreturn]] void badField(const std::string& field, const std::string& expected, const std::string& found)
{
    throw std::invalid_argument("Swin option " + field + ": expected " + expected + ", found " + found);
}

std::string listString(const std::vector<int64_t>& values, const char* sep = ", ")
{
    std::string out;
    for (size_t i = 0; i < values.size(); ++i)
        out += (i ? sep : "") + std::to_string(values[i]);
    return out;
}

std::string extentString(const Extent3& e, bool withFrames)
{
    return (withFrames ? std::to_string(e[0]) + "×" : std::string()) + std::to_string(e[1]) + "×" + std::to_string(e[2]);
}

// [B, P0, P1, P2, C] → [B·windows, N, C], windows in (frame, row, column) order and tokens likewise inside each.
torch::Tensor partitionWindows(const torch::Tensor& x, const Extent3& w)
{
    const int64_t b = x.size(0);
    const int64_t c = x.size(4);
    return x.view({ b, x.size(1) / w[0], w[0], x.size(2) / w[1], w[1], x.size(3) / w[2], w[2], c })
        .permute({ 0, 1, 3, 5, 2, 4, 6, 7 })
        .reshape({ -1, w[0] * w[1] * w[2], c });
}

// The inverse of partitionWindows for a padded map of `padded` positions.
torch::Tensor reverseWindows(const torch::Tensor& windows, const Extent3& w, const Extent3& padded, int64_t batch)
{
    const int64_t c = windows.size(-1);
    return windows.view({ batch, padded[0] / w[0], padded[1] / w[1], padded[2] / w[2], w[0], w[1], w[2], c })
        .permute({ 0, 1, 4, 2, 5, 3, 6, 7 })
        .reshape({ batch, padded[0], padded[1], padded[2], c });
}

} // namespace

std::string toString(WindowFit fit)
{
    return fit == WindowFit::Pad ? "pad" : "shrink";
}

WindowFit parseWindowFit(const std::string& name)
{
    if (name == "pad")
        return WindowFit::Pad;
    if (name == "shrink")
        return WindowFit::Shrink;
    throw std::invalid_argument("window fit '" + name + "': expected pad or shrink");
}

int64_t SwinOptions::totalBlocks() const
{
    return std::accumulate(depths.begin(), depths.end(), int64_t { 0 });
}

void SwinOptions::validate() const
{
    if (embedDim <= 0)
        badField("embed_dim", "> 0", std::to_string(embedDim));
    if (depths.empty() || depths.size() > 8)
        badField("depths", "1 to 8 stages", std::to_string(depths.size()) + " stages");
    if (heads.size() != depths.size())
        badField("heads", "one count per stage (" + std::to_string(depths.size()) + ")", "[" + listString(heads) + "]");
    for (size_t s = 0; s < depths.size(); ++s) {
        if (depths[s] <= 0)
            badField("depths", "positive block counts", "[" + listString(depths) + "]");
        const int64_t dim = stageDim(static_cast<int64_t>(s));
        if (heads[s] <= 0 || dim % heads[s] != 0)
            badField("heads", "stage " + std::to_string(s + 1) + ": a positive divisor of its width " + std::to_string(dim),
                std::to_string(heads[s]));
    }
    for (int i = 0; i < 3; ++i) {
        if (window[i] <= 0)
            badField("window", "positive sizes", extentString(window, true));
        if (patch[i] <= 0)
            badField("patch", "positive sizes", extentString(patch, true));
    }
    if (!video() && (window[0] != 1 || patch[0] != 1))
        badField("window/patch", "one frame for an image model", extentString(window, true) + " / " + extentString(patch, true));
    if (mlpRatio <= 0.0)
        badField("mlp_ratio", "> 0", std::to_string(mlpRatio));
    if (inChannels <= 0)
        badField("in_channels", "> 0", std::to_string(inChannels));
    if (imageHeight < patch[1] || imageWidth < patch[2])
        badField("image_size", "at least one patch (" + std::to_string(patch[1]) + "×" + std::to_string(patch[2]) + ")",
            std::to_string(imageHeight) + "×" + std::to_string(imageWidth));
    if (numFrames < 0)
        badField("num_frames", ">= 0", std::to_string(numFrames));
    if (numClasses < 0)
        badField("num_classes", ">= 0", std::to_string(numClasses));
    for (auto [name, p] : { std::pair { "dropout", dropout }, { "attn_dropout", attnDropout }, { "drop_path", dropPath } })
        if (p < 0.0 || p >= 1.0)
            badField(name, "a probability in [0, 1)", std::to_string(p));
}

std::vector<std::string> swinPresetNames()
{
    return { "swin-t", "swin-s", "swin-b" };
}

std::vector<std::string> videoSwinPresetNames()
{
    return { "video-swin-t", "video-swin-s", "video-swin-b" };
}

SwinOptions swinPreset(const std::string& name)
{
    const bool video = name.rfind("video-", 0) == 0;
    const std::string size = video ? name.substr(6) : name;
    SwinOptions o;
    if (size == "swin-t") {
        o.embedDim = 96, o.depths = { 2, 2, 6, 2 }, o.heads = { 3, 6, 12, 24 };
    } else if (size == "swin-s") {
        o.embedDim = 96, o.depths = { 2, 2, 18, 2 }, o.heads = { 3, 6, 12, 24 };
    } else if (size == "swin-b") {
        o.embedDim = 128, o.depths = { 2, 2, 18, 2 }, o.heads = { 4, 8, 16, 32 };
    } else {
        std::string names;
        for (const auto& list : { swinPresetNames(), videoSwinPresetNames() })
            for (const auto& known : list)
                names += (names.empty() ? "" : ", ") + known;
        throw std::invalid_argument("model '" + name + "': expected one of " + names);
    }
    if (video) {
        o.patch = { 2, 4, 4 };
        o.window = { 8, 7, 7 };
        o.numFrames = 32;
        o.numClasses = 400;
        o.windowFit = WindowFit::Shrink;
    }
    return o;
}

std::vector<int64_t> scaleDepths(const std::vector<int64_t>& depths, int64_t totalBlocks)
{
    const int64_t base = std::accumulate(depths.begin(), depths.end(), int64_t { 0 });
    if (depths.empty() || base <= 0 || totalBlocks < static_cast<int64_t>(depths.size()))
        throw std::invalid_argument("depth " + std::to_string(totalBlocks) + ": expected at least one block for each of "
            + std::to_string(depths.size()) + " stages");
    std::vector<int64_t> out;
    int64_t assigned = 0;
    for (size_t s = 0; s < depths.size(); ++s) {
        const double share = static_cast<double>(depths[s]) * static_cast<double>(totalBlocks) / static_cast<double>(base);
        out.push_back(std::max<int64_t>(1, std::llround(share)));
        assigned += out.back();
    }
    // Rounding may miss the total by a few blocks: settle the difference on the deepest stage.
    auto deepest = std::max_element(out.begin(), out.end());
    *deepest = std::max<int64_t>(1, *deepest + totalBlocks - assigned);
    return out;
}

torch::Tensor relativePositionIndex(const Extent3& window)
{
    const auto [d, h, w] = window;
    const int64_t n = d * h * w;
    auto index = torch::empty({ n, n }, torch::kInt64);
    auto out = index.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
            const int64_t dd = i / (h * w) - j / (h * w) + d - 1;
            const int64_t dh = (i / w) % h - (j / w) % h + h - 1;
            const int64_t dw = i % w - j % w + w - 1;
            out[i][j] = dd * (2 * h - 1) * (2 * w - 1) + dh * (2 * w - 1) + dw;
        }
    return index;
}

torch::Tensor resizeRelativePositionTable(const torch::Tensor& table, const Extent3& from, const Extent3& to)
{
    const int64_t rows = (2 * from[0] - 1) * (2 * from[1] - 1) * (2 * from[2] - 1);
    if (table.dim() != 2 || table.size(0) != rows)
        throw std::invalid_argument("relative position bias table " + c10::str(table.sizes()) + ": expected ["
            + std::to_string(rows) + ", heads] for window " + extentString(from, true));
    if (from == to)
        return table;
    const int64_t heads = table.size(1);
    // [frames, rows, cols, heads] → [heads, frames, rows, cols]: the heads are the channels being resized.
    torch::Tensor grid = table.to(torch::kFloat32)
                             .reshape({ 2 * from[0] - 1, 2 * from[1] - 1, 2 * from[2] - 1, heads })
                             .permute({ 3, 0, 1, 2 });
    const std::vector<int64_t> plane { 2 * to[1] - 1, 2 * to[2] - 1 };
    if (from[1] != to[1] || from[2] != to[2]) // bicubic over each frame offset's plane, as timm
        grid = F::interpolate(grid, F::InterpolateFuncOptions().size(plane).mode(torch::kBicubic).align_corners(false));
    if (from[0] != to[0]) // linear along the frame offsets
        grid = F::interpolate(grid.unsqueeze(0),
            F::InterpolateFuncOptions()
                .size(std::vector<int64_t> { 2 * to[0] - 1, plane[0], plane[1] })
                .mode(torch::kTrilinear)
                .align_corners(false))
                   .squeeze(0);
    return grid.permute({ 1, 2, 3, 0 }).reshape({ -1, heads }).to(table.scalar_type());
}

WindowLayout windowLayout(const Extent3& size, const Extent3& window, const Extent3& shift, WindowFit fit)
{
    WindowLayout layout { window, shift, {} };
    for (int i = 0; i < 3; ++i) {
        if (fit == WindowFit::Shrink && size[i] <= window[i]) {
            layout.window[i] = size[i];
            layout.shift[i] = 0;
        }
        const int64_t w = layout.window[i];
        layout.padded[i] = (size[i] + w - 1) / w * w;
        // A window that covers the whole (padded) side sees every position already: shifting would only wrap it.
        if (layout.window[i] >= layout.padded[i])
            layout.shift[i] = 0;
    }
    return layout;
}

torch::Tensor shiftedWindowMask(const WindowLayout& layout, const torch::TensorOptions& options)
{
    // Label the regions the cyclic shift brings together: along each side, [0, P−w), [P−w, P−s) and [P−s, P) (the
    // releases' three slices); positions from different regions must not attend to each other.
    std::vector<torch::Tensor> labels;
    for (int i = 0; i < 3; ++i) {
        const int64_t p = layout.padded[i];
        auto label = torch::zeros({ p }, torch::kInt64);
        if (layout.shift[i] > 0) {
            label.narrow(0, p - layout.window[i], layout.window[i]).fill_(1);
            label.narrow(0, p - layout.shift[i], layout.shift[i]).fill_(2);
        }
        labels.push_back(label);
    }
    torch::Tensor region = labels[0].view({ -1, 1, 1 }) * 9 + labels[1].view({ 1, -1, 1 }) * 3 + labels[2].view({ 1, 1, -1 });
    torch::Tensor windows = partitionWindows(region.unsqueeze(0).unsqueeze(-1), layout.window).squeeze(-1); // [nW, N]
    torch::Tensor different = windows.unsqueeze(1) != windows.unsqueeze(2);
    return torch::zeros(different.sizes(), options).masked_fill_(different.to(options.device()), -100.0);
}

WindowAttentionBranchImpl::WindowAttentionBranchImpl(const WindowAttentionOptions& options)
    : m_options(options)
{
    if (options.dim <= 0 || options.heads <= 0 || options.dim % options.heads != 0)
        throw std::invalid_argument("window attention branch: width " + std::to_string(options.dim)
            + " must be a positive multiple of the head count " + std::to_string(options.heads));
    norm = register_module("norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({ options.dim }).eps(options.layerNormEps)));
    qkv = register_module("qkv",
        torch::nn::Linear(torch::nn::LinearOptions(options.dim, 3 * options.dim).bias(options.qkvBias)));
    proj = register_module("proj", torch::nn::Linear(options.dim, options.dim));
    initTransformerLinear(qkv);
    initTransformerLinear(proj);
    const auto& w = options.window;
    relativePositionBiasTable = register_parameter("relative_position_bias_table",
        torch::zeros({ (2 * w[0] - 1) * (2 * w[1] - 1) * (2 * w[2] - 1), options.heads }));
    {
        torch::NoGradGuard noGrad;
        torch::nn::init::normal_(relativePositionBiasTable, 0.0, 0.02).clamp_(-0.04, 0.04);
    }
    m_index = dr2::relativePositionIndex(w);
}

const torch::Tensor& WindowAttentionBranchImpl::relativePositionIndex()
{
    if (m_index.device() != relativePositionBiasTable.device())
        m_index = m_index.to(relativePositionBiasTable.device());
    return m_index;
}

const torch::Tensor& WindowAttentionBranchImpl::maskFor(const WindowLayout& layout, const torch::TensorOptions& options)
{
    const bool same = m_mask.defined() && m_maskLayout.window == layout.window && m_maskLayout.shift == layout.shift
        && m_maskLayout.padded == layout.padded && m_mask.device() == options.device()
        && m_mask.scalar_type() == c10::typeMetaToScalarType(options.dtype());
    if (!same) {
        m_mask = shiftedWindowMask(layout, options);
        m_maskLayout = layout;
    }
    return m_mask;
}

torch::Tensor WindowAttentionBranchImpl::forward(const torch::Tensor& x)
{
    if (x.dim() != 5 || x.size(4) != m_options.dim)
        throw std::invalid_argument("window attention branch input: expected [B, T, H, W, " + std::to_string(m_options.dim)
            + "], found " + c10::str(x.sizes()));
    const int64_t batch = x.size(0);
    const Extent3 size { x.size(1), x.size(2), x.size(3) };
    const WindowLayout layout = windowLayout(size, m_options.window, m_options.shift, m_options.fit);
    const Extent3& w = layout.window;
    const Extent3& s = layout.shift;
    const int64_t tokens = layout.tokens();
    const int64_t dim = m_options.dim;
    const int64_t heads = m_options.heads;
    const int64_t headDim = dim / heads;

    torch::Tensor h = norm(x);
    if (layout.padded != size) // F.pad's order: last dimension first
        h = F::pad(h, F::PadFuncOptions({ 0, 0, 0, layout.padded[2] - size[2], 0, layout.padded[1] - size[1], 0,
                          layout.padded[0] - size[0] }));
    if (layout.shifted())
        h = torch::roll(h, { -s[0], -s[1], -s[2] }, { 1, 2, 3 });
    torch::Tensor windows = partitionWindows(h, w); // [B·nW, N, C]
    const int64_t count = windows.size(0);

    torch::Tensor qkvOut = linearLayer(qkv, windows).reshape({ count, tokens, 3, heads, headDim }).permute({ 2, 0, 3, 1, 4 });
    torch::Tensor q = qkvOut[0] * (1.0 / std::sqrt(static_cast<double>(headDim)));
    torch::Tensor attn = torch::matmul(q, qkvOut[1].transpose(-2, -1)); // [B·nW, heads, N, N]
    // The first N×N entries of the configured window's index: all of it unless the window shrank (Video Swin).
    torch::Tensor index = relativePositionIndex().narrow(0, 0, tokens).narrow(1, 0, tokens).reshape({ -1 });
    torch::Tensor bias = relativePositionBiasTable.index_select(0, index).view({ tokens, tokens, heads }).permute({ 2, 0, 1 });
    attn = attn + bias.unsqueeze(0);
    if (layout.shifted()) {
        const torch::Tensor& mask = maskFor(layout, attn.options()); // [nW, N, N]
        const int64_t perSample = mask.size(0);
        attn = (attn.view({ count / perSample, perSample, heads, tokens, tokens }) + mask.unsqueeze(1).unsqueeze(0))
                   .view({ count, heads, tokens, tokens });
    }
    attn = branchDropout(torch::softmax(attn, -1), m_options.attnDropout, is_training());
    torch::Tensor out = torch::matmul(attn, qkvOut[2]).transpose(1, 2).reshape({ count, tokens, dim });
    out = branchDropout(linearLayer(proj, out), m_options.dropout, is_training());

    out = reverseWindows(out, w, layout.padded, batch);
    if (layout.shifted())
        out = torch::roll(out, { s[0], s[1], s[2] }, { 1, 2, 3 });
    if (layout.padded != size)
        out = out.narrow(1, 0, size[0]).narrow(2, 0, size[1]).narrow(3, 0, size[2]);
    return dropPath(out.contiguous(), m_options.dropPath, is_training());
}

PatchMergingImpl::PatchMergingImpl(int64_t dim, double layerNormEps)
{
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({ 4 * dim }).eps(layerNormEps)));
    reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
    initTransformerLinear(reduction);
}

torch::Tensor PatchMergingImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = x;
    const int64_t padH = x.size(2) % 2;
    const int64_t padW = x.size(3) % 2;
    if (padH || padW)
        h = F::pad(h, F::PadFuncOptions({ 0, 0, 0, padW, 0, padH }));
    auto pick = [&](int64_t row, int64_t col) {
        return h.slice(2, row, c10::nullopt, 2).slice(3, col, c10::nullopt, 2);
    };
    return reduction(norm(torch::cat({ pick(0, 0), pick(1, 0), pick(0, 1), pick(1, 1) }, -1)));
}

SwinImpl::SwinImpl(SwinOptions options)
    : m_options(std::move(options))
{
    m_options.validate();
    const SwinOptions& o = m_options;
    if (o.video())
        patchEmbed3d = register_module("patch_embed",
            torch::nn::Conv3d(torch::nn::Conv3dOptions(o.inChannels, o.embedDim, { o.patch[0], o.patch[1], o.patch[2] })
                                  .stride({ o.patch[0], o.patch[1], o.patch[2] })));
    else
        patchEmbed = register_module("patch_embed",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(o.inChannels, o.embedDim, { o.patch[1], o.patch[2] })
                                  .stride({ o.patch[1], o.patch[2] })));
    if (o.patchNorm)
        patchNorm = register_module("patch_norm",
            torch::nn::LayerNorm(torch::nn::LayerNormOptions({ o.embedDim }).eps(o.layerNormEps)));

    stageList = register_module("stages", torch::nn::ModuleList());
    mergeList = register_module("merges", torch::nn::ModuleList());
    const Extent3 halfWindow { o.window[0] / 2, o.window[1] / 2, o.window[2] / 2 };
    const int64_t total = o.totalBlocks();
    int64_t blockId = 0;
    for (int64_t s = 0; s < o.stages(); ++s) {
        const int64_t dim = o.stageDim(s);
        std::vector<torch::nn::AnyModule> branches;
        for (int64_t b = 0; b < o.depths[static_cast<size_t>(s)]; ++b, ++blockId) {
            // Stochastic depth grows linearly over all blocks of all stages (torchvision, timm, Video Swin).
            const double dropPath = total > 1
                ? o.dropPath * static_cast<double>(blockId) / static_cast<double>(total - 1)
                : o.dropPath;
            WindowAttentionOptions attention;
            attention.dim = dim;
            attention.heads = o.heads[static_cast<size_t>(s)];
            attention.window = o.window;
            attention.shift = b % 2 == 1 ? halfWindow : Extent3 { 0, 0, 0 };
            attention.fit = o.windowFit;
            attention.qkvBias = o.qkvBias;
            attention.dropout = o.dropout;
            attention.attnDropout = o.attnDropout;
            attention.dropPath = dropPath;
            attention.layerNormEps = o.layerNormEps;
            BranchOptions mlp;
            mlp.dim = dim;
            mlp.mlpRatio = o.mlpRatio;
            mlp.dropout = o.dropout;
            mlp.dropPath = dropPath;
            mlp.layerNormEps = o.layerNormEps;
            branches.emplace_back(WindowAttentionBranch(attention));
            branches.emplace_back(MlpBranch(mlp));
        }
        m_stages.emplace_back(std::move(branches), o.stack);
        stageList->push_back(m_stages.back());
        if (s + 1 < o.stages())
            mergeList->push_back(PatchMerging(dim, o.layerNormEps));
    }
    norm = register_module("norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({ o.numFeatures() }).eps(o.layerNormEps)));
    replaceHead(o.numClasses);
}

void SwinImpl::replaceHead(int64_t numClasses)
{
    if (numClasses < 0)
        badField("num_classes", ">= 0", std::to_string(numClasses));
    m_options.numClasses = numClasses;
    replaceClassifierHead(*this, head, m_options.numFeatures(), numClasses, norm->weight);
}

std::vector<Dr2StackImpl*> SwinImpl::stacks()
{
    std::vector<Dr2StackImpl*> out;
    for (auto& stage : m_stages)
        out.push_back(stage.get());
    return out;
}

Dr2StackImpl& SwinImpl::stage(int64_t s)
{
    return *m_stages.at(static_cast<size_t>(s));
}

void SwinImpl::checkInput(const torch::Tensor& input) const
{
    const SwinOptions& o = m_options;
    const bool ok = input.dim() == (o.video() ? 5 : 4) && input.size(1) == o.inChannels
        && (!o.video() || input.size(2) >= 1) && input.size(-2) >= o.patch[1] && input.size(-1) >= o.patch[2];
    if (!ok)
        throw std::invalid_argument(std::string(o.video() ? "Video Swin" : "Swin") + " input: expected [B, "
            + std::to_string(o.inChannels) + (o.video() ? ", T" : "") + ", H, W] with H, W at least one patch ("
            + std::to_string(o.patch[1]) + "×" + std::to_string(o.patch[2]) + "), found " + c10::str(input.sizes()));
}

torch::Tensor SwinImpl::embed(const torch::Tensor& input)
{
    checkInput(input);
    const SwinOptions& o = m_options;
    auto normalise = [this](const torch::Tensor& tokens) { return patchNorm ? patchNorm(tokens) : tokens; };
    if (!o.video()) // torchvision: the convolution floors a side that is not a multiple of the patch
        return normalise(patchEmbed(input).permute({ 0, 2, 3, 1 })).unsqueeze(1);
    // The Video Swin release pads frames, rows and columns on the far side up to a multiple of the patch.
    const int64_t padT = (o.patch[0] - input.size(2) % o.patch[0]) % o.patch[0];
    const int64_t padH = (o.patch[1] - input.size(3) % o.patch[1]) % o.patch[1];
    const int64_t padW = (o.patch[2] - input.size(4) % o.patch[2]) % o.patch[2];
    torch::Tensor clip = input;
    if (padT || padH || padW)
        clip = F::pad(clip, F::PadFuncOptions({ 0, padW, 0, padH, 0, padT }));
    return normalise(patchEmbed3d(clip).permute({ 0, 2, 3, 4, 1 }));
}

BackboneOutput SwinImpl::forwardFeatures(const torch::Tensor& input)
{
    BackboneOutput out;
    torch::Tensor x = embed(input);
    for (size_t s = 0; s < m_stages.size(); ++s) {
        x = m_stages[s]->forward(x);
        out.stages.push_back(m_options.video() ? x : x.squeeze(1));
        out.maps.push_back(featureMap(out.stages.back()));
        if (s + 1 < m_stages.size())
            x = mergeList->ptr<PatchMergingImpl>(s)->forward(x);
    }
    out.pooled = norm(x).mean({ 1, 2, 3 });
    return out;
}

torch::Tensor SwinImpl::featureMap(const torch::Tensor& stage) const
{
    // Channels-last [B, H, W, C] (clips [B, T, H, W, C]) → channels first.
    return m_options.video() ? stage.permute({ 0, 4, 1, 2, 3 }) : stage.permute({ 0, 3, 1, 2 });
}

torch::Tensor SwinImpl::forward(const torch::Tensor& input)
{
    torch::Tensor features = forwardFeatures(input).pooled;
    return head ? head(features) : features;
}

std::set<std::string> SwinImpl::noWeightDecay() const
{
    // timm's no_weight_decay_keywords for Swin: the relative position bias tables.
    std::set<std::string> names;
    for (const auto& p : named_parameters(/*recurse=*/true))
        if (tensor_names::endsWith(p.key(), "relative_position_bias_table"))
            names.insert(p.key());
    return names;
}

BackboneDescription SwinImpl::describe() const
{
    const SwinOptions& o = m_options;
    BackboneDescription d;
    d.family = family();
    std::vector<int64_t> branches;
    for (int64_t depth : o.depths)
        branches.push_back(2 * depth);
    std::ostringstream summary;
    summary << (o.video() ? "video swin " : "swin ") << o.embedDim << "d [" << listString(o.depths) << "] ("
            << 2 * o.totalBlocks() << " branches, heads " << listString(o.heads, "/") << "), window "
            << extentString(o.window, o.video()) << ", " << o.imageHeight << "×" << o.imageWidth << " patch "
            << extentString(o.patch, o.video());
    if (o.video())
        summary << ", " << o.numFrames << " frames";
    d.summary = summary.str();
    for (int64_t s = 0; s < o.stages(); ++s)
        d.stages.push_back({ "stage " + std::to_string(s + 1), 2 * o.depths[static_cast<size_t>(s)], o.stageDim(s),
            o.patch[1] << s });
    auto add = [&](const char* key, const std::string& value) { d.details.emplace_back(key, value); };
    std::ostringstream ratio;
    ratio << o.mlpRatio;
    add("embed dim", std::to_string(o.embedDim));
    add("depths", listString(o.depths, "/"));
    add("heads", listString(o.heads, "/"));
    add("window", extentString(o.window, o.video()));
    add("patch size", extentString(o.patch, o.video()));
    add("mlp ratio", ratio.str());
    add("image size", std::to_string(o.imageHeight) + "×" + std::to_string(o.imageWidth));
    add("in channels", std::to_string(o.inChannels));
    if (o.video())
        add("frames", std::to_string(o.numFrames));
    add("qkv bias", o.qkvBias ? "yes" : "no");
    add("patch norm", o.patchNorm ? "yes" : "no");
    add("window fit", toString(o.windowFit));
    for (const auto& p : parameters())
        d.parameters += p.numel();
    if (head)
        for (const auto& p : head->parameters())
            d.parameters -= p.numel();
    return d;
}

std::string SwinImpl::architectureJson() const
{
    const SwinOptions& o = m_options;
    nlohmann::json json { { "family", family() }, { "embed_dim", o.embedDim }, { "depths", o.depths },
        { "heads", o.heads }, { "window", o.window }, { "patch", o.patch }, { "mlp_ratio", o.mlpRatio },
        { "qkv_bias", o.qkvBias }, { "patch_norm", o.patchNorm }, { "in_channels", o.inChannels },
        { "image_size", std::vector<int64_t> { o.imageHeight, o.imageWidth } }, { "num_frames", o.numFrames },
        { "num_classes", o.numClasses }, { "window_fit", toString(o.windowFit) } };
    return json.dump();
}

InputShape SwinImpl::inputShape() const
{
    return { m_options.inChannels, m_options.imageHeight, m_options.imageWidth, m_options.numFrames };
}

BackboneGeometry SwinImpl::geometryAt(const InputShape& input) const
{
    SwinOptions at = m_options;
    at.inChannels = input.channels;
    at.imageHeight = input.height;
    at.imageWidth = input.width;
    at.numFrames = input.frames;
    at.validate();
    if (at.video() != m_options.video())
        badField("num_frames", m_options.video() ? "> 0 for a video model" : "0 for an image model",
            std::to_string(input.frames));
    // The map embed() gives: images floor a side that is not a multiple of the patch (torchvision's convolution),
    // clips are padded up to one; each patch merging pads odd rows and columns and halves them.
    Extent3 size = at.video()
        ? Extent3 { (at.numFrames + at.patch[0] - 1) / at.patch[0], (at.imageHeight + at.patch[1] - 1) / at.patch[1],
              (at.imageWidth + at.patch[2] - 1) / at.patch[2] }
        : Extent3 { 1, at.imageHeight / at.patch[1], at.imageWidth / at.patch[2] };
    BackboneGeometry geometry;
    for (int64_t s = 0; s < at.stages(); ++s) {
        if (s > 0)
            size = { size[0], (size[1] + 1) / 2, (size[2] + 1) / 2 };
        const WindowLayout layout = windowLayout(size, at.window, { 0, 0, 0 }, at.windowFit);
        const auto stage = static_cast<size_t>(s);
        geometry.stages.push_back({ 2 * at.depths[stage], size[0] * size[1] * size[2],
            layout.padded[0] * layout.padded[1] * layout.padded[2], at.stageDim(s), at.heads[stage], layout.tokens() });
    }
    return geometry;
}

} // namespace dr2
