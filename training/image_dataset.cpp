#include "training/image_dataset.h"

#include <torch/torch.h>
#include <zlib.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// Reads a whole gzip file, refusing to inflate beyond `maxBytes`.
std::vector<uint8_t> readGzip(const std::string& path, size_t maxBytes)
{
    std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);
    if (!file)
        throw std::runtime_error(path + ": cannot open");
    std::vector<uint8_t> data;
    std::vector<uint8_t> chunk(1 << 20);
    for (;;) {
        const int n = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
        if (n < 0) {
            int code = 0;
            throw std::runtime_error(path + ": gzip error: " + gzerror(file.get(), &code));
        }
        if (n == 0)
            break;
        if (data.size() + static_cast<size_t>(n) > maxBytes)
            throw std::runtime_error(path + ": larger than " + std::to_string(maxBytes) + " bytes once inflated");
        data.insert(data.end(), chunk.begin(), chunk.begin() + n);
    }
    return data;
}

uint32_t bigEndian32(const std::vector<uint8_t>& data, size_t offset)
{
    return (uint32_t(data[offset]) << 24) | (uint32_t(data[offset + 1]) << 16) | (uint32_t(data[offset + 2]) << 8)
        | uint32_t(data[offset + 3]);
}

/// Parses an IDX file of unsigned bytes with `rank` dimensions; checks magic and sizes against the data.
std::pair<std::vector<int64_t>, std::vector<uint8_t>> parseIdx(const std::string& path, size_t rank)
{
    // Fashion-MNIST's largest file inflates to 47 MB; allow generous headroom but stay bounded.
    std::vector<uint8_t> data = readGzip(path, size_t { 512 } << 20);
    const size_t header = 4 + 4 * rank;
    if (data.size() < header)
        throw std::runtime_error(path + ": IDX header truncated: " + std::to_string(data.size()) + " bytes");
    const uint32_t magic = bigEndian32(data, 0);
    const uint32_t expectedMagic = 0x00000800u | static_cast<uint32_t>(rank);
    if (magic != expectedMagic)
        throw std::runtime_error(path + ": IDX magic: expected 0x" + std::to_string(expectedMagic) + " (ubyte, rank "
            + std::to_string(rank) + "), found " + std::to_string(magic));
    std::vector<int64_t> shape;
    uint64_t count = 1;
    for (size_t i = 0; i < rank; ++i) {
        shape.push_back(bigEndian32(data, 4 + 4 * i));
        count *= static_cast<uint64_t>(shape.back());
    }
    if (data.size() - header != count)
        throw std::runtime_error(path + ": IDX payload: header declares " + std::to_string(count) + " bytes, found "
            + std::to_string(data.size() - header));
    data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(header));
    return { shape, std::move(data) };
}

torch::Tensor toTensor(const std::vector<int64_t>& shape, const std::vector<uint8_t>& bytes)
{
    return torch::from_blob(const_cast<uint8_t*>(bytes.data()), shape, torch::kUInt8).clone();
}

/// Sorted sub-folders of `dir`.
std::vector<std::string> subfolders(const fs::path& dir)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_directory())
            names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

/// Sorted PNG/JPEG/BMP files in `dir`.
std::vector<fs::path> imageFiles(const fs::path& dir)
{
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        auto ext = entry.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (entry.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp"))
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// Decodes one image file into uint8 [channels, size, size].
torch::Tensor decodeImage(const fs::path& file, int64_t size, int64_t channels)
{
    return resizeBilinear(decodeImageFile(file.string(), channels), size, size);
}

void checkImageOptions(const std::string& what, int64_t size, int64_t channels)
{
    if (channels != 1 && channels != 3)
        throw std::invalid_argument(what + ": channels must be 1 or 3, found " + std::to_string(channels));
    if (size <= 0 || size > 4096)
        throw std::invalid_argument(what + ": size must be in 1..4096, found " + std::to_string(size));
}

ImageDataset fromIndices(const ImageDataset& dataset, const std::vector<int64_t>& indices)
{
    ImageDataset out;
    out.classNames = dataset.classNames;
    out.source = dataset.source;
    const auto index = torch::tensor(indices, torch::kLong);
    out.images = dataset.images.index_select(0, index);
    // Classification has labels, segmentation masks; whichever is there follows its images.
    if (dataset.labels.defined())
        out.labels = dataset.labels.index_select(0, index);
    if (dataset.masks.defined())
        out.masks = dataset.masks.index_select(0, index);
    return out;
}

/// stb_image's reason for its last failure (never null).
std::string stbReason()
{
    const char* reason = stbi_failure_reason();
    return reason ? reason : "unknown error";
}

} // namespace

ImageFileInfo readImageFileInfo(const std::string& file)
{
    int w = 0, h = 0, n = 0;
    // The declared size is checked before decoding so a hostile header cannot make us allocate gigabytes.
    if (!stbi_info(file.c_str(), &w, &h, &n))
        throw std::runtime_error(file + ": not a readable PNG/JPEG/BMP image (" + stbReason() + ")");
    if (w <= 0 || h <= 0 || w > kMaxImageFileSide || h > kMaxImageFileSide || int64_t { w } * h > (int64_t { 1 } << 26))
        throw std::runtime_error(file + ": declares " + std::to_string(w) + "×" + std::to_string(h)
            + " pixels; images may have at most " + std::to_string(kMaxImageFileSide) + " per side and 64 Mpixel");
    ImageFileInfo info;
    info.width = w;
    info.height = h;
    info.channels = n;
    info.sixteenBit = stbi_is_16_bit(file.c_str()) != 0;
    return info;
}

at::Tensor decodeImageFile(const std::string& file, int64_t channels)
{
    if (channels != 1 && channels != 3)
        throw std::invalid_argument(file + ": channels must be 1 or 3, found " + std::to_string(channels));
    const ImageFileInfo info = readImageFileInfo(file);
    int w = 0, h = 0, n = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load(file.c_str(), &w, &h, &n, static_cast<int>(channels)), &stbi_image_free);
    if (!pixels)
        throw std::runtime_error(file + ": cannot decode: " + stbReason());
    // The header was checked; the pixels must be what it declared.
    if (w != info.width || h != info.height)
        throw std::runtime_error(file + ": header declares " + std::to_string(info.width) + "×"
            + std::to_string(info.height) + " but decodes to " + std::to_string(w) + "×" + std::to_string(h));
    // A copy that owns its memory (the stb buffer is freed on return), in plain [C, H, W] layout.
    return torch::from_blob(pixels.get(), { h, w, channels }, torch::kUInt8)
        .permute({ 2, 0, 1 })
        .clone(at::MemoryFormat::Contiguous);
}

at::Tensor resizeBilinear(const at::Tensor& image, int64_t height, int64_t width)
{
    if (image.size(-2) == height && image.size(-1) == width)
        return image;
    // interpolate wants [N, C, H, W]; fold whatever leads into N·C and restore it afterwards.
    std::vector<int64_t> shape(image.sizes().begin(), image.sizes().end());
    const auto folded = image.reshape({ 1, -1, image.size(-2), image.size(-1) }).to(torch::kFloat32);
    auto resized = torch::nn::functional::interpolate(folded,
        torch::nn::functional::InterpolateFuncOptions()
            .size(std::vector<int64_t> { height, width })
            .mode(torch::kBilinear)
            .align_corners(false));
    shape[shape.size() - 2] = height;
    shape[shape.size() - 1] = width;
    return resized.round().clamp(0, 255).to(torch::kUInt8).reshape(shape);
}

at::Tensor resizeNearest(const at::Tensor& image, int64_t height, int64_t width)
{
    const int64_t h = image.size(-2);
    const int64_t w = image.size(-1);
    if (h == height && w == width)
        return image;
    // torch's "nearest" takes ⌊i·H/height⌋, half a pixel off the centres bilinear uses, and its "nearest-exact"
    // computes in float; integer indices are exact and shared by every caller.
    const auto indices = [](int64_t from, int64_t to) {
        std::vector<int64_t> index(static_cast<size_t>(to));
        for (int64_t i = 0; i < to; ++i)
            index[static_cast<size_t>(i)] = std::min(from - 1, (2 * i + 1) * from / (2 * to));
        return torch::tensor(index, torch::kLong);
    };
    return image.index_select(-2, indices(h, height)).index_select(-1, indices(w, width));
}

ImageDataset loadFashionMnist(const std::string& dir, bool train)
{
    const std::string prefix = train ? "train" : "t10k";
    const std::string imagesPath = dir + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string labelsPath = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
    for (const auto& path : { imagesPath, labelsPath })
        if (!fs::exists(path))
            throw std::runtime_error("Fashion-MNIST: " + path
                + " not found; install Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
                  " or set data.root to the folder holding the gzip IDX files");
    auto [imageShape, imageBytes] = parseIdx(imagesPath, 3);
    auto [labelShape, labelBytes] = parseIdx(labelsPath, 1);
    if (imageShape[0] != labelShape[0])
        throw std::runtime_error("Fashion-MNIST: " + imagesPath + " holds " + std::to_string(imageShape[0])
            + " images but " + labelsPath + " holds " + std::to_string(labelShape[0]) + " labels");
    ImageDataset dataset;
    dataset.images = toTensor(imageShape, imageBytes).unsqueeze(1); // [N, 1, 28, 28]
    dataset.labels = toTensor(labelShape, labelBytes).to(torch::kLong);
    if (dataset.labels.max().item<int64_t>() > 9)
        throw std::runtime_error("Fashion-MNIST: " + labelsPath + ": labels must be 0..9");
    dataset.classNames = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot" };
    dataset.source = "fashion-mnist:" + prefix;
    return dataset;
}

ImageDataset loadImageFolder(const std::string& root, int64_t size, int64_t channels)
{
    checkImageOptions("image folder", size, channels);
    if (!fs::is_directory(root))
        throw std::runtime_error("image folder '" + root + "': not a directory");
    const auto classes = subfolders(root);
    if (classes.empty())
        throw std::runtime_error("image folder '" + root + "': no class folders (expected root/<class>/<image>.png|jpg)");
    std::vector<torch::Tensor> images;
    std::vector<int64_t> labels;
    for (size_t label = 0; label < classes.size(); ++label) {
        for (const auto& file : imageFiles(fs::path(root) / classes[label])) {
            images.push_back(decodeImage(file, size, channels));
            labels.push_back(static_cast<int64_t>(label));
        }
    }
    if (images.empty())
        throw std::runtime_error("image folder '" + root + "': no .png/.jpg/.jpeg/.bmp images in the class folders");
    ImageDataset dataset;
    dataset.images = torch::stack(images);
    dataset.labels = torch::tensor(labels, torch::kLong);
    dataset.classNames = classes;
    dataset.source = "folder:" + root;
    return dataset;
}

ImageDataset loadClipFolder(const std::string& root, int64_t size, int64_t channels, int64_t frames)
{
    checkImageOptions("clip folder", size, channels);
    if (frames <= 0 || frames > 1024)
        throw std::invalid_argument("clip folder: frames must be in 1..1024, found " + std::to_string(frames));
    if (!fs::is_directory(root))
        throw std::runtime_error("clip folder '" + root + "': not a directory");
    const auto classes = subfolders(root);
    if (classes.empty())
        throw std::runtime_error("clip folder '" + root + "': no class folders (expected root/<class>/<clip>/<frame>.png)");
    std::vector<torch::Tensor> clips;
    std::vector<int64_t> labels;
    for (size_t label = 0; label < classes.size(); ++label) {
        const fs::path classDir = fs::path(root) / classes[label];
        for (const auto& clip : subfolders(classDir)) {
            const auto files = imageFiles(classDir / clip);
            if (static_cast<int64_t>(files.size()) < frames)
                throw std::runtime_error("clip '" + (classDir / clip).string() + "': " + std::to_string(files.size())
                    + " frames, expected at least " + std::to_string(frames));
            std::vector<torch::Tensor> picked;
            for (int64_t t = 0; t < frames; ++t) {
                // Evenly spaced over the clip, first and last frame included when frames > 1.
                const auto index = frames == 1 ? size_t { 0 }
                                               : static_cast<size_t>(t * static_cast<int64_t>(files.size() - 1) / (frames - 1));
                picked.push_back(decodeImage(files[index], size, channels));
            }
            clips.push_back(torch::stack(picked, /*dim=*/1)); // [C, T, H, W]
            labels.push_back(static_cast<int64_t>(label));
        }
    }
    if (clips.empty())
        throw std::runtime_error("clip folder '" + root + "': no clip folders inside the class folders");
    ImageDataset dataset;
    dataset.images = torch::stack(clips);
    dataset.labels = torch::tensor(labels, torch::kLong);
    dataset.classNames = classes;
    dataset.source = "clips:" + root;
    return dataset;
}

ImageDataset selectClasses(const ImageDataset& dataset, const std::vector<int64_t>& classes)
{
    if (classes.empty())
        return dataset;
    if (dataset.masks.defined())
        throw std::invalid_argument("data.classes: " + dataset.source
            + " is a segmentation dataset; its images hold several classes each, so classes are chosen when"
              " scenes are made (SceneOptions::classes), not by selecting images");
    std::vector<int64_t> remap(static_cast<size_t>(std::max<int64_t>(dataset.numClasses(), 1)), -1);
    ImageDataset out;
    for (size_t i = 0; i < classes.size(); ++i) {
        if (classes[i] < 0 || classes[i] >= dataset.numClasses())
            throw std::invalid_argument("data.classes: label " + std::to_string(classes[i]) + " not in 0.."
                + std::to_string(dataset.numClasses() - 1) + " of " + dataset.source);
        if (remap[static_cast<size_t>(classes[i])] >= 0)
            throw std::invalid_argument("data.classes: label " + std::to_string(classes[i]) + " listed twice");
        remap[static_cast<size_t>(classes[i])] = static_cast<int64_t>(i);
        out.classNames.push_back(dataset.classNames[static_cast<size_t>(classes[i])]);
    }
    std::vector<int64_t> keep;
    std::vector<int64_t> newLabels;
    const auto labels = dataset.labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < dataset.size(); ++i) {
        const int64_t mapped = remap[static_cast<size_t>(labels[i])];
        if (mapped >= 0) {
            keep.push_back(i);
            newLabels.push_back(mapped);
        }
    }
    out.images = dataset.images.index_select(0, torch::tensor(keep, torch::kLong));
    out.labels = torch::tensor(newLabels, torch::kLong);
    out.source = dataset.source;
    return out;
}

uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::vector<int64_t> seededPermutation(int64_t n, uint64_t seed)
{
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        order[static_cast<size_t>(i)] = i;
    std::mt19937_64 rng(seed);
    for (int64_t i = n - 1; i > 0; --i) {
        // Modulo bias is irrelevant at these sizes, and this stays identical across standard libraries
        // (std::uniform_int_distribution does not).
        const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
    return order;
}

ImageDataset takeSubset(const ImageDataset& dataset, int64_t limit, uint64_t seed)
{
    if (limit <= 0 || limit >= dataset.size())
        return dataset;
    auto order = seededPermutation(dataset.size(), seed);
    order.resize(static_cast<size_t>(limit));
    std::sort(order.begin(), order.end());
    return fromIndices(dataset, order);
}

std::pair<ImageDataset, ImageDataset> splitValidation(const ImageDataset& dataset, double fraction, uint64_t seed)
{
    if (fraction <= 0.0 || fraction >= 1.0)
        throw std::invalid_argument("validation fraction must be in (0, 1), found " + std::to_string(fraction));
    auto order = seededPermutation(dataset.size(), seed);
    const auto nVal = static_cast<size_t>(static_cast<double>(dataset.size()) * fraction);
    if (nVal == 0 || nVal >= order.size())
        throw std::invalid_argument("validation split of " + std::to_string(dataset.size()) + " images at "
            + std::to_string(fraction) + " leaves one side empty");
    std::vector<int64_t> val(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(nVal));
    std::vector<int64_t> train(order.begin() + static_cast<std::ptrdiff_t>(nVal), order.end());
    std::sort(val.begin(), val.end());
    std::sort(train.begin(), train.end());
    return { fromIndices(dataset, train), fromIndices(dataset, val) };
}

} // namespace dr2
