#include "training/segmentation_data.h"

#include "training/task.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// A uniform draw from lo..hi (inclusive) with integer arithmetic only, identical on every standard library
/// (std::uniform_int_distribution is not); the modulo bias is negligible next to 2⁶⁴.
int64_t drawBetween(std::mt19937_64& rng, int64_t lo, int64_t hi)
{
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

/// Where each output pixel of a bilinear resize from `from` to `to` pixels reads: the first source pixel, the
/// second, and the second's weight in 1/kWeightOne. Half-pixel centres as torch's interpolate(align_corners=false),
/// in fixed point so that scenes are the same bytes on every platform (no float contraction or rounding mode).
constexpr int64_t kWeightBits = 10;
constexpr int64_t kWeightOne = int64_t { 1 } << kWeightBits;

struct Taps {
    std::vector<int64_t> first, second, weight;
};

Taps bilinearTaps(int64_t from, int64_t to)
{
    Taps taps;
    for (int64_t t = 0; t < to; ++t) {
        // Source position (t + ½)·from/to − ½, clamped at 0 like torch.
        const int64_t position = std::max<int64_t>(0, (2 * t + 1) * from * kWeightOne / (2 * to) - kWeightOne / 2);
        const int64_t first = std::min(position >> kWeightBits, from - 1);
        taps.first.push_back(first);
        taps.second.push_back(std::min(first + 1, from - 1));
        taps.weight.push_back(position & (kWeightOne - 1));
    }
    return taps;
}

/// Paints one item (uint8 side × side source, row-major) resized to `scaled`² at (y0, x0) of a `canvas`² scene.
/// Opaque pixels (above kSceneItemThreshold) replace image and mask; fainter ones only brighten background, so
/// an item's soft edge never shows over another item and mask > 0 ⇔ image > threshold holds pixel for pixel.
void paintItem(const uint8_t* item, int64_t side, int64_t scaled, int64_t y0, int64_t x0, uint8_t label, uint8_t* image,
    uint8_t* mask, int64_t canvas)
{
    const Taps taps = bilinearTaps(side, scaled);
    for (int64_t y = 0; y < scaled; ++y) {
        const uint8_t* row0 = item + taps.first[static_cast<size_t>(y)] * side;
        const uint8_t* row1 = item + taps.second[static_cast<size_t>(y)] * side;
        const int64_t wy = taps.weight[static_cast<size_t>(y)];
        uint8_t* imageRow = image + (y0 + y) * canvas + x0;
        uint8_t* maskRow = mask + (y0 + y) * canvas + x0;
        for (int64_t x = 0; x < scaled; ++x) {
            const auto a = static_cast<size_t>(taps.first[static_cast<size_t>(x)]);
            const auto b = static_cast<size_t>(taps.second[static_cast<size_t>(x)]);
            const int64_t wx = taps.weight[static_cast<size_t>(x)];
            const int64_t top = row0[a] * (kWeightOne - wx) + row0[b] * wx;
            const int64_t bottom = row1[a] * (kWeightOne - wx) + row1[b] * wx;
            const int64_t rounded
                = (top * (kWeightOne - wy) + bottom * wy + kWeightOne * kWeightOne / 2) >> (2 * kWeightBits);
            const auto value = static_cast<uint8_t>(rounded);
            if (value > kSceneItemThreshold) {
                imageRow[x] = value;
                maskRow[x] = label;
            } else if (maskRow[x] == 0) {
                imageRow[x] = std::max(imageRow[x], value);
            }
        }
    }
}

/// `bytes` in GiB with one decimal, for messages about sizes that may not fit in any integer.
std::string gib(double bytes)
{
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << bytes / double(int64_t { 1 } << 30) << " GiB";
    return out.str();
}

/// A double as people write it ("4", "0.25"), not std::to_string's "4.000000".
std::string number(double value)
{
    std::ostringstream out;
    out << value;
    return out.str();
}

void checkSceneOptions(const SceneOptions& o, int64_t itemSide)
{
    const auto fail = [](const std::string& message) { throw std::invalid_argument("scenes: " + message); };
    if (o.size < 1 || o.size > kMaxImageFileSide)
        fail("size must be in 1.." + std::to_string(kMaxImageFileSide) + ", found " + std::to_string(o.size));
    if (o.count < 1)
        fail("count must be positive, found " + std::to_string(o.count));
    // Images and masks: one byte per pixel each.
    if (o.count > kMaxSegmentationBytes / (2 * o.size * o.size))
        fail(std::to_string(o.count) + " scenes of " + std::to_string(o.size) + "² need "
            + gib(2.0 * double(o.count) * double(o.size) * double(o.size)) + " for images and masks, more than the "
            + gib(double(kMaxSegmentationBytes)) + " allowed");
    if (o.minItems < 0 || o.minItems > o.maxItems || o.maxItems > 1024)
        fail("items per scene must satisfy 0 ≤ minItems ≤ maxItems ≤ 1024, found " + std::to_string(o.minItems) + ".."
            + std::to_string(o.maxItems));
    if (!(o.minScale > 0) || !(o.minScale <= o.maxScale))
        fail("scales must satisfy 0 < minScale ≤ maxScale, found " + number(o.minScale) + ".." + number(o.maxScale));
    const double largest = std::round(static_cast<double>(itemSide) * o.maxScale);
    if (largest > static_cast<double>(o.size))
        fail("maxScale " + number(o.maxScale) + " makes items of " + std::to_string(static_cast<int64_t>(largest))
            + " pixels, larger than the " + std::to_string(o.size) + "-pixel canvas");
    if (std::round(static_cast<double>(itemSide) * o.minScale) < 1)
        fail("minScale " + number(o.minScale) + " makes items smaller than a pixel");
}

} // namespace

ImageDataset makeFashionScenes(const ImageDataset& items, const SceneOptions& options)
{
    if (!items.images.defined() || items.images.dim() != 4 || items.images.size(1) != 1
        || items.images.size(2) != items.images.size(3) || items.images.scalar_type() != torch::kUInt8
        || !items.labels.defined() || items.labels.size(0) != items.images.size(0) || items.size() == 0)
        throw std::invalid_argument("scenes: items (" + items.source
            + ") must be labelled grey square uint8 images [N, 1, S, S], as loadFashionMnist gives");
    const int64_t itemSide = items.images.size(2);
    checkSceneOptions(options, itemSide);

    std::vector<int64_t> classes = options.classes;
    if (classes.empty())
        for (int64_t c = 0; c < items.numClasses(); ++c)
            classes.push_back(c);
    // Mask values 1..k must stay clear of kIgnoreLabel.
    if (classes.empty() || static_cast<int64_t>(classes.size()) >= kIgnoreLabel)
        throw std::invalid_argument("scenes: need 1.." + std::to_string(kIgnoreLabel - 1) + " classes, found "
            + std::to_string(classes.size()));
    // The items of each chosen class, in dataset order, so that a draw names the same item on every machine.
    std::vector<std::vector<int64_t>> pools(classes.size());
    std::map<int64_t, size_t> position;
    for (size_t i = 0; i < classes.size(); ++i) {
        if (classes[i] < 0 || classes[i] >= items.numClasses())
            throw std::invalid_argument("scenes: class " + std::to_string(classes[i]) + " not in 0.."
                + std::to_string(items.numClasses() - 1) + " of " + items.source);
        if (!position.emplace(classes[i], i).second)
            throw std::invalid_argument("scenes: class " + std::to_string(classes[i]) + " listed twice");
    }
    const torch::Tensor labels = items.labels.to(torch::kLong).contiguous();
    const auto* label = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < items.size(); ++i)
        if (auto found = position.find(label[i]); found != position.end())
            pools[found->second].push_back(i);
    for (size_t i = 0; i < classes.size(); ++i)
        if (pools[i].empty())
            throw std::invalid_argument(
                "scenes: " + items.source + " holds no item of class " + std::to_string(classes[i]));

    // Item sides in whole pixels: drawing the side itself keeps the draw in integers (the same on every
    // platform), and every side between the two extremes is equally likely, which is the uniform scale at
    // pixel resolution.
    const auto smallest = static_cast<int64_t>(std::round(static_cast<double>(itemSide) * options.minScale));
    const auto largest = static_cast<int64_t>(std::round(static_cast<double>(itemSide) * options.maxScale));
    const int64_t size = options.size;
    const torch::Tensor itemPixels = items.images.contiguous();
    const uint8_t* pixels = itemPixels.data_ptr<uint8_t>();
    torch::Tensor images = torch::zeros({ options.count, 1, size, size }, torch::kUInt8);
    torch::Tensor masks = torch::zeros({ options.count, size, size }, torch::kUInt8);
    uint8_t* imageData = images.data_ptr<uint8_t>();
    uint8_t* maskData = masks.data_ptr<uint8_t>();
    for (int64_t scene = 0; scene < options.count; ++scene) {
        // A generator per scene, seeded by (seed, scene) alone: scene i is the same whatever the count.
        std::mt19937_64 rng(splitmix64(options.seed ^ splitmix64(static_cast<uint64_t>(scene))));
        const int64_t n = drawBetween(rng, options.minItems, options.maxItems);
        for (int64_t k = 0; k < n; ++k) {
            const auto c = static_cast<size_t>(drawBetween(rng, 0, static_cast<int64_t>(classes.size()) - 1));
            const std::vector<int64_t>& pool = pools[c];
            const int64_t item = pool[static_cast<size_t>(drawBetween(rng, 0, static_cast<int64_t>(pool.size()) - 1))];
            const int64_t scaled = drawBetween(rng, smallest, largest);
            const int64_t y0 = drawBetween(rng, 0, size - scaled);
            const int64_t x0 = drawBetween(rng, 0, size - scaled);
            paintItem(pixels + item * itemSide * itemSide, itemSide, scaled, y0, x0, static_cast<uint8_t>(c + 1),
                imageData + scene * size * size, maskData + scene * size * size, size);
        }
    }

    ImageDataset scenes;
    scenes.images = images;
    scenes.masks = masks;
    scenes.classNames = { "background" };
    for (const int64_t c : classes)
        scenes.classNames.push_back(items.classNames[static_cast<size_t>(c)]);
    scenes.source = "scenes(" + items.source + ", " + std::to_string(options.count) + " × " + std::to_string(size)
        + "², seed " + std::to_string(options.seed) + ")";
    return scenes;
}

namespace {

using Colour = std::array<uint8_t, 3>;

std::string describe(const Colour& c)
{
    static const char* hex = "0123456789ABCDEF";
    std::string text = std::to_string(c[0]) + " " + std::to_string(c[1]) + " " + std::to_string(c[2]) + " (#";
    for (const uint8_t v : c) {
        text += hex[v >> 4];
        text += hex[v & 15];
    }
    return text + ")";
}

uint32_t packed(const Colour& c)
{
    return (uint32_t { c[0] } << 16) | (uint32_t { c[1] } << 8) | uint32_t { c[2] };
}

/// The lines of a small text file, trailing spaces and CR (files written on Windows) removed.
std::vector<std::string> readLines(const fs::path& file)
{
    std::ifstream in(file);
    if (!in)
        throw std::runtime_error(file.string() + ": cannot open");
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
            line.pop_back();
        lines.push_back(line);
        if (lines.size() > 100000)
            throw std::runtime_error(file.string() + ": more than 100000 lines");
    }
    return lines;
}

/// classes.txt: one name per line, class = line number; trailing blank lines are forgiven, inner ones are not
/// (they would shift every later class).
std::vector<std::string> readClassNames(const fs::path& file)
{
    std::vector<std::string> names = readLines(file);
    while (!names.empty() && names.back().empty())
        names.pop_back();
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i].find_first_not_of(" \t") == std::string::npos)
            throw std::runtime_error(file.string() + ":" + std::to_string(i + 1) + ": empty class name (class "
                + std::to_string(i) + "); one name per line, class = line number");
    if (names.empty())
        throw std::runtime_error(file.string() + ": no class names");
    if (static_cast<int64_t>(names.size()) > kIgnoreLabel)
        throw std::runtime_error(file.string() + ": " + std::to_string(names.size()) + " classes; masks hold at most "
            + std::to_string(kIgnoreLabel) + " (0.." + std::to_string(kIgnoreLabel - 1) + ", "
            + std::to_string(kIgnoreLabel) + " = ignore)");
    return names;
}

/// palette.txt: colour → class (kIgnoreLabel for `ignore` lines), and the number of classes.
struct Palette {
    std::unordered_map<uint32_t, uint8_t> labels;
    int64_t classes = 0;
};

Palette readPalette(const fs::path& file)
{
    Palette palette;
    std::unordered_map<uint32_t, size_t> lineOf;
    const std::vector<std::string> lines = readLines(file);
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string where = file.string() + ":" + std::to_string(i + 1);
        std::istringstream in(lines[i]);
        std::vector<std::string> words;
        for (std::string word; in >> word;)
            words.push_back(word);
        if (words.empty())
            continue;
        const bool ignore = words.front() == "ignore";
        if (ignore)
            words.erase(words.begin());
        Colour colour {};
        bool parsed = false;
        if (words.size() == 1 && words[0].size() == 7 && words[0][0] == '#'
            && words[0].find_first_not_of("0123456789abcdefABCDEF", 1) == std::string::npos) {
            for (size_t k = 0; k < 3; ++k)
                colour[k] = static_cast<uint8_t>(std::stoi(words[0].substr(1 + 2 * k, 2), nullptr, 16));
            parsed = true;
        } else if (words.size() == 3) {
            parsed = true;
            for (size_t k = 0; k < 3; ++k) {
                const std::string& w = words[k];
                if (w.empty() || w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos
                    || std::stoi(w) > 255) {
                    parsed = false;
                    break;
                }
                colour[k] = static_cast<uint8_t>(std::stoi(w));
            }
        }
        if (!parsed)
            throw std::runtime_error(where
                + ": expected 'R G B' (0..255), '#RRGGBB', 'ignore R G B' or 'ignore #RRGGBB',"
                  " found '"
                + lines[i] + "'");
        if (auto seen = lineOf.find(packed(colour)); seen != lineOf.end())
            throw std::runtime_error(
                where + ": colour " + describe(colour) + " already listed on line " + std::to_string(seen->second + 1));
        lineOf.emplace(packed(colour), i);
        if (ignore) {
            palette.labels.emplace(packed(colour), static_cast<uint8_t>(kIgnoreLabel));
        } else {
            if (palette.classes == kIgnoreLabel)
                throw std::runtime_error(where + ": more than " + std::to_string(kIgnoreLabel) + " classes");
            palette.labels.emplace(packed(colour), static_cast<uint8_t>(palette.classes++));
        }
    }
    if (palette.classes == 0)
        throw std::runtime_error(file.string() + ": no class colours ('R G B' or '#RRGGBB', one per line)");
    return palette;
}

std::string lowerExtension(const fs::path& file)
{
    std::string ext = file.extension().string();
    std::transform(
        ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

/// stem → file for the regular files of `dir` whose extension is one of `extensions`.
std::map<std::string, fs::path> filesByStem(const fs::path& dir, const std::vector<std::string>& extensions)
{
    std::map<std::string, fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()
            || std::find(extensions.begin(), extensions.end(), lowerExtension(entry.path())) == extensions.end())
            continue;
        const std::string stem = entry.path().stem().string();
        if (auto [it, added] = files.emplace(stem, entry.path()); !added) {
            // Named in sorted order: directory order differs between file systems, the message should not.
            const auto [first, second] = std::minmax(it->second, entry.path());
            throw std::runtime_error(second.string() + ": " + first.filename().string() + " has the same name '" + stem
                + "'; keep one, images and masks are paired by name");
        }
    }
    return files;
}

/// Decodes a mask at its own size into uint8 [H, W] of labels.
torch::Tensor decodeMask(const fs::path& file, const ImageFileInfo& info, const Palette* palette, const fs::path& dir)
{
    const std::string name = file.string();
    if (info.sixteenBit)
        throw std::runtime_error(name + ": a 16-bit PNG; masks must be 8-bit (grey index, or colour with palette.txt)");
    if (!palette && info.channels < 3)
        return decodeImageFile(name, 1)[0];
    // Colour: through the palette, or (no palette) grey stored as RGB, which some tools write.
    const torch::Tensor rgb = decodeImageFile(name, 3);
    const int64_t h = rgb.size(1), w = rgb.size(2);
    const uint8_t* r = rgb.data_ptr<uint8_t>();
    const uint8_t* g = r + h * w;
    const uint8_t* b = g + h * w;
    torch::Tensor labels = torch::empty({ h, w }, torch::kUInt8);
    uint8_t* out = labels.data_ptr<uint8_t>();
    // Masks are mostly runs of one colour; remembering the last lookup skips most of the hashing.
    uint32_t lastColour = 0xFFFFFFFFu;
    uint8_t lastLabel = 0;
    for (int64_t p = 0; p < h * w; ++p) {
        const Colour colour { r[p], g[p], b[p] };
        if (!palette) {
            if (colour[0] != colour[1] || colour[1] != colour[2])
                throw std::runtime_error(name + ": a colour mask (pixel x " + std::to_string(p % w) + ", y "
                    + std::to_string(p / w) + " is " + describe(colour) + ") but " + (dir / "palette.txt").string()
                    + " is absent; index masks are 8-bit grey, value = class, 255 = ignore");
            out[p] = colour[0];
            continue;
        }
        const uint32_t key = packed(colour);
        if (key != lastColour) {
            const auto found = palette->labels.find(key);
            if (found == palette->labels.end())
                throw std::runtime_error(name + ": pixel x " + std::to_string(p % w) + ", y " + std::to_string(p / w)
                    + " has colour " + describe(colour) + ", which " + (dir / "palette.txt").string()
                    + " does not list (add it as a class, or as 'ignore R G B')");
            lastColour = key;
            lastLabel = found->second;
        }
        out[p] = lastLabel;
    }
    return labels;
}

} // namespace

ImageDataset loadMaskFolder(const std::string& dir, int64_t size, int64_t channels)
{
    const std::string what = "mask folder '" + dir + "'";
    if (channels != 1 && channels != 3)
        throw std::invalid_argument(what + ": channels must be 1 or 3, found " + std::to_string(channels));
    if (size <= 0 || size > 4096)
        throw std::invalid_argument(what + ": size must be in 1..4096, found " + std::to_string(size));
    const fs::path root(dir);
    if (!fs::is_directory(root))
        throw std::runtime_error(what + ": not a directory");
    for (const char* sub : { "images", "masks" })
        if (!fs::is_directory(root / sub))
            throw std::runtime_error(what + ": no " + sub
                + "/ folder (expected images/<name>.png|jpg|jpeg|bmp and masks/<name>.png with the same names)");

    // Pair every file before decoding any, so a missing mask is reported at once, not after minutes of decoding.
    const auto images = filesByStem(root / "images", { ".png", ".jpg", ".jpeg", ".bmp" });
    const auto masks = filesByStem(root / "masks", { ".png" });
    if (images.empty())
        throw std::runtime_error(what + ": no .png/.jpg/.jpeg/.bmp images in " + (root / "images").string());
    for (const auto& [stem, file] : images)
        if (masks.find(stem) == masks.end())
            throw std::runtime_error(file.string() + ": no mask masks/" + stem + ".png");
    for (const auto& [stem, file] : masks)
        if (images.find(stem) == images.end())
            throw std::runtime_error(file.string() + ": no image images/" + stem + ".png|jpg|jpeg|bmp");
    const auto count = static_cast<int64_t>(images.size());
    if (count > kMaxSegmentationBytes / (size * size * (channels + 1)))
        throw std::invalid_argument(what + ": " + std::to_string(count) + " images of " + std::to_string(size)
            + "² would hold more than " + gib(double(kMaxSegmentationBytes)) + "; choose a smaller size");

    std::vector<std::string> names;
    if (fs::exists(root / "classes.txt"))
        names = readClassNames(root / "classes.txt");
    std::optional<Palette> palette;
    if (fs::exists(root / "palette.txt")) {
        palette = readPalette(root / "palette.txt");
        if (!names.empty() && static_cast<int64_t>(names.size()) != palette->classes)
            throw std::runtime_error((root / "classes.txt").string() + " names " + std::to_string(names.size())
                + " classes but " + (root / "palette.txt").string() + " lists " + std::to_string(palette->classes)
                + " class colours");
    }
    // With names (or a palette) labels beyond them are errors; without, the largest label found sets the count.
    const int64_t declared = !names.empty() ? static_cast<int64_t>(names.size()) : palette ? palette->classes : 0;
    const std::string declaredBy = !names.empty() ? (root / "classes.txt").string() : (root / "palette.txt").string();

    std::vector<torch::Tensor> imageTensors;
    std::vector<torch::Tensor> maskTensors;
    int64_t largest = -1;
    for (const auto& [stem, imageFile] : images) {
        const fs::path& maskFile = masks.at(stem);
        const ImageFileInfo imageInfo = readImageFileInfo(imageFile.string());
        const ImageFileInfo maskInfo = readImageFileInfo(maskFile.string());
        if (imageInfo.width != maskInfo.width || imageInfo.height != maskInfo.height)
            throw std::runtime_error(maskFile.string() + ": " + std::to_string(maskInfo.width) + "×"
                + std::to_string(maskInfo.height) + " pixels, but its image " + imageFile.string() + " is "
                + std::to_string(imageInfo.width) + "×" + std::to_string(imageInfo.height));
        torch::Tensor mask = decodeMask(maskFile, maskInfo, palette ? &*palette : nullptr, root);
        // Checked at the file's own resolution, so the pixel named is one the user can find.
        const torch::Tensor labelled = mask.ne(kIgnoreLabel);
        if (declared > 0) {
            const torch::Tensor bad = labelled.logical_and(mask.ge(declared)).nonzero();
            if (bad.size(0) > 0) {
                const int64_t y = bad[0][0].item<int64_t>(), x = bad[0][1].item<int64_t>();
                throw std::runtime_error(maskFile.string() + ": label " + std::to_string(mask[y][x].item<int64_t>())
                    + " at pixel x " + std::to_string(x) + ", y " + std::to_string(y) + ", but " + declaredBy
                    + " lists " + std::to_string(declared) + " classes (0.." + std::to_string(declared - 1) + "; "
                    + std::to_string(kIgnoreLabel) + " = ignore)");
            }
        }
        if (labelled.any().item<bool>())
            largest = std::max(largest, mask.masked_select(labelled).max().item<int64_t>());
        imageTensors.push_back(resizeBilinear(decodeImageFile(imageFile.string(), channels), size, size));
        maskTensors.push_back(resizeNearest(mask, size, size));
    }
    if (declared == 0 && largest < 0)
        throw std::runtime_error(
            what + ": every mask pixel is " + std::to_string(kIgnoreLabel) + " (ignore); there is no class to learn");

    ImageDataset dataset;
    dataset.images = torch::stack(imageTensors);
    dataset.masks = torch::stack(maskTensors);
    dataset.classNames = names;
    const int64_t classes = declared > 0 ? declared : largest + 1;
    for (auto c = static_cast<int64_t>(dataset.classNames.size()); c < classes; ++c)
        dataset.classNames.push_back("class " + std::to_string(c));
    dataset.source = "masks:" + dir;
    return dataset;
}

bool hasSplitFolders(const std::string& root)
{
    return fs::is_directory(fs::path(root) / "train" / "images") && fs::is_directory(fs::path(root) / "val" / "images");
}

} // namespace dr2
