// Malformed checkpoints: one actionable line each, no crash, nothing allocated from a file's claims.
#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "core/backbone_registry.h"
#include "core/backbones/vit/vit_loader.h"

#include "tests/checkpoint/checkpoint_test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace dr2 {
namespace {

// A safetensors file from a literal header (length prefix added) and `dataBytes` zero bytes of data.
std::string safetensorsBytes(const std::string& header, size_t dataBytes, uint64_t claimedLength = 0)
{
    const uint64_t length = claimedLength ? claimedLength : header.size();
    std::string bytes;
    for (int i = 0; i < 8; ++i)
        bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    return bytes + header + std::string(dataBytes, '\0');
}

std::string safetensorsError(const std::string& name, const std::string& bytes)
{
    const std::string path = test::writeBytes(name, bytes);
    return test::errorOf([&] { readSafetensors(path); });
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "message: " << (text)

TEST(CheckpointMalformed, EmptyFile)
{
    const std::string path = test::writeBytes("empty.safetensors", "");
    EXPECT_HAS(test::errorOf([&] { readSafetensors(path); }), "file is 0 bytes, too short for the 8-byte header length");
    const std::string message = test::errorOf([&] { readCheckpoint(path); });
    EXPECT_HAS(message, "empty.safetensors: the file is empty; tried safetensors, torch.save zip");
}

TEST(CheckpointMalformed, TruncatedHeaderLength)
{
    EXPECT_HAS(safetensorsError("truncated.safetensors", std::string("\x10\x00\x00", 3)),
        "file is 3 bytes, too short for the 8-byte header length");
}

TEST(CheckpointMalformed, HeaderLengthLargerThanTheFile)
{
    const std::string message = safetensorsError("long_header.safetensors", safetensorsBytes("{}", 0, 4096));
    EXPECT_HAS(message, "header length 4096 exceeds the file (10 bytes, at most 2 available)");
}

TEST(CheckpointMalformed, HeaderLength2To63)
{
    const std::string message
        = safetensorsError("huge_header.safetensors", safetensorsBytes("{}", 0, uint64_t(1) << 63));
    EXPECT_HAS(message, "header length 9223372036854775808 exceeds the file");
}

TEST(CheckpointMalformed, InvalidJson)
{
    const std::string message = safetensorsError("bad_json.safetensors", safetensorsBytes("{\"a\": [1, 2", 0));
    EXPECT_HAS(message, "bad_json.safetensors: header is not valid JSON");
}

TEST(CheckpointMalformed, OffsetsOutOfRange)
{
    const std::string message = safetensorsError("out_of_range.safetensors",
        safetensorsBytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
    EXPECT_HAS(message, "tensor 'w': data_offsets [0, 16] out of range: expected 0 <= begin <= end <= 8");
}

TEST(CheckpointMalformed, OverlappingTensors)
{
    const std::string message = safetensorsError("overlap.safetensors",
        safetensorsBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12));
    EXPECT_HAS(message, "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
}

TEST(CheckpointMalformed, DtypeShapeSizeMismatch)
{
    const std::string message = safetensorsError("size_mismatch.safetensors",
        safetensorsBytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
    EXPECT_HAS(message, "tensor 'w': size mismatch: dtype F32 × shape needs 12 bytes, data_offsets span 8");
    // A shape whose byte count overflows 64 bits is a mismatch, not an allocation.
    const std::string overflow = safetensorsError("size_overflow.safetensors",
        safetensorsBytes(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8));
    EXPECT_HAS(overflow, "needs more than 2^64 bytes");
}

TEST(CheckpointMalformed, UnknownDtype)
{
    const std::string message = safetensorsError("unknown_dtype.safetensors",
        safetensorsBytes(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2));
    EXPECT_HAS(message, "tensor 'w': unknown dtype 'F8_E4M3', expected one of F64, F32");
}

TEST(CheckpointMalformed, DuplicateNames)
{
    const std::string message = safetensorsError("duplicate.safetensors",
        safetensorsBytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                         R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
            2));
    EXPECT_HAS(message, "tensor name 'w' appears more than once");
}

TEST(CheckpointMalformed, ZipThatIsNotAPyTorchArchive)
{
    const std::string message = test::errorOf([] { readCheckpoint(test::fixture("not_pytorch.zip")); });
    EXPECT_HAS(message, "not_pytorch.zip: a zip archive but not a PyTorch archive");
    EXPECT_HAS(message, "tried safetensors, torch.save zip");
}

TEST(CheckpointMalformed, GlobalOutsideTheAllowListIsRefusedNotCalled)
{
    // The pickle asks for os.system("echo this must never run"): an allow-list reader refuses the name.
    const std::string message = test::errorOf([] { readCheckpoint(test::fixture("disallowed_global.pt")); });
    EXPECT_HAS(message, "disallowed_global.pt");
    EXPECT_HAS(message, "is not allowed");
    EXPECT_HAS(message, "system");
}

TEST(CheckpointMalformed, UnknownFormatListsWhatWasTried)
{
    const std::string path = test::writeBytes("notes.txt", "these are not the weights you are looking for\n");
    const std::string message = test::errorOf([&] { readCheckpoint(path); });
    EXPECT_HAS(message, "notes.txt: unrecognised format (tried safetensors, torch.save zip (PyTorch >= 1.6) and TorchScript");
    EXPECT_EQ(message.find('\n'), std::string::npos);
}

// Rewrites a fixture through `edit` into a scratch safetensors file.
template <typename Edit>
std::string editedCheckpoint(const std::string& fixture, const std::string& name, Edit&& edit)
{
    LoadedCheckpoint checkpoint = readCheckpoint(test::fixture(fixture));
    StateDict tensors = checkpoint.tensors;
    edit(tensors);
    std::string path = (test::scratchDir() / name).string();
    writeSafetensors(path, tensors, checkpoint.metadata);
    return path;
}

TEST(CheckpointMalformed, StateDictMissingABlock)
{
    const std::string path = editedCheckpoint("tv_vit.safetensors", "missing_block.safetensors", [](StateDict& t) {
        t.erase(std::remove_if(t.begin(), t.end(),
                    [](const auto& e) { return e.first.rfind("encoder.layers.encoder_layer_0.", 0) == 0; }),
            t.end());
    });
    ViTLoadOptions options;
    options.overrides.heads = 4;
    const std::string message = test::errorOf([&] { loadViT(path, options); });
    EXPECT_HAS(message, "missing_block.safetensors: 12 tensors of the inferred architecture are missing from the file");
    EXPECT_HAS(message, "encoder.layers.encoder_layer_0.");
    // Explicitly allowed, the gap is reported instead.
    options.allowMissing = true;
    ViTLoadReport report;
    loadViT(path, options, &report);
    EXPECT_EQ(report.missingKeys.size(), 12u); // 6 per branch: norm, qkv, proj; norm, fc1, fc2
}

TEST(CheckpointMalformed, BlockNamesClaimingMoreLayersThanTensorsAreRefusedBeforeBuilding)
{
    // One tensor named as layer 99,999,999: believing it would build a hundred million layers first.
    const std::string vit = editedCheckpoint("timm_vit.safetensors", "huge_vit.safetensors", [](StateDict& t) {
        t.emplace_back("blocks.99999999.norm1.weight", torch::ones({ 32 }));
    });
    EXPECT_HAS(test::errorOf([&] { loadViT(vit, ViTLoadOptions {}); }),
        "huge_vit.safetensors: block names claim 100000000 layers, but the file holds only");
    const std::string swin = editedCheckpoint("tv_swin.safetensors", "huge_swin.safetensors", [](StateDict& t) {
        t.emplace_back("features.5.99999999.norm1.weight", torch::ones({ 32 }));
    });
    EXPECT_HAS(test::errorOf([&] { loadBackbone(swin, BackboneLoadOptions {}); }),
        "huge_swin.safetensors: block names claim 100000004 blocks, but the file holds only");
}

TEST(CheckpointMalformed, TransposedWeightNamesTheTensorAndBothShapes)
{
    const std::string path = editedCheckpoint("timm_vit.safetensors", "transposed.safetensors", [](StateDict& t) {
        for (auto& [name, tensor] : t)
            if (name == "blocks.1.attn.qkv.weight")
                tensor = tensor.t().contiguous();
    });
    const std::string message = test::errorOf([&] { loadViT(path, ViTLoadOptions {}); });
    EXPECT_HAS(message, "loading checkpoint ");
    EXPECT_HAS(message, "transposed.safetensors: tensor blocks.1.attn.qkv.weight: expected [96, 32], found [32, 96]");
}

TEST(CheckpointMalformed, NaNWeightsAreNamedInTheReport)
{
    const std::string path = editedCheckpoint("timm_vit.safetensors", "nan.safetensors", [](StateDict& t) {
        for (auto& [name, tensor] : t)
            if (name == "blocks.0.mlp.fc1.weight")
                tensor[0][0] = std::numeric_limits<float>::quiet_NaN();
    });
    ViTLoadReport report;
    loadViT(path, ViTLoadOptions {}, &report);
    ASSERT_EQ(report.nanTensors.size(), 1u);
    EXPECT_EQ(report.nanTensors[0], "blocks.0.mlp.fc1.weight");
}

TEST(CheckpointMalformed, UnexpectedKeysAreReported)
{
    const std::string path = editedCheckpoint("timm_vit.safetensors", "extra.safetensors",
        [](StateDict& t) { t.emplace_back("dist_token", torch::zeros({ 1, 1, 32 })); });
    ViTLoadReport report;
    loadViT(path, ViTLoadOptions {}, &report);
    ASSERT_EQ(report.unexpectedKeys.size(), 1u);
    EXPECT_EQ(report.unexpectedKeys[0], "dist_token");
}

} // namespace
} // namespace dr2
