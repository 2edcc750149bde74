// Swin and Video Swin checkpoints as Dr²Nets against an independent PyTorch wrap of the same blocks
// (tests/fixtures/make_swin_checkpoints.py): per stage y_0 = β·x_0, x_i = F_i(x_{i−1}) + α·x_{i−1} + y_{i−1},
// y_i = β·x_{i−1}, patch merging on the stage output.
#include "core/backbone_registry.h"
#include "core/backbones/swin/swin.h"
#include "core/safetensors.h"

#include "tests/checkpoint/checkpoint_test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

namespace dr2 {
namespace {

struct Case {
    const char* checkpoint;
    const char* input;
    const char* outputs;
    int64_t frames; ///< 0: images
};

/// The (α, β) pairs the fixture script wrote, with their logits.
std::vector<std::pair<std::pair<double, double>, torch::Tensor>> dr2Outputs(const std::string& file)
{
    std::vector<std::pair<std::pair<double, double>, torch::Tensor>> out;
    for (const auto& [name, logits] : readSafetensors(test::fixture(file)).tensors) {
        double alpha = 0;
        double beta = 0;
        if (std::sscanf(name.c_str(), "a%lf_b%lf", &alpha, &beta) != 2) {
            ADD_FAILURE() << file << ": tensor " << name << " does not name an (α, β) pair";
            continue;
        }
        out.push_back({ { alpha, beta }, logits });
    }
    return out;
}

class SwinDr2Interop : public ::testing::TestWithParam<Case> {};

TEST_P(SwinDr2Interop, LogitsMatchTheIndependentWrapAtEveryAlphaBeta)
{
    const Case& c = GetParam();
    BackboneLoadOptions options;
    options.numClasses.reset(); // keep the file's head: compare logits
    if (c.frames > 0)
        options.numFrames = c.frames;
    BackbonePtr backbone = loadBackbone(test::fixture(c.checkpoint), options);
    auto* swin = dynamic_cast<SwinImpl*>(backbone.get());
    ASSERT_NE(swin, nullptr) << c.checkpoint << " loaded as " << backbone->family();
    swin->eval();
    const torch::Tensor input = test::fixtureTensor(c.input, "input");
    const auto pairs = dr2Outputs(c.outputs);
    ASSERT_EQ(pairs.size(), 3U);
    torch::NoGradGuard noGrad;
    for (const auto& [coefficients, expected] : pairs) {
        const auto [alpha, beta] = coefficients;
        swin->setCoefficients(alpha, beta);
        for (ExecMode mode : { ExecMode::Stored, ExecMode::Reversible }) {
            if (mode == ExecMode::Reversible && beta == 0.0)
                continue; // reversibility needs β ≠ 0
            swin->setMode(mode);
            const double error = (swin->forward(input) - expected).abs().max().item<double>();
            EXPECT_LE(error, 1e-5) << c.checkpoint << " at α " << alpha << ", β " << beta << ", " << toString(mode);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, SwinDr2Interop,
    ::testing::Values(Case { "tv_swin.safetensors", "swin_input.safetensors", "swin_dr2_outputs.safetensors", 0 },
        Case { "timm_swin.safetensors", "swin_input.safetensors", "swin_dr2_outputs.safetensors", 0 },
        Case { "swin_official.pth", "swin_input.safetensors", "swin_dr2_outputs.safetensors", 0 },
        Case { "video_swin.safetensors", "video_swin_input.safetensors", "video_swin_dr2_outputs.safetensors", 5 },
        Case { "video_swin_noprefix.pth", "video_swin_input.safetensors", "video_swin_dr2_outputs.safetensors", 5 }),
    [](const ::testing::TestParamInfo<Case>& info) {
        std::string name = info.param.checkpoint;
        for (char& ch : name)
            if (!std::isalnum(static_cast<unsigned char>(ch)))
                ch = '_';
        return name;
    });

} // namespace
} // namespace dr2
