// Real Fashion-MNIST from Debian's dataset-fashion-mnist, subsets, transforms, deterministic loading.
#include "training/data_loader.h"
#include "training/image_dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <memory>

namespace dr2 {
namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

TEST(FashionMnist, LoadsTheRealFiles)
{
    const ImageDataset train = loadFashionMnist(kFashionMnist, /*train=*/true);
    const ImageDataset test = loadFashionMnist(kFashionMnist, /*train=*/false);
    EXPECT_EQ(train.size(), 60000);
    EXPECT_EQ(test.size(), 10000);
    EXPECT_EQ(train.images.sizes(), (std::vector<int64_t> { 60000, 1, 28, 28 }));
    EXPECT_EQ(train.numClasses(), 10);
    // Balanced: 6000 of each class in the training set.
    EXPECT_TRUE(torch::bincount(train.labels).eq(6000).all().item<bool>());
    // Real images: mean intensity of Fashion-MNIST is about 73/255.
    EXPECT_NEAR(train.images.to(torch::kFloat32).mean().item<double>(), 72.9, 1.0);
}

TEST(FashionMnist, MissingFilesNameThePackage)
{
    try {
        loadFashionMnist("/nonexistent", true);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos) << e.what();
    }
}

TEST(FashionMnist, MalformedIdxIsRejected)
{
    const auto dir = std::filesystem::temp_directory_path() / "dr2_idx_test";
    std::filesystem::create_directories(dir);
    for (const char* name : { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" }) {
        gzFile file = gzopen((dir / name).c_str(), "wb");
        // Magic of a rank-3 file, claiming 1000 images of 28×28 but holding none.
        const unsigned char header[] = { 0, 0, 8, 3, 0, 0, 3, 232, 0, 0, 0, 28, 0, 0, 0, 28 };
        gzwrite(file, header, sizeof header);
        gzclose(file);
    }
    try {
        loadFashionMnist(dir.string(), true);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("header declares 784000 bytes, found 0"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
}

TEST(ImageDataset, ClassSubsetsAreRelabelled)
{
    const ImageDataset test = loadFashionMnist(kFashionMnist, false);
    const ImageDataset upper = selectClasses(test, { 5, 6, 7, 8, 9 });
    EXPECT_EQ(upper.size(), 5000);
    EXPECT_EQ(upper.numClasses(), 5);
    EXPECT_EQ(upper.classNames.front(), "Sandal");
    EXPECT_EQ(upper.labels.min().item<int64_t>(), 0);
    EXPECT_EQ(upper.labels.max().item<int64_t>(), 4);
    EXPECT_THROW(selectClasses(test, { 3, 12 }), std::invalid_argument);
    EXPECT_THROW(selectClasses(test, { 3, 3 }), std::invalid_argument);
    const ImageDataset small = takeSubset(upper, 500, /*seed=*/1);
    EXPECT_EQ(small.size(), 500);
    auto [train, val] = splitValidation(upper, 0.2, /*seed=*/1);
    EXPECT_EQ(val.size(), 1000);
    EXPECT_EQ(train.size(), 4000);
}

TEST(Transform, ResizesReplicatesAndNormalises)
{
    const torch::Tensor images = torch::full({ 2, 1, 28, 28 }, 255, torch::kUInt8);
    TransformOptions options;
    options.size = 56;
    options.channels = 3;
    const torch::Tensor out = transformImages(images, options, 0);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t> { 2, 3, 56, 56 }));
    EXPECT_NEAR(out.min().item<double>(), 1.0, 1e-6); // (1 − 0.5)/0.5
    options.randomCrop = true;
    options.flip = true;
    const torch::Tensor a = transformImages(images, options, 7);
    const torch::Tensor b = transformImages(images, options, 7);
    EXPECT_TRUE(a.equal(b));
}

// Data parallel: the shards of W ranks, batch B each, are together what one loader of batch W·B gives, in rank
// order, for full batches and for the last, partial one (where a rank may get fewer samples or none).
TEST(DataLoader, ShardsOfRanksTogetherAreTheBatchOfOneLoader)
{
    const ImageDataset data = takeSubset(loadFashionMnist(kFashionMnist, false), 70, 5);
    const TransformOptions transform { 28, 1, false, false };
    for (const bool dropLast : { true, false }) {
        DataLoader whole(data, int64_t { 3 } * 8, transform, /*shuffle=*/true, 9, dropLast, /*background=*/false);
        std::vector<std::unique_ptr<DataLoader>> ranks;
        for (int64_t r = 0; r < 3; ++r) {
            ranks.push_back(std::make_unique<DataLoader>(data, 8, transform, true, 9, dropLast, /*background=*/r == 1));
            ranks.back()->setShard(r, 3);
        }
        // 70 samples in global batches of 24: two full ones, and 22 left (ranks get 8, 8 and 6).
        EXPECT_EQ(whole.batchesPerEpoch(), dropLast ? 2 : 3);
        for (const auto& rank : ranks)
            EXPECT_EQ(rank->batchesPerEpoch(), whole.batchesPerEpoch());
        whole.startEpoch(1);
        for (auto& rank : ranks)
            rank->startEpoch(1);
        while (auto expected = whole.next()) {
            std::vector<at::Tensor> labels;
            for (auto& rank : ranks)
                if (auto part = rank->next())
                    labels.push_back(part->target.tensor);
            EXPECT_TRUE(torch::cat(labels).equal(expected->target.tensor)) << "dropLast " << dropLast;
        }
        for (auto& rank : ranks)
            EXPECT_FALSE(rank->next().has_value());
    }
    DataLoader loader(data, 8, transform, true, 9, true, false);
    EXPECT_THROW(loader.setShard(3, 3), std::invalid_argument);
    EXPECT_THROW(loader.setShard(0, 9), std::invalid_argument); // 70 samples: no full batch of 8 for 9 ranks
}

TEST(DataLoader, OrderIsDeterministicAndResumable)
{
    const ImageDataset data = takeSubset(loadFashionMnist(kFashionMnist, false), 300, 3);
    TransformOptions options { 28, 1, true, true };
    DataLoader foreground(data, 32, options, true, /*seed=*/11, true, /*background=*/false);
    DataLoader background(data, 32, options, true, /*seed=*/11, true, /*background=*/true);
    ASSERT_EQ(foreground.batchesPerEpoch(), 9);
    foreground.startEpoch(2);
    background.startEpoch(2, /*firstBatch=*/4);
    std::vector<Batch> all;
    while (auto batch = foreground.next())
        all.push_back(*batch);
    ASSERT_EQ(all.size(), 9u);
    int64_t index = 4;
    while (auto batch = background.next()) {
        EXPECT_EQ(batch->index, index);
        EXPECT_TRUE(batch->input.equal(all[static_cast<size_t>(index)].input)) << "batch " << index;
        EXPECT_TRUE(batch->target.tensor.equal(all[static_cast<size_t>(index)].target.tensor));
        ++index;
    }
    EXPECT_EQ(index, 9);
    // Another epoch is another order.
    foreground.startEpoch(3);
    EXPECT_FALSE(foreground.next()->target.tensor.equal(all[0].target.tensor));
}

} // namespace
} // namespace dr2
