#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dr2 {

/// Images held in memory as uint8 [N, C, H, W] (or clips [N, C, T, H, W]) with int64 labels [N] (classification)
/// or uint8 masks [N, H, W] (segmentation).
struct ImageDataset {
    at::Tensor images;
    at::Tensor labels; ///< int64 [N] class per image; classification only, else undefined
    at::Tensor masks; ///< uint8 [N, H, W] per-pixel class (kIgnoreLabel = 255: none); segmentation only, else undefined
    std::vector<std::string> classNames; ///< label → name (segmentation: every mask class, background included)
    std::string source; ///< where it came from, for logs and run records

    int64_t size() const { return images.defined() ? images.size(0) : 0; }
    int64_t numClasses() const { return static_cast<int64_t>(classNames.size()); }
};

/// Fashion-MNIST from gzip IDX files (train-images-idx3-ubyte.gz, ...) in `dir`, as installed by Debian's
/// dataset-fashion-mnist under /usr/share/datasets/fashion-mnist. Throws std::runtime_error naming the
/// package when the files are absent, and the file and field when one is malformed.
ImageDataset loadFashionMnist(const std::string& dir, bool train);

/// A class-per-folder tree of PNG/JPEG/BMP images (root/<class>/<image>), decoded with stb_image and resized
/// to `size`×`size` on load; class names are the sorted folder names; `channels` is 1 or 3.
ImageDataset loadImageFolder(const std::string& root, int64_t size, int64_t channels);

/// Short video clips as a folder tree root/<class>/<clip>/<frame>.png|jpg|bmp: each clip's frames in file-name
/// order, `frames` of them taken evenly spaced (clips with fewer frames are an error naming the clip),
/// resized to `size`×`size`. Gives clips uint8 [N, channels, frames, size, size].
ImageDataset loadClipFolder(const std::string& root, int64_t size, int64_t channels, int64_t frames);

/// The images whose label is in `classes`, relabelled 0..k-1 in the given order; an empty list keeps all.
/// Throws std::invalid_argument for a segmentation dataset (masks) and a non-empty list: which classes a scene
/// holds is chosen when scenes are made (SceneOptions::classes), not by dropping images.
ImageDataset selectClasses(const ImageDataset& dataset, const std::vector<int64_t>& classes);

/// The first `limit` images (0: all) after a seeded shuffle, so small subsets stay class-balanced on average;
/// labels and masks follow their images.
ImageDataset takeSubset(const ImageDataset& dataset, int64_t limit, uint64_t seed);

/// Splits off a validation fraction after a seeded shuffle: {train, validation}; labels and masks follow their images.
std::pair<ImageDataset, ImageDataset> splitValidation(const ImageDataset& dataset, double fraction, uint64_t seed);

/// The largest side an image file may declare; files beyond it (or beyond 64 Mpixel) are refused before
/// anything is allocated for them.
constexpr int64_t kMaxImageFileSide = 16384;

/// What an image file's header declares, read without decoding the pixels.
struct ImageFileInfo {
    int64_t width = 0;
    int64_t height = 0;
    int64_t channels = 0; ///< as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (palette PNGs read as 3 or 4)
    bool sixteenBit = false; ///< a 16-bit PNG (stb_image would scale it to 8 bits)
};

/// The header of a PNG/JPEG/BMP file. Throws std::runtime_error naming the file when it is not a readable image
/// or declares more than kMaxImageFileSide per side or 64 Mpixel.
ImageFileInfo readImageFileInfo(const std::string& file);

/// Decodes a PNG/JPEG/BMP file at its own size into uint8 [channels, H, W] (`channels` 1 or 3: stb_image turns
/// colour into grey by luminance and replicates grey; alpha is dropped). Checks the header first, as
/// readImageFileInfo does; throws std::runtime_error naming the file when it is unreadable or corrupt.
at::Tensor decodeImageFile(const std::string& file, int64_t channels);

/// uint8 [..., H, W] resized to `height`×`width` bilinearly (half-pixel centres, no antialiasing), rounded back to
/// uint8: how every loader resizes images.
at::Tensor resizeBilinear(const at::Tensor& image, int64_t height, int64_t width);

/// [..., H, W] of any dtype resized to `height`×`width` by nearest neighbour with half-pixel centres (source
/// pixel ⌊(i + ½)·H/height⌋, in integers): for masks, whose values are labels that must not be blended. It
/// samples a pixel that bilinear resizing weighs too, so images and masks stay aligned.
at::Tensor resizeNearest(const at::Tensor& image, int64_t height, int64_t width);

/// SplitMix64's output function: a well-mixed 64-bit value from any 64-bit input, identical on every platform; how
/// the data layer derives independent seeds (per scene, per epoch and batch) from one.
uint64_t splitmix64(uint64_t x);

/// A permutation of 0..n-1 from a 64-bit seed, identical on every platform (std::mt19937_64 + Fisher–Yates).
std::vector<int64_t> seededPermutation(int64_t n, uint64_t seed);

} // namespace dr2
