// The Swin loader: naming schemes detected and renamed both ways, architecture inferred from tiny synthetic state
// dicts (one actionable message per malformed file), window resizing, heads, and the PyTorch-written fixtures
// (tests/fixtures/make_swin_checkpoints.py) giving PyTorch's logits.
#include "core/backbone_registry.h"
#include "core/backbones/swin/swin_loader.h"
#include "core/architecture_record.h"
#include "core/checkpoint.h"
#include "core/safetensors.h"

#include "tests/checkpoint/checkpoint_test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace dr2 {
namespace {

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "message: " << (text)

constexpr double kLogitTolerance = 1e-5; // max-abs against PyTorch's float32 logits

// A tiny image Swin: 16×16 images, patch 4 → 4×4 then 2×2 tokens, window 2×2.
SwinOptions tinyImage()
{
    SwinOptions o;
    o.embedDim = 8;
    o.depths = { 2, 2 };
    o.heads = { 1, 2 };
    o.window = { 1, 2, 2 };
    o.patch = { 1, 4, 4 };
    o.imageHeight = o.imageWidth = 16;
    o.mlpRatio = 2.0;
    o.numClasses = 3;
    return o;
}

// A tiny Video Swin: 4-frame clips, tubelet 2, window 2×2×2.
SwinOptions tinyVideo()
{
    SwinOptions o = tinyImage();
    o.patch = { 2, 4, 4 };
    o.window = { 2, 2, 2 };
    o.numFrames = 4;
    o.windowFit = WindowFit::Shrink;
    return o;
}

// Parameters and buffers under our names, as Network::exportTensors writes them.
StateDict stateOf(const torch::nn::Module& module)
{
    StateDict tensors;
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach().clone());
    for (const auto& item : module.named_buffers(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach().clone());
    return tensors;
}

StateDict tinyState(const SwinOptions& options, uint64_t seed = 7)
{
    torch::manual_seed(seed);
    Swin model(options);
    return stateOf(*model);
}

LoadedCheckpoint checkpointOf(StateDict tensors, const std::string& path = "tiny.safetensors", Metadata metadata = {})
{
    LoadedCheckpoint checkpoint;
    checkpoint.path = path;
    checkpoint.tensors = std::move(tensors);
    checkpoint.metadata = std::move(metadata);
    return checkpoint;
}

StateDict without(StateDict tensors, const std::string& prefix)
{
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                      [&](const auto& entry) { return entry.first.rfind(prefix, 0) == 0; }),
        tensors.end());
    return tensors;
}

void replace(StateDict& tensors, const std::string& name, const torch::Tensor& value)
{
    for (auto& [key, tensor] : tensors)
        if (key == name) {
            tensor = value;
            return;
        }
    ADD_FAILURE() << "no tensor " << name;
}

SwinLoadOptions keepHead()
{
    SwinLoadOptions options;
    options.overrides.numClasses.reset();
    return options;
}

// Every tensor of `expected` is in `actual` under the same name with the same shape and values.
void expectSameTensors(const StateDict& expected, const StateDict& actual, const std::string& what)
{
    ASSERT_EQ(expected.size(), actual.size()) << what;
    for (const auto& [name, tensor] : expected) {
        const torch::Tensor* other = findTensor(actual, name);
        ASSERT_NE(other, nullptr) << what << ": " << name;
        EXPECT_EQ(tensor.sizes(), other->sizes()) << what << ": " << name;
        EXPECT_TRUE(tensor.equal(*other)) << what << ": " << name;
    }
}

struct SchemeCase {
    SwinNaming naming;
    bool video;
};

const std::vector<SchemeCase>& allSchemes()
{
    static const std::vector<SchemeCase> cases { { SwinNaming::Dr2, false }, { SwinNaming::Torchvision, false },
        { SwinNaming::Timm, false }, { SwinNaming::Official, false }, { SwinNaming::Dr2, true },
        { SwinNaming::VideoSwin, true } };
    return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// Names

TEST(SwinLoader, ExternalNamesOfEachScheme)
{
    EXPECT_EQ(swinExternalName("patch_embed.weight", SwinNaming::Torchvision), "features.0.0.weight");
    EXPECT_EQ(swinExternalName("patch_norm.bias", SwinNaming::Timm), "patch_embed.norm.bias");
    EXPECT_EQ(swinExternalName("stages.1.branches.3.fc2.weight", SwinNaming::Torchvision), "features.3.1.mlp.3.weight");
    EXPECT_EQ(swinExternalName("stages.1.branches.2.relative_position_bias_table", SwinNaming::Timm),
        "layers.1.blocks.1.attn.relative_position_bias_table");
    EXPECT_EQ(swinExternalName("stages.0.branches.1.norm.weight", SwinNaming::Official), "layers.0.blocks.0.norm2.weight");
    EXPECT_EQ(swinExternalName("merges.0.reduction.weight", SwinNaming::Torchvision), "features.2.reduction.weight");
    EXPECT_EQ(swinExternalName("merges.0.reduction.weight", SwinNaming::Timm), "layers.1.downsample.reduction.weight");
    EXPECT_EQ(swinExternalName("merges.0.norm.bias", SwinNaming::Official), "layers.0.downsample.norm.bias");
    EXPECT_EQ(swinExternalName("head.weight", SwinNaming::Timm), "head.fc.weight");
    EXPECT_EQ(swinExternalName("head.weight", SwinNaming::Official), "head.weight");
    EXPECT_EQ(swinExternalName("head.weight", SwinNaming::VideoSwin), "cls_head.fc_cls.weight");
    EXPECT_EQ(swinExternalName("patch_embed.weight", SwinNaming::VideoSwin), "backbone.patch_embed.proj.weight");
    EXPECT_EQ(swinExternalName("patch_embed.weight", SwinNaming::VideoSwin, /*backbonePrefix=*/false),
        "patch_embed.proj.weight");
    EXPECT_EQ(swinExternalName("norm.weight", SwinNaming::VideoSwin), "backbone.norm.weight");
    for (const char* name : { "dr2", "torchvision", "timm", "official", "video-swin" })
        EXPECT_EQ(toString(parseSwinNaming(name)), name);
    EXPECT_HAS(test::errorOf([] { parseSwinNaming("mmaction"); }), "expected dr2, torchvision, timm, official or video-swin");
}

TEST(SwinLoader, DetectsEverySchemeAndItsFamily)
{
    for (const auto& c : allSchemes()) {
        const StateDict internal = tinyState(c.video ? tinyVideo() : tinyImage());
        const StateDict file = swinFromInternalNames(internal, c.naming);
        EXPECT_EQ(detectSwinNaming(file, "tiny"), c.naming) << toString(c.naming);
        const BackboneFamily& family = familyOfCheckpoint(checkpointOf(file));
        EXPECT_EQ(family.name, c.video ? "video-swin" : "swin") << toString(c.naming);
        EXPECT_EQ(family.detectNaming(file, "tiny"), toString(c.naming));
    }
    // mmaction2 files carry "backbone."; the release's own backbone files do not.
    StateDict bare;
    for (const auto& [name, tensor] : swinFromInternalNames(tinyState(tinyVideo()), SwinNaming::VideoSwin))
        bare.emplace_back(name.rfind("backbone.", 0) == 0 ? name.substr(9) : name, tensor);
    EXPECT_EQ(detectSwinNaming(bare, "tiny"), SwinNaming::VideoSwin);
    EXPECT_EQ(familyOfCheckpoint(checkpointOf(bare)).name, "video-swin");
}

TEST(SwinLoader, TimmAndOfficialMergingsToldApartByTheReductionWidth)
{
    // Three stages; with the giveaway downsample removed only the middle one is left, whose reduction input
    // (4·C of the stage it follows) says whether it ends stage 2 (official) or starts it (timm).
    SwinOptions o = tinyImage();
    o.depths = { 1, 1, 1 };
    o.heads = { 1, 2, 4 };
    const StateDict internal = tinyState(o);
    const StateDict official = without(swinFromInternalNames(internal, SwinNaming::Official), "layers.0.downsample.");
    const StateDict timm = without(swinFromInternalNames(internal, SwinNaming::Timm), "layers.2.downsample.");
    EXPECT_EQ(detectSwinNaming(official, "tiny"), SwinNaming::Official);
    EXPECT_EQ(detectSwinNaming(timm, "tiny"), SwinNaming::Timm);
}

bool isIndex(const std::string& name)
{
    const std::string suffix = "relative_position_index";
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(SwinLoader, RenameRoundTripsTensorForTensor)
{
    for (const auto& c : allSchemes()) {
        const std::string what = toString(c.naming) + (c.video ? " video" : " image");
        const StateDict internal = tinyState(c.video ? tinyVideo() : tinyImage());
        const StateDict file = swinFromInternalNames(internal, c.naming);
        // Names: every tensor comes back under its own name; the index export adds is all that is new.
        StateDict back;
        for (auto& entry : swinToInternalNames(file, c.naming))
            if (!isIndex(entry.first))
                back.push_back(std::move(entry));
        ASSERT_EQ(back.size(), internal.size()) << what;
        for (size_t i = 0; i < internal.size(); ++i) {
            EXPECT_EQ(back[i].first, internal[i].first) << what;
            EXPECT_TRUE(back[i].second.equal(internal[i].second)) << what << ": " << back[i].first;
        }
        // Loading: the exported file loads back into the identical model.
        SwinLoadReport report;
        Swin model = loadSwin(checkpointOf(file), keepHead(), &report);
        EXPECT_EQ(report.info.naming, c.naming) << what;
        EXPECT_TRUE(report.missingKeys.empty()) << what << ": " << report.missingKeys.front();
        EXPECT_TRUE(report.unexpectedKeys.empty()) << what << ": " << report.unexpectedKeys.front();
        expectSameTensors(internal, stateOf(*model), what);
    }
}

TEST(SwinLoader, ExportWritesTheIndexWhereTheTargetKeepsIt)
{
    // The model recomputes its index, so export derives each block's from its table's window: torchvision (flat)
    // and the releases ([N, N]) hold it as a persistent buffer; timm >= 0.9 does not and would reject it.
    const StateDict internal = tinyState(tinyImage());
    const torch::Tensor expected = relativePositionIndex({ 1, 2, 2 });
    const StateDict tv = swinFromInternalNames(internal, SwinNaming::Torchvision);
    const torch::Tensor* flat = findTensor(tv, "features.3.1.attn.relative_position_index");
    ASSERT_NE(flat, nullptr);
    EXPECT_TRUE(flat->equal(expected.reshape({ -1 })));
    const StateDict official = swinFromInternalNames(internal, SwinNaming::Official);
    const torch::Tensor* square = findTensor(official, "layers.0.blocks.0.attn.relative_position_index");
    ASSERT_NE(square, nullptr);
    EXPECT_TRUE(square->equal(expected));
    for (const auto& [name, tensor] : swinFromInternalNames(internal, SwinNaming::Timm))
        EXPECT_FALSE(isIndex(name)) << name;
    const StateDict video = swinFromInternalNames(tinyState(tinyVideo()), SwinNaming::VideoSwin);
    const torch::Tensor* index = findTensor(video, "backbone.layers.1.blocks.1.attn.relative_position_index");
    ASSERT_NE(index, nullptr);
    EXPECT_TRUE(index->equal(relativePositionIndex({ 2, 2, 2 })));
    // Our own names carry no index.
    for (const auto& [name, tensor] : swinFromInternalNames(internal, SwinNaming::Dr2))
        EXPECT_FALSE(isIndex(name)) << name;
}

TEST(SwinLoader, FamiliesRenameOnlyToTheirOwnNamings)
{
    const StateDict internal = tinyState(tinyImage());
    const BackboneFamily& swin = backboneFamily("swin");
    const BackboneFamily& video = backboneFamily("video-swin");
    EXPECT_EQ(swin.namings, (std::vector<std::string> { "dr2", "torchvision", "timm", "official" }));
    EXPECT_EQ(video.namings, (std::vector<std::string> { "dr2", "video-swin" }));
    EXPECT_NE(findTensor(swin.rename(internal, "timm"), "layers.1.downsample.reduction.weight"), nullptr);
    EXPECT_HAS(test::errorOf([&] { swin.rename(internal, "video-swin"); }),
        "naming scheme 'video-swin' for a swin backbone: expected dr2, torchvision, timm, official");
}

// ---------------------------------------------------------------------------------------------------------------
// Inference

TEST(SwinLoader, InfersTheArchitectureFromTheTensors)
{
    const SwinCheckpointInfo info
        = describeSwin(checkpointOf(swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm)));
    const SwinOptions& o = info.options;
    EXPECT_EQ(o.embedDim, 8);
    EXPECT_EQ(o.depths, (std::vector<int64_t> { 2, 2 }));
    EXPECT_EQ(o.heads, (std::vector<int64_t> { 1, 2 }));
    EXPECT_EQ(o.window, (Extent3 { 1, 2, 2 }));
    EXPECT_EQ(o.patch, (Extent3 { 1, 4, 4 }));
    EXPECT_DOUBLE_EQ(o.mlpRatio, 2.0);
    EXPECT_TRUE(o.qkvBias);
    EXPECT_EQ(o.inChannels, 3);
    EXPECT_EQ(o.imageHeight, 224); // no metadata: the default
    EXPECT_EQ(o.windowFit, WindowFit::Pad);
    EXPECT_FALSE(info.video);
    EXPECT_EQ(info.checkpointNumClasses, 3);
    EXPECT_EQ(o.numClasses, 3);
    EXPECT_NE(std::find(info.notes.begin(), info.notes.end(), "heads 1/2 from the bias tables"), info.notes.end());
    EXPECT_NE(std::find(info.notes.begin(), info.notes.end(), "window 2×2 from the bias tables"), info.notes.end());
}

TEST(SwinLoader, HeadsPerStageComeFromEachStagesTables)
{
    SwinOptions o = tinyImage();
    o.embedDim = 12;
    o.heads = { 3, 2 };
    const SwinCheckpointInfo info = describeSwin(checkpointOf(swinFromInternalNames(tinyState(o), SwinNaming::Official)));
    EXPECT_EQ(info.options.heads, (std::vector<int64_t> { 3, 2 }));
}

TEST(SwinLoader, VideoWindowFromTheIndexOrTheLargestSquareFactor)
{
    SwinOptions o = tinyVideo();
    o.depths = { 1 };
    o.heads = { 1 };
    o.window = { 5, 3, 3 }; // 9·5·5 = 225 rows: also (1, 8, 8), (13, 2, 2), (113, 1, 1)
    o.numFrames = 10;
    StateDict file = swinFromInternalNames(tinyState(o), SwinNaming::VideoSwin);
    // Export writes no index for a table that fits several windows; the release writes one.
    EXPECT_EQ(findTensor(file, "backbone.layers.0.blocks.0.attn.relative_position_index"), nullptr);
    file.emplace_back("backbone.layers.0.blocks.0.attn.relative_position_index", relativePositionIndex(o.window));
    const SwinCheckpointInfo withIndex = describeSwin(checkpointOf(file));
    EXPECT_EQ(withIndex.fileWindow, (Extent3 { 5, 3, 3 }));
    EXPECT_EQ(withIndex.options.windowFit, WindowFit::Shrink);
    EXPECT_EQ(withIndex.options.numFrames, 32); // no metadata: the default
    const SwinCheckpointInfo withoutIndex
        = describeSwin(checkpointOf(without(file, "backbone.layers.0.blocks.0.attn.relative_position_index")));
    EXPECT_EQ(withoutIndex.fileWindow, (Extent3 { 1, 8, 8 }));

    o.window = { 2, 2, 2 }; // 27 rows: (2, 2, 2) is also the largest square factor
    const StateDict small = swinFromInternalNames(tinyState(o), SwinNaming::VideoSwin);
    EXPECT_EQ(describeSwin(checkpointOf(without(small, "backbone.layers.0.blocks.0.attn.relative_position_index")))
                  .fileWindow,
        (Extent3 { 2, 2, 2 }));
}

TEST(SwinLoader, OurOwnExportIsReadFromItsArchitectureRecord)
{
    SwinOptions o = tinyVideo();
    o.imageHeight = 20;
    o.imageWidth = 24;
    torch::manual_seed(3);
    Swin model(o);
    Metadata metadata { { metadata_key::kFamily, model->family() }, { metadata_key::kArchitecture, model->architectureJson() } };
    const LoadedCheckpoint checkpoint = checkpointOf(stateOf(*model), "export.safetensors", metadata);
    EXPECT_EQ(familyOfExport(checkpoint).name, "video-swin");
    const SwinCheckpointInfo info = describeSwin(checkpoint);
    EXPECT_EQ(info.naming, SwinNaming::Dr2);
    EXPECT_EQ(info.options.window, o.window);
    EXPECT_EQ(info.options.imageHeight, 20);
    EXPECT_EQ(info.options.imageWidth, 24);
    EXPECT_EQ(info.options.numFrames, 4);
    EXPECT_EQ(info.options.windowFit, WindowFit::Shrink);
    EXPECT_EQ(info.options.heads, o.heads);
    EXPECT_HAS(info.notes.front(), "architecture from the dr2net.architecture record");

    metadata[metadata_key::kArchitecture] = R"({"family": "swin", "embed_dim": 8})";
    EXPECT_HAS(test::errorOf([&] { describeSwin(checkpointOf(stateOf(*model), "export.safetensors", metadata)); }),
        "checkpoint export.safetensors: metadata dr2net.architecture: no field 'depths'");
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed

TEST(SwinLoader, BiasTableOfTheWrongWidthNamesTheTensor)
{
    StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm);
    replace(file, "layers.0.blocks.1.attn.relative_position_bias_table", torch::zeros({ 9, 2 }));
    EXPECT_HAS(test::errorOf([&] { loadSwin(checkpointOf(file, "wide.safetensors"), SwinLoadOptions {}); }),
        "checkpoint wide.safetensors: tensor layers.0.blocks.1.attn.relative_position_bias_table: expected [9, 1] "
        "(the heads of layers.0.blocks.0.attn.relative_position_bias_table), found [9, 2]");
}

TEST(SwinLoader, PerStageWindowsAreRefused)
{
    StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Torchvision);
    for (const char* name : { "features.3.0.attn.relative_position_bias_table", "features.3.1.attn.relative_position_bias_table" })
        replace(file, name, torch::zeros({ 25, 2 }));
    const std::string message = test::errorOf([&] { describeSwin(checkpointOf(file, "windows.pt")); });
    EXPECT_HAS(message, "checkpoint windows.pt: tensor features.3.0.attn.relative_position_bias_table: expected [9, 2]");
    EXPECT_HAS(message, "found [25, 2]: per-stage windows are not supported");
}

TEST(SwinLoader, NonSquareTableIsRefused)
{
    StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm);
    for (const auto& [name, tensor] : StateDict(file))
        if (name.find("relative_position_bias_table") != std::string::npos)
            replace(file, name, torch::zeros({ 15, tensor.size(1) }));
    EXPECT_HAS(test::errorOf([&] { describeSwin(checkpointOf(file, "rect.safetensors")); }),
        "tensor layers.0.blocks.0.attn.relative_position_bias_table [15, 1]: expected (2w−1)² rows for a square window "
        "w×w, found 15 rows");
}

TEST(SwinLoader, StageWidthsMustDouble)
{
    StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm);
    replace(file, "layers.1.blocks.0.attn.qkv.weight", torch::zeros({ 24, 8 }));
    EXPECT_HAS(test::errorOf([&] { describeSwin(checkpointOf(file)); }),
        "tensor layers.1.blocks.0.attn.qkv.weight: expected [48, 16] (stage 2 is 2× the embedding width 8), found [24, 8]");
}

TEST(SwinLoader, MissingBlockIsAMissingKeyError)
{
    const StateDict file
        = without(swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Official), "layers.0.blocks.0.");
    const std::string message = test::errorOf([&] { loadSwin(checkpointOf(file, "gap.pth"), SwinLoadOptions {}); });
    EXPECT_HAS(message, "loading checkpoint gap.pth: 13 tensors of the inferred architecture are missing from the file");
    EXPECT_HAS(message, "layers.0.blocks.0.");
    SwinLoadOptions allow;
    allow.allowMissing = true;
    SwinLoadReport report;
    loadSwin(checkpointOf(file, "gap.pth"), allow, &report);
    // norm1, qkv, proj (weights and biases) and the table; norm2, fc1, fc2: the index is recomputed, never missing.
    EXPECT_EQ(report.missingKeys.size(), 13u);
}

TEST(SwinLoader, MissingStageNamesIt)
{
    SwinOptions o = tinyImage();
    o.depths = { 1, 1, 1 };
    o.heads = { 1, 2, 4 };
    const StateDict file = without(swinFromInternalNames(tinyState(o), SwinNaming::Timm), "layers.1.blocks.");
    EXPECT_HAS(test::errorOf([&] { describeSwin(checkpointOf(file)); }),
        "stage 2 of 3 has no blocks (expected layers.1.blocks.0.attn.qkv.weight, ...)");
}

TEST(SwinLoader, UnknownNamesAreNoBackboneFamily)
{
    EXPECT_HAS(test::errorOf([] { loadBackbone(checkpointOf({}, "empty.safetensors"), BackboneLoadOptions {}); }),
        "checkpoint empty.safetensors: no known backbone family uses these tensor names (swin, video-swin, vit)");
    const StateDict garbage { { "conv1.weight", torch::zeros({ 4, 3, 3, 3 }) }, { "fc.bias", torch::zeros({ 2 }) } };
    EXPECT_HAS(test::errorOf([&] { loadBackbone(checkpointOf(garbage, "resnet.pth"), BackboneLoadOptions {}); }),
        "no known backbone family");
    EXPECT_HAS(test::errorOf([&] { detectSwinNaming(garbage, "resnet.pth"); }),
        "checkpoint resnet.pth: not a Swin Transformer with known names: expected torchvision (features.0.0.weight");
}

TEST(SwinLoader, SwinV2IsRefusedByName)
{
    StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm);
    file.emplace_back("layers.0.blocks.0.attn.logit_scale", torch::zeros({ 1, 1, 1 }));
    EXPECT_HAS(test::errorOf([&] { describeSwin(checkpointOf(file)); }), "only Swin v1 and Video Swin are supported");
}

// ---------------------------------------------------------------------------------------------------------------
// Window override and head

TEST(SwinLoader, WindowOverrideResizesTheTablesAndAnEqualWindowKeepsThemBitIdentical)
{
    const StateDict file = swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm);
    const std::string table = "layers.1.blocks.1.attn.relative_position_bias_table";
    SwinLoadOptions options;
    options.overrides.windowSize = 3;
    SwinLoadReport report;
    Swin resized = loadSwin(checkpointOf(file), options, &report);
    EXPECT_TRUE(report.tablesResized);
    EXPECT_EQ(resized->options().window, (Extent3 { 1, 3, 3 }));
    EXPECT_EQ(findTensor(stateOf(*resized), "stages.1.branches.2.relative_position_bias_table")->sizes(),
        (std::vector<int64_t> { 25, 2 }));
    EXPECT_NE(std::find(report.notes.begin(), report.notes.end(), "relative position bias tables resized 2×2 → 3×3"),
        report.notes.end());

    options.overrides.windowSize = 2;
    Swin same = loadSwin(checkpointOf(file), options, &report);
    EXPECT_FALSE(report.tablesResized);
    EXPECT_TRUE(findTensor(stateOf(*same), "stages.1.branches.2.relative_position_bias_table")->equal(*findTensor(file, table)));
}

TEST(SwinLoader, VideoWindowOverrideKeepsTheDepth)
{
    SwinLoadOptions options;
    options.overrides.windowSize = 3;
    SwinLoadReport report;
    Swin model = loadSwin(checkpointOf(swinFromInternalNames(tinyState(tinyVideo()), SwinNaming::VideoSwin)), options, &report);
    EXPECT_EQ(model->options().window, (Extent3 { 2, 3, 3 }));
    EXPECT_NE(std::find(report.notes.begin(), report.notes.end(), "relative position bias tables resized 2×2×2 → 2×3×3"),
        report.notes.end());
}

TEST(SwinLoader, HeadIsLeftOutByDefaultAndKeptOnRequest)
{
    const LoadedCheckpoint checkpoint = checkpointOf(swinFromInternalNames(tinyState(tinyImage()), SwinNaming::Timm));
    BackboneLoadReport report;
    BackbonePtr backbone = loadBackbone(checkpoint, BackboneLoadOptions {}, &report);
    EXPECT_EQ(report.family, "swin");
    EXPECT_EQ(report.naming, "timm");
    EXPECT_EQ(report.checkpointNumClasses, 3);
    EXPECT_EQ(report.checkpointImageSize, 224);
    ASSERT_EQ(report.headTensors.size(), 2u);
    EXPECT_EQ(report.headTensors[0].first, "head.weight");
    EXPECT_EQ(report.headTensors[0].second.sizes(), (std::vector<int64_t> { 3, 16 }));
    EXPECT_FALSE(dynamic_cast<SwinImpl&>(*backbone).head);
    EXPECT_TRUE(report.missingKeys.empty());
    EXPECT_TRUE(report.unexpectedKeys.empty());

    BackboneLoadOptions keep;
    keep.numClasses.reset();
    backbone = loadBackbone(checkpoint, keep, &report);
    EXPECT_TRUE(report.headTensors.empty());
    ASSERT_TRUE(dynamic_cast<SwinImpl&>(*backbone).head);
    EXPECT_TRUE(dynamic_cast<SwinImpl&>(*backbone).head->weight.equal(*findTensor(checkpoint.tensors, "head.fc.weight")));
}

// ---------------------------------------------------------------------------------------------------------------
// Built from a spec

TEST(SwinLoader, CreateFromASpec)
{
    BackboneSpec spec;
    spec.preset = "swin-t";
    spec.depth = 4;
    spec.embedDim = 16;
    spec.heads = 2;
    spec.window = 4;
    spec.input = { 3, 64, 48, 0 };
    spec.patchSize = 4;
    BackbonePtr backbone = createBackbone(spec);
    const SwinOptions& o = dynamic_cast<SwinImpl&>(*backbone).options();
    EXPECT_EQ(backbone->family(), "swin");
    EXPECT_EQ(o.depths, (std::vector<int64_t> { 1, 1, 1, 1 }));
    EXPECT_EQ(o.heads, (std::vector<int64_t> { 2, 4, 8, 16 }));
    EXPECT_EQ(o.window, (Extent3 { 1, 4, 4 }));
    EXPECT_EQ(o.patch, (Extent3 { 1, 4, 4 }));
    EXPECT_EQ(o.imageHeight, 64);
    EXPECT_EQ(o.imageWidth, 48);

    spec.input.frames = 8;
    EXPECT_HAS(test::errorOf([&] { createBackbone(spec); }), "model 'swin-t' takes images: 8 frames need a video preset");
    spec.preset = "video-swin-t";
    backbone = createBackbone(spec);
    const SwinOptions& v = dynamic_cast<SwinImpl&>(*backbone).options();
    EXPECT_EQ(backbone->family(), "video-swin");
    EXPECT_EQ(v.numFrames, 8);
    EXPECT_EQ(v.window, (Extent3 { 8, 4, 4 }));
    EXPECT_EQ(v.patch, (Extent3 { 2, 4, 4 }));
}

// ---------------------------------------------------------------------------------------------------------------
// PyTorch-written fixtures

bool haveFixture(const std::string& name)
{
    return std::filesystem::exists(test::fixture(name));
}

using test::fixtureTensor;
using test::maxAbs;

torch::Tensor logitsOf(Swin& model, const torch::Tensor& input, ExecMode mode)
{
    torch::NoGradGuard noGrad;
    model->eval();
    model->setMode(mode);
    return model->forward(input);
}

struct InteropCase {
    const char* file;
    CheckpointFormat format;
    SwinNaming naming;
};

class SwinImageInterop : public ::testing::TestWithParam<InteropCase> { };

TEST_P(SwinImageInterop, LogitsMatchPyTorch)
{
    const InteropCase& c = GetParam();
    if (!haveFixture(c.file))
        FAIL() << "missing fixture: " << c.file << " not made (tests/fixtures/make_swin_checkpoints.py)";
    SwinLoadReport report;
    Swin model = loadSwin(test::fixture(c.file), keepHead(), &report);
    EXPECT_EQ(report.format, c.format);
    EXPECT_EQ(report.info.naming, c.naming);
    EXPECT_TRUE(report.missingKeys.empty()) << report.missingKeys.front();
    EXPECT_TRUE(report.unexpectedKeys.empty()) << report.unexpectedKeys.front();
    EXPECT_TRUE(report.nanTensors.empty());
    EXPECT_FALSE(report.headReplaced);
    const SwinOptions& o = model->options();
    EXPECT_EQ(o.embedDim, 8);
    EXPECT_EQ(o.depths, (std::vector<int64_t> { 2, 2, 2 }));
    EXPECT_EQ(o.heads, (std::vector<int64_t> { 2, 4, 8 }));
    EXPECT_EQ(o.window, (Extent3 { 1, 4, 4 }));
    EXPECT_EQ(o.patch, (Extent3 { 1, 4, 4 }));
    EXPECT_DOUBLE_EQ(o.mlpRatio, 2.0);
    EXPECT_EQ(o.numClasses, 10);
    EXPECT_EQ(o.windowFit, WindowFit::Pad);

    const torch::Tensor input = fixtureTensor("swin_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("swin_output.safetensors", "output");
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Plain), expected), kLogitTolerance);
    // α = 1, β = 0 with the scaled first skip is the pretrained network.
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Stored), expected), kLogitTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SwinImageInterop,
    ::testing::Values(InteropCase { "tv_swin.safetensors", CheckpointFormat::Safetensors, SwinNaming::Torchvision },
        InteropCase { "timm_swin.safetensors", CheckpointFormat::Safetensors, SwinNaming::Timm },
        InteropCase { "swin_official.pth", CheckpointFormat::TorchSave, SwinNaming::Official }));

TEST(SwinInterop, OfficialMasksAndIndicesAreIgnoredWithANote)
{
    if (!haveFixture("swin_official.pth"))
        FAIL() << "missing fixture: " << "swin_official.pth not made";
    SwinLoadReport report;
    loadSwin(test::fixture("swin_official.pth"), keepHead(), &report);
    const auto has = [&](const std::string& note) {
        return std::find(report.notes.begin(), report.notes.end(), note) != report.notes.end();
    };
    EXPECT_TRUE(has("attn_mask buffers ignored: recomputed for each input size"));
    EXPECT_TRUE(has("relative_position_index buffers ignored: recomputed for the window"));
    EXPECT_TRUE(has("heads 2/4/8 from the bias tables"));
    EXPECT_TRUE(has("window 4×4 from the bias tables"));
}

class SwinVideoInterop : public ::testing::TestWithParam<InteropCase> { };

TEST_P(SwinVideoInterop, LogitsMatchTheRelease)
{
    const InteropCase& c = GetParam();
    if (!haveFixture(c.file))
        FAIL() << "missing fixture: " << c.file << " not made (tests/fixtures/make_swin_checkpoints.py)";
    SwinLoadOptions options = keepHead();
    options.overrides.numFrames = 5;
    SwinLoadReport report;
    Swin model = loadSwin(test::fixture(c.file), options, &report);
    EXPECT_EQ(report.format, c.format);
    EXPECT_EQ(report.info.naming, c.naming);
    EXPECT_TRUE(report.info.video);
    EXPECT_TRUE(report.missingKeys.empty()) << report.missingKeys.front();
    EXPECT_TRUE(report.unexpectedKeys.empty()) << report.unexpectedKeys.front();
    const SwinOptions& o = model->options();
    EXPECT_EQ(o.window, (Extent3 { 2, 4, 4 }));
    EXPECT_EQ(o.patch, (Extent3 { 2, 4, 4 }));
    EXPECT_EQ(o.heads, (std::vector<int64_t> { 2, 4 }));
    EXPECT_EQ(o.numFrames, 5);
    EXPECT_EQ(o.numClasses, 10);
    EXPECT_EQ(o.windowFit, WindowFit::Shrink);

    const torch::Tensor input = fixtureTensor("video_swin_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("video_swin_output.safetensors", "output");
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Plain), expected), kLogitTolerance);
    EXPECT_LE(maxAbs(logitsOf(model, input, ExecMode::Stored), expected), kLogitTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SwinVideoInterop,
    ::testing::Values(InteropCase { "video_swin.safetensors", CheckpointFormat::Safetensors, SwinNaming::VideoSwin },
        InteropCase { "video_swin_noprefix.pth", CheckpointFormat::TorchSave, SwinNaming::VideoSwin }));

TEST(SwinInterop, EachFileGoesToItsFamily)
{
    // timm's Swin shares patch_embed.proj.* with timm's ViT: the Swin families are asked first.
    const std::vector<std::pair<const char*, const char*>> files { { "timm_swin.safetensors", "swin" },
        { "tv_swin.safetensors", "swin" }, { "video_swin.safetensors", "video-swin" },
        { "timm_vit.safetensors", "vit" }, { "tv_vit.safetensors", "vit" }, { "video_vit.safetensors", "vit" } };
    for (const auto& [file, family] : files) {
        if (!haveFixture(file))
            continue;
        EXPECT_EQ(familyOfCheckpoint(readCheckpoint(test::fixture(file))).name, family) << file;
    }
}

TEST(SwinInterop, ExportedNamesLoadBackToTheSameLogits)
{
    if (!haveFixture("tv_swin.safetensors"))
        FAIL() << "missing fixture: " << "tv_swin.safetensors not made";
    Swin model = loadSwin(test::fixture("tv_swin.safetensors"), keepHead());
    const torch::Tensor input = fixtureTensor("swin_input.safetensors", "input");
    const torch::Tensor expected = fixtureTensor("swin_output.safetensors", "output");
    const StateDict internal = stateOf(*model);
    for (const std::string& naming : backboneFamily("swin").namings) {
        const std::string path = (test::scratchDir() / ("swin_export_" + naming + ".safetensors")).string();
        writeSafetensors(path, backboneFamily("swin").rename(internal, naming));
        BackboneLoadOptions options;
        options.numClasses.reset();
        BackboneLoadReport report;
        BackbonePtr back = loadBackbone(path, options, &report);
        EXPECT_EQ(report.naming, naming);
        auto& swin = dynamic_cast<SwinImpl&>(*back);
        torch::NoGradGuard noGrad;
        swin.eval();
        EXPECT_LE(maxAbs(swin.forward(input), expected), kLogitTolerance) << naming;
    }
}

TEST(SwinInterop, WindowOverrideResizesLikeTimm)
{
    if (!haveFixture("swin_table_resized.safetensors") || !haveFixture("tv_swin.safetensors"))
        FAIL() << "missing fixture: " << "swin_table_resized.safetensors not made";
    SwinLoadOptions options;
    options.overrides.windowSize = 6;
    SwinLoadReport report;
    Swin model = loadSwin(test::fixture("tv_swin.safetensors"), options, &report);
    EXPECT_TRUE(report.tablesResized);
    const torch::Tensor expected = fixtureTensor("swin_table_resized.safetensors", "resized");
    const StateDict loaded = stateOf(*model);
    const torch::Tensor* table = findTensor(loaded, "stages.0.branches.0.relative_position_bias_table");
    ASSERT_NE(table, nullptr);
    ASSERT_EQ(table->sizes(), expected.sizes());
    EXPECT_LE(maxAbs(*table, expected), 1e-6);
}

} // namespace
} // namespace dr2

namespace dr2 {
namespace {

TEST(SwinLoader, AVideoReleaseFileWithoutPatchNormLoadsWithoutOne)
{
    // The Video Swin release builds patch_norm=False by default: no patch_embed.norm in the file, none in the model.
    SwinOptions o = tinyVideo();
    o.patchNorm = false;
    const StateDict internal = tinyState(o);
    SwinLoadReport report;
    Swin model = loadSwin(checkpointOf(swinFromInternalNames(internal, SwinNaming::VideoSwin)), keepHead(), &report);
    EXPECT_FALSE(model->options().patchNorm);
    EXPECT_TRUE(report.missingKeys.empty()) << report.missingKeys.front();
    expectSameTensors(internal, stateOf(*model), "video without patch norm");
}

} // namespace
} // namespace dr2
