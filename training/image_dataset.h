#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dr2 {

/// Images held in memory as uint8 [N, C, H, W] (or clips [N, C, T, H, W]) with int64 labels [N].
struct ImageDataset {
    at::Tensor images;
    at::Tensor labels;
    std::vector<std::string> classNames; ///< label → name
    std::string source; ///< where it came from, for logs and run records

    int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
    int64_t numClasses() const { return static_cast<int64_t>(classNames.size()); }
};

/// Fashion-MNIST from gzip IDX files (train-images-idx3-ubyte.gz, ...) in `dir`, as installed by Debian's
/// dataset-fashion-mnist under /usr/share/datasets/fashion-mnist. Throws std::runtime_error naming the
/// package when the files are absent, and the file and field when one is malformed.
ImageDataset loadFashionMnist(const std::string& dir, bool train);

/// A class-per-folder tree of PNG/JPEG images (root/<class>/<image>), decoded with stb_image and resized
/// to `size`×`size` on load; class names are the sorted folder names; `channels` is 1 or 3.
ImageDataset loadImageFolder(const std::string& root, int64_t size, int64_t channels);

/// Short video clips as a folder tree root/<class>/<clip>/<frame>.png|jpg: each clip's frames in file-name
/// order, `frames` of them taken evenly spaced (clips with fewer frames are an error naming the clip),
/// resized to `size`×`size`. Gives clips uint8 [N, channels, frames, size, size].
ImageDataset loadClipFolder(const std::string& root, int64_t size, int64_t channels, int64_t frames);

/// The images whose label is in `classes`, relabelled 0..k-1 in the given order.
ImageDataset selectClasses(const ImageDataset& dataset, const std::vector<int64_t>& classes);

/// The first `limit` images (0: all) after a seeded shuffle, so small subsets stay class-balanced on average.
ImageDataset takeSubset(const ImageDataset& dataset, int64_t limit, uint64_t seed);

/// Splits off a validation fraction after a seeded shuffle: {train, validation}.
std::pair<ImageDataset, ImageDataset> splitValidation(const ImageDataset& dataset, double fraction, uint64_t seed);

/// A permutation of 0..n-1 from a 64-bit seed, identical on every platform (std::mt19937_64 + Fisher–Yates).
std::vector<int64_t> seededPermutation(int64_t n, uint64_t seed);

} // namespace dr2
