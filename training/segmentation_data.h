#pragma once

#include "training/image_dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// An item pixel brighter than this (0.2·255) is opaque and belongs to the item's mask; fainter pixels are the
/// item's transparent surroundings (Fashion-MNIST items lie on black).
constexpr uint8_t kSceneItemThreshold = 51;

/// The largest number of bytes a segmentation dataset may hold in memory (images and masks together).
constexpr int64_t kMaxSegmentationBytes = int64_t { 8 } << 30;

/// How built-in segmentation scenes are composed from Fashion-MNIST items.
struct SceneOptions {
    int64_t size = 224; ///< canvas side in pixels
    int64_t count = 512; ///< scenes
    int64_t minItems = 3; ///< items per scene, drawn uniformly in [minItems, maxItems]
    int64_t maxItems = 8;
    double minScale = 1.0; ///< item side = 28·scale pixels, drawn uniformly in [minScale, maxScale] (whole pixels)
    double maxScale = 4.0;
    std::vector<int64_t> classes; ///< the Fashion-MNIST labels that appear, mask class 1 + position here; empty: all
    uint64_t seed = 0;
};

/// Deterministic scenes of `options.size`² grey canvases holding several real items from `items`
/// (loadFashionMnist(root, true) for training scenes, the test split for validation scenes: the caller chooses).
/// Each scene has a number of items in [minItems, maxItems], each a random item of an allowed class, resized
/// bilinearly to its scale and placed fully inside the canvas; later items are painted over earlier ones. An
/// item's pixels brighter than kSceneItemThreshold replace image and mask (mask = 1 + index of its class in
/// `classes`; 0 is background); its fainter pixels only brighten background, so mask > 0 exactly where the image
/// is brighter than the threshold. classNames = {"background", the items' names of `classes`...}.
/// Scene i depends only on (seed, i): the first scenes of a larger count are the same scenes.
/// Gives images uint8 [count, 1, size, size] and masks uint8 [count, size, size]; labels stay undefined.
/// Throws std::invalid_argument naming the option for inconsistent options, classes absent from `items`, or more
/// than kMaxSegmentationBytes.
ImageDataset makeFashionScenes(const ImageDataset& items, const SceneOptions& options);

/// The user's segmentation data: `dir`/images/<stem>.png|jpg|jpeg|bmp and `dir`/masks/<stem>.png with the same
/// stems, resized to `size`×`size` (images bilinearly with `channels` 1 or 3, masks by nearest neighbour).
/// Masks are index PNGs (8-bit grey, value = class, 255 = ignore), or colour PNGs when `dir`/palette.txt exists:
/// one class per line as `R G B` (decimal) or `#RRGGBB` (class = order of these lines), and lines `ignore R G B` /
/// `ignore #RRGGBB` for colours that count for no class (any number, anywhere; blank lines are skipped); a colour not
/// listed is an error naming the file, pixel and colour. Optional `dir`/classes.txt names the classes, one per line
/// (class = line number); without it they are "class 0".."class K-1" with K the palette's size or 1 + the largest label
/// found. Every error is one line naming the file: image without mask and mask without image, image and mask of
/// different sizes, a label outside classes.txt (or the palette), unreadable files, empty or missing folders.
ImageDataset loadMaskFolder(const std::string& dir, int64_t size, int64_t channels);

/// True when `root` holds root/train/images and root/val/images: the caller then loads root/train and root/val
/// with loadMaskFolder; otherwise it loads `root` and splits off a seeded validation fraction.
bool hasSplitFolders(const std::string& root);

} // namespace dr2
