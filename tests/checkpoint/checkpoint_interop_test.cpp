// Checkpoints written by PyTorch (torchvision and timm names; safetensors, torch.save, TorchScript) give
// PyTorch's logits; safetensors round trips; head replacement and position-embedding resize.
#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "core/backbones/vit/vit_loader.h"

#include "tests/checkpoint/checkpoint_test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace dr2 {
namespace {

constexpr double kLogitTolerance = 1e-5; // max-abs against PyTorch's float32 logits

using test::fixtureTensor;
using test::maxAbs;

torch::Tensor logitsOf(ViT& model, const torch::Tensor& input, ExecMode mode)
{
    torch::NoGradGuard noGrad;
    model->eval();
    model->stack().setMode(mode);
    return model->forward(input);
}

struct InteropCase {
    const char* file;
    CheckpointFormat format;
    NamingScheme scheme;
};

class ImageInterop : public ::testing::TestWithParam<InteropCase> { };

TEST_P(ImageInterop, LogitsMatchPyTorchInEveryMode)
{
    const InteropCase& c = GetParam();
    ViTLoadOptions options;
    options.overrides.heads = 4; // only timm_vit.safetensors carries num_heads metadata
    ViTLoadReport report;
    ViT model = loadViT(test::fixture(c.file), options, &report);
    EXPECT_EQ(report.format, c.format);
    EXPECT_EQ(report.info.scheme, c.scheme);
    EXPECT_TRUE(report.missingKeys.empty());
    EXPECT_TRUE(report.unexpectedKeys.empty());
    EXPECT_FALSE(report.headReplaced);
    EXPECT_TRUE(report.nanTensors.empty());
    const ViTOptions& o = model->options();
    EXPECT_EQ(o.embedDim, 32);
    EXPECT_EQ(o.depth, 2);
    EXPECT_EQ(o.patchSize, 8);
    EXPECT_EQ(o.imageSize, 32);
    EXPECT_EQ(o.numClasses, 10);
    EXPECT_DOUBLE_EQ(o.mlpRatio, 2.0);
    EXPECT_EQ(model->stack().size(), 4);

    const torch::Tensor input = fixtureTensor("vit_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("vit_output.safetensors", "output");
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Plain), expected), kLogitTolerance);
    // α = 1, β = 0 with the scaled first skip is the pretrained network.
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Stored), expected), kLogitTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ImageInterop,
    ::testing::Values(InteropCase { "tv_vit.safetensors", CheckpointFormat::Safetensors, NamingScheme::Torchvision },
        InteropCase { "tv_vit.pt", CheckpointFormat::TorchSave, NamingScheme::Torchvision },
        InteropCase { "tv_vit_script.pt", CheckpointFormat::TorchScript, NamingScheme::Torchvision },
        InteropCase { "timm_vit.safetensors", CheckpointFormat::Safetensors, NamingScheme::Timm },
        InteropCase { "timm_vit.pth", CheckpointFormat::TorchSave, NamingScheme::Timm },
        InteropCase { "timm_vit_script.pt", CheckpointFormat::TorchScript, NamingScheme::Timm }));

TEST(CheckpointInterop, HeadsComeFromMetadataOrMustBeGiven)
{
    const ViTCheckpointInfo timm = describeViT(readCheckpoint(test::fixture("timm_vit.safetensors")));
    EXPECT_EQ(timm.options.heads, 4);
    EXPECT_EQ(timm.headsSource, "metadata");
    const std::string message
        = test::errorOf([] { describeViT(readCheckpoint(test::fixture("tv_vit.pt"))); });
    EXPECT_NE(message.find("pass --heads N"), std::string::npos) << message;
    EXPECT_NE(message.find("tv_vit.pt"), std::string::npos) << message;
}

TEST(CheckpointInterop, WrappedDataParallelStateDictIsUnwrapped)
{
    const LoadedCheckpoint checkpoint = readCheckpoint(test::fixture("timm_vit.pth"));
    ASSERT_EQ(checkpoint.notes.size(), 2u);
    EXPECT_NE(checkpoint.notes[0].find("'model'"), std::string::npos);
    EXPECT_NE(checkpoint.notes[1].find("module."), std::string::npos);
    EXPECT_EQ(checkpoint.tensors.front().first, "cls_token");
}

TEST(CheckpointInterop, VideoViTMatchesPyTorch)
{
    ViTLoadOptions options;
    options.overrides.imageSize = 16; // VideoMAE's fixed table says nothing about the resolution
    options.overrides.numFrames = 4;
    ViTLoadReport report;
    ViT model = loadViT(test::fixture("video_vit.safetensors"), options, &report);
    EXPECT_TRUE(report.info.video);
    EXPECT_TRUE(model->options().fixedPosEmbed);
    EXPECT_FALSE(model->options().classToken);
    EXPECT_TRUE(model->options().globalPool);
    EXPECT_EQ(model->options().tubeletSize, 2);
    EXPECT_TRUE(report.missingKeys.empty());
    EXPECT_TRUE(report.unexpectedKeys.empty()) << report.unexpectedKeys.front();
    const torch::Tensor input = fixtureTensor("video_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("video_output.safetensors", "output");
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Plain), expected), kLogitTolerance);
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Stored), expected), kLogitTolerance);
}

TEST(CheckpointInterop, SafetensorsRoundTripIsBitExactWithMetadata)
{
    torch::manual_seed(3);
    StateDict tensors = { { "f32", torch::randn({ 3, 4 }) }, { "f64", torch::randn({ 2 }, torch::kFloat64) },
        { "f16", torch::randn({ 5 }).to(torch::kHalf) }, { "bf16", torch::randn({ 2, 2 }).to(torch::kBFloat16) },
        { "i64", torch::randint(-1000, 1000, { 7 }, torch::kLong) }, { "i8", torch::randint(-100, 100, { 3 }, torch::kChar) },
        { "u8", torch::randint(0, 255, { 3 }, torch::kByte) }, { "flag", torch::rand({ 4 }) > 0.5 },
        { "empty", torch::zeros({ 0, 3 }) }, { "strided", torch::randn({ 4, 6 }).t() } };
    const Metadata metadata = { { "architecture", "{\"heads\": 4}" }, { "alpha", "0.3" }, { "first_skip", "scaled" } };
    const std::string path = (test::scratchDir() / "round_trip.safetensors").string();
    writeSafetensors(path, tensors, metadata);
    const SafetensorsContents back = readSafetensors(path);
    EXPECT_EQ(back.metadata, metadata);
    ASSERT_EQ(back.tensors.size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        EXPECT_EQ(back.tensors[i].first, tensors[i].first);
        EXPECT_EQ(back.tensors[i].second.scalar_type(), tensors[i].second.scalar_type()) << tensors[i].first;
        EXPECT_TRUE(back.tensors[i].second.equal(tensors[i].second)) << tensors[i].first;
    }
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST(CheckpointInterop, ExportedNamesLoadBackToTheSameLogits)
{
    ViTLoadOptions options;
    options.overrides.heads = 4;
    ViT model = loadViT(test::fixture("tv_vit.safetensors"), options);
    const torch::Tensor input = fixtureTensor("vit_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("vit_output.safetensors", "output");
    StateDict internal;
    for (const auto& item : model->named_parameters())
        internal.emplace_back(item.key(), item.value());
    EXPECT_EQ(externalName("stack.branches.3.fc2.weight", NamingScheme::Timm), "blocks.1.mlp.fc2.weight");
    EXPECT_EQ(externalName("stack.branches.0.qkv.weight", NamingScheme::Torchvision),
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight");
    for (NamingScheme scheme : { NamingScheme::Dr2, NamingScheme::Timm, NamingScheme::Torchvision }) {
        const std::string path = (test::scratchDir() / ("export_" + toString(scheme) + ".safetensors")).string();
        writeSafetensors(path, fromInternalNames(internal, scheme), { { "num_heads", "4" } });
        ViTLoadReport report;
        ViT back = loadViT(path, ViTLoadOptions {}, &report);
        EXPECT_EQ(report.info.scheme, scheme);
        EXPECT_LE(maxAbs(logitsOf(back, input, ExecMode::Stored), expected), kLogitTolerance) << toString(scheme);
    }
}

TEST(CheckpointInterop, HeadReplacementIsReportedAndKeepsTheBackbone)
{
    ViTLoadOptions options;
    options.overrides.heads = 4;
    ViT original = loadViT(test::fixture("timm_vit.pth"), options);
    options.overrides.numClasses = 3;
    ViTLoadReport report;
    ViT replaced = loadViT(test::fixture("timm_vit.pth"), options, &report);
    EXPECT_TRUE(report.headReplaced);
    EXPECT_EQ(report.oldNumClasses, 10);
    EXPECT_EQ(report.newNumClasses, 3);
    EXPECT_TRUE(report.unexpectedKeys.empty());
    const torch::Tensor input = fixtureTensor("vit_input.safetensors", "input");
    EXPECT_EQ(logitsOf(replaced, input, ExecMode::Stored).sizes(), (std::vector<int64_t> { 2, 3 }));
    torch::NoGradGuard noGrad;
    EXPECT_TRUE(original->pool(original->stack().forward(original->embed(input)))
                    .allclose(replaced->pool(replaced->stack().forward(replaced->embed(input)))));
}

TEST(CheckpointInterop, PositionEmbeddingIsResizedForAHigherResolution)
{
    ViTLoadOptions options;
    options.overrides.heads = 4;
    ViT original = loadViT(test::fixture("tv_vit.safetensors"), options);
    options.overrides.imageSize = 48;
    ViTLoadReport report;
    ViT model = loadViT(test::fixture("tv_vit.safetensors"), options, &report);
    EXPECT_TRUE(report.posEmbedResized);
    EXPECT_EQ(report.oldGrid, 4);
    EXPECT_EQ(report.newGrid, 6);
    EXPECT_EQ(model->posEmbed.sizes(), (std::vector<int64_t> { 1, 1 + 36, 32 }));
    // The class token's position is kept exactly; the grid is interpolated within the old value range.
    EXPECT_TRUE(model->posEmbed.select(1, 0).equal(original->posEmbed.select(1, 0)));
    const torch::Tensor oldGrid = original->posEmbed.narrow(1, 1, 16);
    const torch::Tensor newGrid = model->posEmbed.narrow(1, 1, 36);
    EXPECT_NEAR(newGrid.mean().item<double>(), oldGrid.mean().item<double>(), 0.05);
    EXPECT_TRUE(resizePositionEmbedding(original->posEmbed, 1, 4).equal(original->posEmbed));
    // Bicubic resampling of a constant grid is that constant.
    const torch::Tensor constant = torch::full({ 1, 1 + 16, 8 }, 0.25);
    EXPECT_TRUE(resizePositionEmbedding(constant, 1, 7).allclose(torch::full({ 1, 1 + 49, 8 }, 0.25), 0, 1e-6));
    torch::NoGradGuard noGrad;
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({ 1, 3, 48, 48 })).sizes(), (std::vector<int64_t> { 1, 10 }));
}

} // namespace
} // namespace dr2
