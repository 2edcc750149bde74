// The ViT backbone: shapes, presets, option validation, parameter names.
#include "core/backbones/vit/vit.h"
#include "core/backbones/vit/vit_branches.h"

#include "tests/core/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace dr2 {
namespace {

TEST(ViT, PresetsHaveTheStandardSizes)
{
    EXPECT_EQ(vitPreset("vit-ti").embedDim, 192);
    EXPECT_EQ(vitPreset("vit-s").heads, 6);
    EXPECT_EQ(vitPreset("vit-b").embedDim, 768);
    EXPECT_EQ(vitPreset("vit-b").depth, 12);
    EXPECT_EQ(vitPreset("vit-ti").patchSize, 16);
    EXPECT_EQ(vitPreset("vit-ti").imageSize, 224);
    EXPECT_THROW(vitPreset("resnet50"), std::invalid_argument);
}

TEST(ViT, ForwardShapesAndBranchCount)
{
    ViT model = test::makeViT(/*depth=*/3, /*imageSize=*/64);
    EXPECT_EQ(model->stack().size(), 6);
    auto [images, labels] = test::makeBatch(model, 5);
    EXPECT_EQ(model->forward(images).sizes(), (std::vector<int64_t> { 5, 10 }));
    EXPECT_EQ(model->embed(images).sizes(), (std::vector<int64_t> { 5, 1 + 16, 192 }));
}

TEST(ViT, WrongInputShapeNamesBothShapes)
{
    ViT model = test::makeViT(/*depth=*/1, /*imageSize=*/64);
    try {
        model->forward(torch::randn({ 2, 3, 32, 32 }));
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("expected [B, 3, 64, 64]"), std::string::npos) << message;
        EXPECT_NE(message.find("[2, 3, 32, 32]"), std::string::npos) << message;
    }
}

TEST(ViT, InvalidOptionsNameTheField)
{
    ViTOptions options = vitPreset("vit-ti");
    options.heads = 5;
    EXPECT_THROW(
        {
            try {
                options.validate();
            } catch (const std::invalid_argument& e) {
                EXPECT_NE(std::string(e.what()).find("heads"), std::string::npos);
                throw;
            }
        },
        std::invalid_argument);
    options = vitPreset("vit-ti");
    options.imageSize = 100; // not a multiple of 16
    EXPECT_THROW(options.validate(), std::invalid_argument);
    options = vitPreset("vit-ti");
    options.dropPath = 1.0;
    EXPECT_THROW(options.validate(), std::invalid_argument);
}

TEST(ViT, ParameterNamesFollowTheBlockLayout)
{
    ViTOptions options = vitPreset("vit-ti");
    options.depth = 1;
    options.imageSize = 32;
    options.layerScaleInit = 1e-5;
    ViT model(options);
    auto names = model->named_parameters().keys();
    for (const char* expected : { "patch_embed.weight", "cls_token", "pos_embed", "stack.branches.0.norm.weight",
             "stack.branches.0.qkv.weight", "stack.branches.0.proj.bias", "stack.branches.0.gamma",
             "stack.branches.1.fc1.weight", "stack.branches.1.fc2.bias", "stack.branches.1.gamma", "norm.weight",
             "head.weight" })
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST(ViT, DropPathDropsWholeSamplesAndKeepsTheMean)
{
    torch::manual_seed(0);
    const torch::Tensor x = torch::ones({ 20000, 2, 3 });
    const torch::Tensor y = dropPath(x, 0.25, /*training=*/true);
    // Each sample is either all zero or all 1/(1-p).
    const torch::Tensor perSample = y.flatten(1);
    EXPECT_TRUE((perSample.amax(1) == perSample.amin(1)).all().item<bool>());
    EXPECT_NEAR(y.mean().item<double>(), 1.0, 0.03);
    EXPECT_TRUE(dropPath(x, 0.25, /*training=*/false).equal(x));
}

} // namespace
} // namespace dr2
