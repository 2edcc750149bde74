#include "core/vit.h"

#include "core/vit_branches.h"

#include <torch/nn/init.h>

#include <stdexcept>

namespace dr2 {

namespace {

[[noreturn]] void badField(const std::string& field, const std::string& expected, const std::string& found)
{
    throw std::invalid_argument("ViT option " + field + ": expected " + expected + ", found " + found);
}

} // namespace

void ViTOptions::validate() const
{
    if (embedDim <= 0)
        badField("embed_dim", "> 0", std::to_string(embedDim));
    if (depth <= 0)
        badField("depth", "> 0", std::to_string(depth));
    if (heads <= 0 || embedDim % heads != 0)
        badField("heads", "a positive divisor of embed_dim " + std::to_string(embedDim), std::to_string(heads));
    if (mlpRatio <= 0.0)
        badField("mlp_ratio", "> 0", std::to_string(mlpRatio));
    if (patchSize <= 0)
        badField("patch_size", "> 0", std::to_string(patchSize));
    if (imageSize < patchSize || imageSize % patchSize != 0)
        badField("image_size", "a positive multiple of patch_size " + std::to_string(patchSize),
            std::to_string(imageSize));
    if (inChannels <= 0)
        badField("in_channels", "> 0", std::to_string(inChannels));
    if (numClasses < 0)
        badField("num_classes", ">= 0", std::to_string(numClasses));
    for (auto [name, p] : { std::pair { "dropout", dropout }, { "attn_dropout", attnDropout }, { "drop_path", dropPath } })
        if (p < 0.0 || p >= 1.0)
            badField(name, "a probability in [0, 1)", std::to_string(p));
}

std::vector<std::string> vitPresetNames()
{
    return { "vit-ti", "vit-s", "vit-b", "vit-l" };
}

ViTOptions vitPreset(const std::string& name)
{
    ViTOptions options;
    if (name == "vit-ti") {
        options.embedDim = 192, options.depth = 12, options.heads = 3;
    } else if (name == "vit-s") {
        options.embedDim = 384, options.depth = 12, options.heads = 6;
    } else if (name == "vit-b") {
        options.embedDim = 768, options.depth = 12, options.heads = 12;
    } else if (name == "vit-l") {
        options.embedDim = 1024, options.depth = 24, options.heads = 16;
    } else {
        std::string names;
        for (const auto& known : vitPresetNames())
            names += (names.empty() ? "" : ", ") + known;
        throw std::invalid_argument("model '" + name + "': expected one of " + names);
    }
    return options;
}

ViTImpl::ViTImpl(ViTOptions options)
    : m_options(std::move(options))
{
    m_options.validate();
    const int64_t dim = m_options.embedDim;
    patchEmbed = register_module("patch_embed",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(m_options.inChannels, dim, m_options.patchSize)
                              .stride(m_options.patchSize)));
    clsToken = register_parameter("cls_token", torch::zeros({ 1, 1, dim }));
    posEmbed = register_parameter("pos_embed", torch::zeros({ 1, 1 + m_options.numPatches(), dim }));
    {
        torch::NoGradGuard noGrad;
        torch::nn::init::normal_(clsToken, 0.0, 1e-6);
        torch::nn::init::normal_(posEmbed, 0.0, 0.02).clamp_(-0.04, 0.04);
    }

    std::vector<torch::nn::AnyModule> branches;
    for (int64_t layer = 0; layer < m_options.depth; ++layer) {
        BranchOptions branch;
        branch.dim = dim;
        branch.heads = m_options.heads;
        branch.mlpRatio = m_options.mlpRatio;
        branch.qkvBias = m_options.qkvBias;
        branch.dropout = m_options.dropout;
        branch.attnDropout = m_options.attnDropout;
        branch.layerScaleInit = m_options.layerScaleInit;
        branch.dropPath = m_options.depth > 1
            ? m_options.dropPath * static_cast<double>(layer) / static_cast<double>(m_options.depth - 1)
            : m_options.dropPath;
        branches.emplace_back(AttentionBranch(branch));
        branches.emplace_back(MlpBranch(branch));
    }
    m_stack = register_module("stack", Dr2Stack(std::move(branches), m_options.stack));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({ dim }).eps(1e-6)));
    if (m_options.numClasses > 0) {
        head = register_module("head", torch::nn::Linear(dim, m_options.numClasses));
        torch::NoGradGuard noGrad;
        torch::nn::init::normal_(head->weight, 0.0, 0.02).clamp_(-0.04, 0.04);
        torch::nn::init::zeros_(head->bias);
    }
}

torch::Tensor ViTImpl::embed(const torch::Tensor& images)
{
    if (images.dim() != 4 || images.size(1) != m_options.inChannels || images.size(2) != m_options.imageSize
        || images.size(3) != m_options.imageSize)
        throw std::invalid_argument("ViT input: expected [B, " + std::to_string(m_options.inChannels) + ", "
            + std::to_string(m_options.imageSize) + ", " + std::to_string(m_options.imageSize) + "], found "
            + c10::str(images.sizes()));
    torch::Tensor tokens = patchEmbed(images).flatten(2).transpose(1, 2); // [B, patches, dim]
    torch::Tensor cls = clsToken.expand({ images.size(0), -1, -1 });
    return torch::cat({ cls, tokens }, 1) + posEmbed;
}

torch::Tensor ViTImpl::pool(const torch::Tensor& tokens)
{
    if (m_options.globalPool)
        return norm(tokens.narrow(1, 1, tokens.size(1) - 1).mean(1));
    return norm(tokens).select(1, 0);
}

torch::Tensor ViTImpl::forward(const torch::Tensor& images)
{
    torch::Tensor features = pool(m_stack->forward(embed(images)));
    return head ? head(features) : features;
}

} // namespace dr2
