// Real Fashion-MNIST from Debian's dataset-fashion-mnist, subsets, transforms, deterministic loading.
#include "training/data_loader.h"
#include "training/image_dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>

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
