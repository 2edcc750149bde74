// Segmentation data: scenes composed from real Fashion-MNIST items, the user's images/ + masks/ folders, and
// augmentation that keeps every pixel on its label.
#include "training/data_loader.h"
#include "training/image_dataset.h"
#include "training/segmentation_data.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

// Declarations only: the implementation is compiled once for this executable, in clips_test.cpp.
#include <stb/stb_image_write.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <tuple>
#include <unistd.h>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

/// The Fashion-MNIST splits, loaded once for the whole file (each load inflates ~50 MB).
const ImageDataset& fashion(bool train)
{
    static const ImageDataset trainSplit = loadFashionMnist(kFashionMnist, /*train=*/true);
    static const ImageDataset testSplit = loadFashionMnist(kFashionMnist, /*train=*/false);
    return train ? trainSplit : testSplit;
}

std::string errorOf(const std::function<void()>& run)
{
    try {
        run();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

/// An error is one line and names what it is about.
void expectOneLineNaming(const std::string& message, const std::string& part)
{
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(part), std::string::npos) << "expected '" << part << "' in: " << message;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenes

TEST(SegmentationScenes, AreDeterministicAndSceneIDependsOnlyOnSeedAndI)
{
    SceneOptions options;
    options.size = 96;
    options.maxScale = 2.0;
    options.count = 40;
    options.seed = 7;
    const ImageDataset many = makeFashionScenes(fashion(true), options);
    const ImageDataset again = makeFashionScenes(fashion(true), options);
    EXPECT_TRUE(many.images.equal(again.images));
    EXPECT_TRUE(many.masks.equal(again.masks));
    options.count = 10;
    const ImageDataset few = makeFashionScenes(fashion(true), options);
    EXPECT_TRUE(few.images.equal(many.images.narrow(0, 0, 10)));
    EXPECT_TRUE(few.masks.equal(many.masks.narrow(0, 0, 10)));
    options.seed = 8;
    const ImageDataset other = makeFashionScenes(fashion(true), options);
    EXPECT_FALSE(other.images.equal(few.images));
    // Scenes differ from one another too (a generator per scene, not one reseeded alike).
    EXPECT_FALSE(many.images[0].equal(many.images[1]));
}

TEST(SegmentationScenes, ShapesNamesAndProvenance)
{
    SceneOptions options;
    options.count = 4;
    const ImageDataset scenes = makeFashionScenes(fashion(true), options);
    EXPECT_EQ(scenes.images.sizes(), (std::vector<int64_t> { 4, 1, 224, 224 }));
    EXPECT_EQ(scenes.masks.sizes(), (std::vector<int64_t> { 4, 224, 224 }));
    EXPECT_EQ(scenes.images.scalar_type(), torch::kUInt8);
    EXPECT_EQ(scenes.masks.scalar_type(), torch::kUInt8);
    EXPECT_FALSE(scenes.labels.defined());
    EXPECT_EQ(scenes.size(), 4);
    ASSERT_EQ(scenes.numClasses(), 11);
    EXPECT_EQ(scenes.classNames[0], "background");
    for (size_t c = 0; c < 10; ++c)
        EXPECT_EQ(scenes.classNames[c + 1], fashion(true).classNames[c]);
    EXPECT_NE(scenes.source.find("fashion-mnist:train"), std::string::npos) << scenes.source;

    options.classes = { 7, 5 };
    const ImageDataset two = makeFashionScenes(fashion(true), options);
    EXPECT_EQ(two.classNames, (std::vector<std::string> { "background", "Sneaker", "Sandal" }));
    EXPECT_LE(two.masks.max().item<int64_t>(), 2);
}

TEST(SegmentationScenes, MasksAreWhereTheItemsAreBright)
{
    SceneOptions options;
    options.size = 128;
    options.count = 64;
    options.minScale = 0.75;
    options.maxScale = 3.0;
    options.seed = 3;
    const ImageDataset scenes = makeFashionScenes(fashion(false), options);
    const torch::Tensor image = scenes.images.squeeze(1);
    const torch::Tensor item = scenes.masks.gt(0);
    // Opaque item pixels are exactly the pixels above the threshold; background never exceeds it.
    EXPECT_TRUE(item.equal(image.gt(kSceneItemThreshold)));
    EXPECT_LE(image.masked_select(item.logical_not()).max().item<int64_t>(), kSceneItemThreshold);
    // Real content: items cover a fair share of the canvas, and their pixels are not one flat value.
    const double covered = item.to(torch::kFloat32).mean().item<double>();
    EXPECT_GT(covered, 0.05);
    EXPECT_LT(covered, 0.9);
    EXPECT_GT(image.masked_select(item).to(torch::kFloat32).std().item<double>(), 20.0);
    // Soft edges: some background pixels are faintly lit by an item's surroundings, not all black.
    EXPECT_GT(image.masked_select(item.logical_not()).gt(0).sum().item<int64_t>(), 0);
}

TEST(SegmentationScenes, ItemsKeepTheirClassAndArePaintedInOrder)
{
    // Flat synthetic items (class c: value 60 + 20·c over the whole 28²) make bilinear resizing exact, so each mask
    // class must show exactly its item's value: relabelling and image/mask consistency, pixel for pixel.
    ImageDataset items;
    items.images = torch::empty({ 10, 1, 28, 28 }, torch::kUInt8);
    items.labels = torch::arange(10, torch::kLong);
    for (int64_t c = 0; c < 10; ++c) {
        items.images[c].fill_(60 + 20 * c);
        items.classNames.push_back("flat " + std::to_string(c));
    }
    items.source = "flat";
    SceneOptions options;
    options.size = 64;
    options.count = 50;
    options.minItems = 2;
    options.maxItems = 6;
    options.maxScale = 2.0;
    options.classes = { 9, 2, 4 };
    const ImageDataset scenes = makeFashionScenes(items, options);
    const torch::Tensor image = scenes.images.squeeze(1).to(torch::kLong);
    const torch::Tensor mask = scenes.masks.to(torch::kLong);
    EXPECT_TRUE(image.masked_select(mask.eq(0)).eq(0).all().item<bool>());
    for (int64_t k = 0; k < 3; ++k) {
        const torch::Tensor values = image.masked_select(mask.eq(k + 1));
        ASSERT_GT(values.numel(), 0) << "class " << k + 1;
        EXPECT_TRUE(values.eq(60 + 20 * options.classes[static_cast<size_t>(k)]).all().item<bool>())
            << "class " << k + 1;
    }
    // Items are squares of 28..56 pixels: a scene with items has at least 28² item pixels.
    EXPECT_GE(mask.gt(0).sum({ 1, 2 }).min().item<int64_t>(), 28 * 28);
    EXPECT_EQ(scenes.classNames, (std::vector<std::string> { "background", "flat 9", "flat 2", "flat 4" }));
}

TEST(SegmentationScenes, EveryClassAppearsAndTrainAndTestItemsGiveDifferentScenes)
{
    SceneOptions options;
    options.size = 112;
    options.count = 300;
    options.seed = 1;
    const ImageDataset train = makeFashionScenes(fashion(true), options);
    const torch::Tensor counts = torch::bincount(train.masks.flatten().to(torch::kLong), {}, 11);
    for (int64_t c = 0; c < 11; ++c)
        EXPECT_GT(counts[c].item<int64_t>(), 1000) << train.classNames[static_cast<size_t>(c)];
    // The same seed draws the same layout, but items from another split are other garments.
    const ImageDataset test = makeFashionScenes(fashion(false), options);
    EXPECT_FALSE(test.images.equal(train.images));
    EXPECT_NE(test.source, train.source);
}

TEST(SegmentationScenes, RefusesImpossibleOptions)
{
    SceneOptions options;
    options.count = 100000;
    options.size = 1024;
    expectOneLineNaming(errorOf([&] { makeFashionScenes(fashion(false), options); }), "GiB");
    options = SceneOptions {};
    options.size = 64;
    expectOneLineNaming(errorOf([&] { makeFashionScenes(fashion(false), options); }), "maxScale 4");
    options = SceneOptions {};
    options.classes = { 3, 10 };
    expectOneLineNaming(errorOf([&] { makeFashionScenes(fashion(false), options); }), "class 10");
    options.classes = { 3, 3 };
    expectOneLineNaming(errorOf([&] { makeFashionScenes(fashion(false), options); }), "listed twice");
    options = SceneOptions {};
    options.minItems = 5;
    options.maxItems = 2;
    expectOneLineNaming(errorOf([&] { makeFashionScenes(fashion(false), options); }), "minItems");
}

TEST(SegmentationScenes, GenerateQuickly)
{
    SceneOptions options; // 512 scenes of 224², 3..8 items of 28..112 pixels
    const auto start = std::chrono::steady_clock::now();
    const ImageDataset scenes = makeFashionScenes(fashion(true), options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ timing   ] 512 scenes of 224²: " << seconds << " s\n";
    EXPECT_EQ(scenes.size(), 512);
    // Measured ~0.1 s on one core; the bound leaves room for a busy CI machine.
    EXPECT_LT(seconds, 3.0);
}

// ---------------------------------------------------------------------------------------------------------------
// ImageDataset with masks

/// Row i: every image pixel i, every mask pixel i % 200, so a row's image and mask identify it.
ImageDataset numberedRows(int64_t n)
{
    ImageDataset dataset;
    dataset.images
        = torch::arange(n, torch::kLong).to(torch::kUInt8).view({ n, 1, 1, 1 }).expand({ n, 1, 4, 4 }).contiguous();
    dataset.masks = torch::arange(n, torch::kLong)
                        .remainder(200)
                        .to(torch::kUInt8)
                        .view({ n, 1, 1 })
                        .expand({ n, 4, 4 })
                        .contiguous();
    dataset.classNames = std::vector<std::string>(200, "c");
    dataset.source = "numbered";
    return dataset;
}

TEST(SegmentationDataset, SubsetsAndSplitsCarryMasksAlong)
{
    const ImageDataset data = numberedRows(100);
    EXPECT_EQ(data.size(), 100); // counts images: labels are undefined
    const auto rowsAgree
        = [](const ImageDataset& d) { return d.images.flatten(1).select(1, 0).equal(d.masks.flatten(1).select(1, 0)); };
    const ImageDataset subset = takeSubset(data, 30, /*seed=*/4);
    ASSERT_EQ(subset.size(), 30);
    ASSERT_TRUE(subset.masks.defined());
    EXPECT_FALSE(subset.labels.defined());
    EXPECT_TRUE(rowsAgree(subset));
    EXPECT_FALSE(subset.images.equal(data.images.narrow(0, 0, 30))); // a shuffled pick, not the first rows
    auto [train, val] = splitValidation(data, 0.25, /*seed=*/4);
    ASSERT_EQ(val.size(), 25);
    ASSERT_EQ(train.size(), 75);
    EXPECT_TRUE(rowsAgree(train));
    EXPECT_TRUE(rowsAgree(val));
}

TEST(SegmentationDataset, ClassSelectionIsRefusedForMasks)
{
    const ImageDataset data = numberedRows(10);
    EXPECT_TRUE(selectClasses(data, {}).masks.equal(data.masks));
    const std::string message = errorOf([&] { selectClasses(data, { 1, 2 }); });
    expectOneLineNaming(message, "segmentation");
    EXPECT_THROW(selectClasses(data, { 1 }), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------------------
// Mask folders

/// A fresh folder under the temp directory, removed at the end of the test.
class SegmentationMaskFolder : public ::testing::Test {
protected:
    void SetUp() override
    {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        m_root = fs::temp_directory_path() / ("dr2_masks_" + std::to_string(::getpid()) + "_" + test->name());
        fs::remove_all(m_root);
        fs::create_directories(m_root / "images");
        fs::create_directories(m_root / "masks");
    }
    void TearDown() override { fs::remove_all(m_root); }

    /// Writes a grey (1) or RGB (3) PNG of w × h from row-major bytes.
    void png(const std::string& relative, int w, int h, int comp, const std::vector<uint8_t>& pixels) const
    {
        ASSERT_EQ(pixels.size(), static_cast<size_t>(w) * h * comp);
        ASSERT_TRUE(stbi_write_png((m_root / relative).c_str(), w, h, comp, pixels.data(), w * comp));
    }
    void text(const std::string& relative, const std::string& content) const
    {
        std::ofstream(m_root / relative) << content;
    }
    std::string root() const { return m_root.string(); }

    fs::path m_root;
};

/// A w × h grey mask: left half `left`, right half `right`.
std::vector<uint8_t> halves(int w, int h, uint8_t left, uint8_t right)
{
    std::vector<uint8_t> mask(static_cast<size_t>(w) * h);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            mask[static_cast<size_t>(y) * w + x] = x < w / 2 ? left : right;
    return mask;
}

TEST_F(SegmentationMaskFolder, LoadsIndexMasksWithClassNames)
{
    // Three image formats, one grey and one colour PNG among them; masks at the images' own (varied) sizes.
    png("images/a.png", 8, 8, 1, std::vector<uint8_t>(64, 200));
    png("masks/a.png", 8, 8, 1, halves(8, 8, 0, 2));
    std::vector<uint8_t> rgb(size_t { 16 } * 4 * 3, 90);
    ASSERT_TRUE(stbi_write_bmp((m_root / "images/b.bmp").c_str(), 16, 4, 3, rgb.data()));
    png("masks/b.png", 16, 4, 1, halves(16, 4, 1, 255));
    ASSERT_TRUE(stbi_write_jpg((m_root / "images/c.jpg").c_str(), 16, 4, 3, rgb.data(), 95));
    png("masks/c.png", 16, 4, 1, halves(16, 4, 255, 0));
    text("classes.txt", "sky\nroad\r\ncar\n\n");
    const ImageDataset data = loadMaskFolder(root(), /*size=*/8, /*channels=*/3);
    EXPECT_EQ(data.images.sizes(), (std::vector<int64_t> { 3, 3, 8, 8 }));
    EXPECT_EQ(data.masks.sizes(), (std::vector<int64_t> { 3, 8, 8 }));
    EXPECT_EQ(data.classNames, (std::vector<std::string> { "sky", "road", "car" }));
    EXPECT_FALSE(data.labels.defined());
    EXPECT_EQ(data.size(), 3);
    // Sorted by stem; masks resized by nearest neighbour, so halves stay halves and 255 stays 255.
    EXPECT_TRUE(data.masks[0].equal(torch::tensor(halves(8, 8, 0, 2), torch::kUInt8).view({ 8, 8 })));
    EXPECT_TRUE(data.masks[1].equal(torch::tensor(halves(8, 8, 1, 255), torch::kUInt8).view({ 8, 8 })));
    EXPECT_TRUE(data.masks[2].equal(torch::tensor(halves(8, 8, 255, 0), torch::kUInt8).view({ 8, 8 })));
    EXPECT_TRUE(data.images[0].eq(200).all().item<bool>()); // grey replicated to 3 channels
    EXPECT_TRUE(data.images[1].eq(90).all().item<bool>());
    EXPECT_NE(data.source.find(root()), std::string::npos);
}

TEST_F(SegmentationMaskFolder, NamesClassesByTheLargestLabelWithoutClassesTxt)
{
    png("images/a.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    png("masks/a.png", 4, 4, 1, halves(4, 4, 0, 4));
    png("images/b.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    png("masks/b.png", 4, 4, 1, halves(4, 4, 255, 1));
    const ImageDataset data = loadMaskFolder(root(), /*size=*/6, /*channels=*/1);
    EXPECT_EQ(data.classNames, (std::vector<std::string> { "class 0", "class 1", "class 2", "class 3", "class 4" }));
    EXPECT_EQ(data.images.sizes(), (std::vector<int64_t> { 2, 1, 6, 6 }));
    EXPECT_TRUE(hasSplitFolders(root()) == false);
}

TEST_F(SegmentationMaskFolder, MapsPaletteColoursAndIgnoresListedOnes)
{
    text("palette.txt", "0 0 0\n\n#FF0000\nignore 255 255 255\n0 128 255\nignore #00FF00\n");
    png("images/a.png", 4, 2, 1, std::vector<uint8_t>(8, 9));
    // Row 0: black, red, white, blue; row 1: green, blue, red, black.
    png("masks/a.png", 4, 2, 3,
        { 0, 0, 0, 255, 0, 0, 255, 255, 255, 0, 128, 255, 0, 255, 0, 0, 128, 255, 255, 0, 0, 0, 0, 0 });
    const ImageDataset data = loadMaskFolder(root(), /*size=*/4, /*channels=*/1);
    EXPECT_TRUE(data.masks[0].equal(
        torch::tensor({ 0, 1, 255, 2, 255, 2, 1, 0 }, torch::kUInt8).view({ 2, 4 }).repeat_interleave(2, 0)))
        << data.masks[0];
    EXPECT_EQ(data.classNames, (std::vector<std::string> { "class 0", "class 1", "class 2" }));
    // A colour the palette does not list names the file, the pixel and the colour.
    png("images/b.png", 2, 1, 1, { 0, 0 });
    png("masks/b.png", 2, 1, 3, { 255, 0, 0, 12, 34, 56 });
    const std::string message = errorOf([&] { loadMaskFolder(root(), 4, 1); });
    expectOneLineNaming(message, (m_root / "masks/b.png").string());
    expectOneLineNaming(message, "x 1, y 0");
    expectOneLineNaming(message, "12 34 56 (#0C2238)");
}

TEST_F(SegmentationMaskFolder, PaletteAndClassesMustAgree)
{
    png("images/a.png", 2, 1, 1, { 0, 0 });
    png("masks/a.png", 2, 1, 3, { 255, 0, 0, 0, 0, 0 });
    text("palette.txt", "0 0 0\n255 0 0\n");
    text("classes.txt", "background\nperson\n");
    EXPECT_EQ(loadMaskFolder(root(), 2, 1).classNames, (std::vector<std::string> { "background", "person" }));
    text("classes.txt", "background\nperson\ncar\n");
    expectOneLineNaming(errorOf([&] { loadMaskFolder(root(), 2, 1); }), "palette.txt lists 2");
    text("palette.txt", "0 0 0\n255 0 0 0\n");
    expectOneLineNaming(errorOf([&] { loadMaskFolder(root(), 2, 1); }), "palette.txt:2: expected");
    text("palette.txt", "0 0 0\n#000000\n");
    expectOneLineNaming(errorOf([&] { loadMaskFolder(root(), 2, 1); }), "already listed on line 1");
}

TEST_F(SegmentationMaskFolder, EachErrorIsOneLineNamingTheFile)
{
    const auto load = [this] { return errorOf([this] { loadMaskFolder(root(), 8, 1); }); };
    expectOneLineNaming(load(), "no .png/.jpg/.jpeg/.bmp images in " + (m_root / "images").string());

    png("images/cat.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    expectOneLineNaming(load(), (m_root / "images/cat.png").string() + ": no mask masks/cat.png");

    png("masks/cat.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    png("masks/dog.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    expectOneLineNaming(load(), (m_root / "masks/dog.png").string() + ": no image images/dog.");
    fs::remove(m_root / "masks/dog.png");

    png("images/owl.png", 6, 5, 1, std::vector<uint8_t>(30, 1));
    png("masks/owl.png", 5, 6, 1, std::vector<uint8_t>(30, 1));
    std::string message = load();
    expectOneLineNaming(message, (m_root / "masks/owl.png").string());
    expectOneLineNaming(message, "5×6");
    expectOneLineNaming(message, "6×5");
    png("masks/owl.png", 6, 5, 1, std::vector<uint8_t>(30, 1));

    // A label outside classes.txt names value, file, pixel and count; 255 (ignore) is allowed.
    text("classes.txt", "a\nb\nc\n");
    std::vector<uint8_t> labels(30, 255);
    labels[7] = 3; // x 1, y 1
    png("masks/owl.png", 6, 5, 1, labels);
    message = load();
    expectOneLineNaming(message, (m_root / "masks/owl.png").string() + ": label 3 at pixel x 1, y 1");
    expectOneLineNaming(message, "lists 3 classes");
    labels[7] = 2;
    png("masks/owl.png", 6, 5, 1, labels);
    EXPECT_EQ(load(), "(no error)");

    // Colour masks need a palette.
    png("masks/owl.png", 6, 5, 3, std::vector<uint8_t>(90, 0));
    EXPECT_EQ(load(), "(no error)") << "grey stored as RGB is still an index mask";
    std::vector<uint8_t> colour(90, 0);
    colour[0] = 255;
    png("masks/owl.png", 6, 5, 3, colour);
    expectOneLineNaming(load(), "palette.txt is absent");
    png("masks/owl.png", 6, 5, 1, labels);

    // Unreadable and corrupt files.
    std::ofstream(m_root / "images/eel.png") << "not a png at all";
    png("masks/eel.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    expectOneLineNaming(load(), (m_root / "images/eel.png").string());
    fs::remove(m_root / "images/eel.png");
    fs::remove(m_root / "masks/eel.png");
    {
        // A PNG header declaring 100000 × 100000 pixels, refused before anything is allocated for it.
        png("images/big.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
        std::fstream file(m_root / "images/big.png", std::ios::in | std::ios::out | std::ios::binary);
        const unsigned char size[8] = { 0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0 }; // IHDR width and height
        file.seekp(16);
        file.write(reinterpret_cast<const char*>(size), 8);
        file.close();
        png("masks/big.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
        expectOneLineNaming(load(), (m_root / "images/big.png").string());
        fs::remove(m_root / "images/big.png");
        fs::remove(m_root / "masks/big.png");
    }

    text("classes.txt", "a\n\nc\n");
    expectOneLineNaming(load(), "classes.txt:2: empty class name");
    fs::remove(m_root / "classes.txt");

    fs::remove_all(m_root / "masks");
    expectOneLineNaming(load(), "no masks/ folder");
    expectOneLineNaming(errorOf([] { loadMaskFolder("/nonexistent/dr2", 8, 1); }), "/nonexistent/dr2");
}

TEST_F(SegmentationMaskFolder, FindsTrainAndValFolders)
{
    EXPECT_FALSE(hasSplitFolders(root()));
    fs::create_directories(m_root / "train" / "images");
    EXPECT_FALSE(hasSplitFolders(root()));
    fs::create_directories(m_root / "val" / "images");
    EXPECT_TRUE(hasSplitFolders(root()));
}

// ---------------------------------------------------------------------------------------------------------------
// Aligned augmentation

constexpr int64_t kBlock = 8; // pattern block side; ≥ 6 keeps the scale test's argument valid (see there)

/// Image value that encodes mask class c; away from 0 so that image padding is told apart from every class.
torch::Tensor code(const torch::Tensor& c)
{
    return c * 25 + 20;
}

/// B samples of S² in blocks of kBlock² with random classes 0..8; each image pixel = code(its mask class).
std::pair<torch::Tensor, torch::Tensor> blockPattern(int64_t batch, int64_t side, uint64_t seed)
{
    torch::manual_seed(static_cast<int64_t>(seed));
    const int64_t blocks = side / kBlock;
    torch::Tensor masks = torch::randint(0, 9, { batch, blocks, blocks }, torch::kLong);
    masks = masks.repeat_interleave(kBlock, 1).repeat_interleave(kBlock, 2);
    torch::Tensor images = code(masks).to(torch::kUInt8).unsqueeze(1);
    return { images, masks.to(torch::kUInt8) };
}

/// The stored uint8 value a normalised input pixel came from (mean 0.5, std 0.5).
torch::Tensor denormalise(const torch::Tensor& input)
{
    return (input * 0.5 + 0.5) * 255.0;
}

TEST(SegmentationTransform, CropAndFlipKeepEveryPixelOnItsLabel)
{
    const auto [images, masks] = blockPattern(16, 48, 1);
    TransformOptions options;
    options.size = 48;
    options.randomCrop = true;
    options.flip = true;
    const DenseBatch out = transformSegmentation(images, masks, options, /*seed=*/5);
    ASSERT_EQ(out.input.sizes(), (std::vector<int64_t> { 16, 1, 48, 48 }));
    ASSERT_EQ(out.masks.sizes(), (std::vector<int64_t> { 16, 48, 48 }));
    ASSERT_EQ(out.input.scalar_type(), torch::kFloat32);
    ASSERT_EQ(out.masks.scalar_type(), torch::kLong);
    // Exact: every labelled pixel shows its class's code, every ignored pixel is image padding (0).
    const torch::Tensor stored = denormalise(out.input.squeeze(1));
    const torch::Tensor ignored = out.masks.eq(kIgnoreLabel);
    const torch::Tensor expected
        = torch::where(ignored, torch::zeros_like(stored), code(out.masks).to(torch::kFloat32));
    EXPECT_LT((stored - expected).abs().max().item<double>(), 1e-3);
    // The augmentation did something: padding appeared, and some samples moved.
    EXPECT_GT(ignored.sum().item<int64_t>(), 0);
    EXPECT_FALSE(out.masks.equal(masks.to(torch::kLong)));
    // Padding lies on the border (crop offsets up to 48/8 = 6 pixels), never inside.
    EXPECT_FALSE(ignored.narrow(1, 6, 36).narrow(2, 6, 36).any().item<bool>());
}

TEST(SegmentationTransform, FlipAloneMirrorsImageAndMaskTogether)
{
    const auto [images, masks] = blockPattern(32, 16, 2);
    TransformOptions options;
    options.size = 16;
    options.flip = true;
    const DenseBatch out = transformSegmentation(images, masks, options, /*seed=*/9);
    int64_t flipped = 0;
    for (int64_t i = 0; i < 32; ++i) {
        const torch::Tensor m = masks[i].to(torch::kLong);
        const bool same = out.masks[i].equal(m);
        const bool mirrored = out.masks[i].equal(m.flip({ 1 }));
        EXPECT_TRUE(same || mirrored) << "sample " << i;
        flipped += !same;
        const torch::Tensor source = mirrored && !same ? images[i].flip({ 2 }) : images[i];
        EXPECT_LT((denormalise(out.input[i]) - source.to(torch::kFloat32)).abs().max().item<double>(), 1e-3);
    }
    EXPECT_GT(flipped, 4);
    EXPECT_LT(flipped, 28);
}

TEST(SegmentationTransform, ScaleKeepsBlockInteriorsExactlyAligned)
{
    // Bilinear (image) and half-pixel nearest (mask) resizing agree wherever bilinear's 2×2 source taps share one
    // class. For scales in [½, 2] the nearest samples of a pixel's 3×3 output neighbourhood span both taps, and
    // with blocks of ≥ 6 source pixels a span whose ends have class c lies in one block; so a pixel whose 3×3
    // mask neighbourhood is all class c must show exactly code(c). A misaligned mask (off by a pixel, or scaled
    // differently) breaks this along every block edge.
    const auto [images, masks] = blockPattern(24, 64, 3);
    TransformOptions options;
    options.size = 64; // the window is the original size, so no second resize blurs the check
    options.minScale = 0.5;
    options.maxScale = 2.0;
    options.randomCrop = true;
    options.flip = true;
    const DenseBatch out = transformSegmentation(images, masks, options, /*seed=*/11);
    const torch::Tensor stored = denormalise(out.input.squeeze(1));
    const torch::Tensor m = out.masks.to(torch::kFloat32).unsqueeze(1);
    // Uniform 3×3 neighbourhood: max pool equals min pool (border pixels excluded by the valid-only pooling).
    const torch::Tensor high = torch::max_pool2d(m, 3, 1).squeeze(1);
    const torch::Tensor low = -torch::max_pool2d(-m, 3, 1).squeeze(1);
    const torch::Tensor centre = out.masks.narrow(1, 1, 62).narrow(2, 1, 62);
    const torch::Tensor uniform = high.eq(low).logical_and(centre.ne(kIgnoreLabel));
    const torch::Tensor interior = stored.narrow(1, 1, 62).narrow(2, 1, 62);
    const torch::Tensor expected = code(centre).to(torch::kFloat32);
    const torch::Tensor error = (interior - expected).abs().masked_select(uniform);
    ASSERT_GT(error.numel(), 24 * 62 * 62 / 3) << "the check covers most pixels";
    EXPECT_LT(error.max().item<double>(), 1e-3);
    // Scales really vary: zoomed-out samples have padding (ignore) beyond the crop border, zoomed-in ones have
    // blocks larger than kBlock.
    const torch::Tensor ignoredPerSample = out.masks.eq(kIgnoreLabel).sum({ 1, 2 });
    EXPECT_GT(ignoredPerSample.max().item<int64_t>(), 64 * 64 / 3);
    EXPECT_EQ(ignoredPerSample.min().item<int64_t>(), 0);
}

TEST(SegmentationTransform, ResizesToTheModelSizeAndReplicatesChannels)
{
    const auto [images, masks] = blockPattern(4, 32, 4);
    TransformOptions options;
    options.size = 64;
    options.channels = 3;
    const DenseBatch out = transformSegmentation(images, masks, options, /*seed=*/0);
    ASSERT_EQ(out.input.sizes(), (std::vector<int64_t> { 4, 3, 64, 64 }));
    ASSERT_EQ(out.masks.sizes(), (std::vector<int64_t> { 4, 64, 64 }));
    // ×2 exactly: each mask pixel becomes a 2×2 block; the image's block interiors carry the same codes.
    EXPECT_TRUE(out.masks.equal(masks.to(torch::kLong).repeat_interleave(2, 1).repeat_interleave(2, 2)));
    EXPECT_TRUE(out.input.select(1, 0).equal(out.input.select(1, 2)));
    const torch::Tensor stored = denormalise(out.input.select(1, 0));
    EXPECT_LT((stored.narrow(1, 4, 8).narrow(2, 4, 8) - code(out.masks.narrow(1, 4, 8).narrow(2, 4, 8)))
                  .abs()
                  .max()
                  .item<double>(),
        1e-3);
}

TEST(SegmentationTransform, RandomChoicesDependOnlyOnTheSeed)
{
    // Named tensors, not structured bindings: C++17 lambdas cannot capture those.
    torch::Tensor images, masks;
    std::tie(images, masks) = blockPattern(8, 32, 5);
    TransformOptions options;
    options.size = 40;
    options.randomCrop = true;
    options.flip = true;
    options.minScale = 0.75;
    options.maxScale = 1.5;
    const DenseBatch a = transformSegmentation(images, masks, options, 21);
    const DenseBatch b = transformSegmentation(images, masks, options, 21);
    const DenseBatch c = transformSegmentation(images, masks, options, 22);
    EXPECT_TRUE(a.input.equal(b.input));
    EXPECT_TRUE(a.masks.equal(b.masks));
    EXPECT_FALSE(a.masks.equal(c.masks));
    options.minScale = 2.0;
    options.maxScale = 1.0;
    expectOneLineNaming(errorOf([&] { transformSegmentation(images, masks, options, 0); }), "minScale");
    expectOneLineNaming(
        errorOf([&] { transformSegmentation(images, masks.narrow(1, 0, 8), {}, 0); }), "masks [B, H, W]");
}

// ---------------------------------------------------------------------------------------------------------------
// Loader

TEST(SegmentationLoader, BatchesCarryMasksMatchingTheirImages)
{
    SceneOptions sceneOptions;
    sceneOptions.size = 64;
    sceneOptions.count = 20;
    sceneOptions.maxScale = 2.0;
    const ImageDataset scenes = makeFashionScenes(fashion(false), sceneOptions);

    // Plain: the first batch is the first scenes, normalised, with their masks as int64.
    TransformOptions plain;
    plain.size = 64;
    DataLoader ordered(scenes, 8, plain, /*shuffle=*/false, /*seed=*/1, /*dropLast=*/false, /*background=*/false);
    ordered.startEpoch(0);
    const Batch first = *ordered.next();
    ASSERT_EQ(first.target.tensor.sizes(), (std::vector<int64_t> { 8, 64, 64 }));
    ASSERT_EQ(first.target.tensor.scalar_type(), torch::kLong);
    EXPECT_TRUE(first.target.tensor.equal(scenes.masks.narrow(0, 0, 8).to(torch::kLong)));
    EXPECT_TRUE(first.input.allclose(scenes.images.narrow(0, 0, 8).to(torch::kFloat32).div(255).sub(0.5).div(0.5)));

    // Augmented, shuffled, in the background: item pixels (mask 1..10) are still exactly the bright ones.
    TransformOptions augmented = plain;
    augmented.randomCrop = true;
    augmented.flip = true;
    DataLoader foreground(scenes, 8, augmented, true, /*seed=*/2, /*dropLast=*/true, /*background=*/false);
    DataLoader background(scenes, 8, augmented, true, /*seed=*/2, /*dropLast=*/true, /*background=*/true);
    foreground.startEpoch(1);
    background.startEpoch(1);
    int64_t batches = 0;
    while (auto batch = foreground.next()) {
        const auto other = background.next();
        ASSERT_TRUE(other.has_value());
        EXPECT_TRUE(batch->input.equal(other->input));
        EXPECT_TRUE(batch->target.tensor.equal(other->target.tensor));
        const torch::Tensor mask = batch->target.tensor;
        const torch::Tensor stored = denormalise(batch->input.squeeze(1)).round();
        const torch::Tensor labelled = mask.ne(kIgnoreLabel);
        EXPECT_TRUE(mask.gt(0).logical_and(labelled).equal(stored.gt(kSceneItemThreshold)));
        EXPECT_TRUE(stored.masked_select(labelled.logical_not()).eq(0).all().item<bool>());
        EXPECT_EQ(batch->target.samples(), 8);
        ++batches;
    }
    EXPECT_EQ(batches, 2);
}

} // namespace
} // namespace dr2
