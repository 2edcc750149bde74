#pragma once

#include "training/image_dataset.h"
#include "training/task.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace dr2 {

/// How stored uint8 images become model input.
struct TransformOptions {
    int64_t size = 28; ///< output side (bilinear resize; upscaling small images is the memory-bound regime)
    int64_t channels = 1; ///< 1, or 3 (grey images are replicated)
    bool randomCrop = false; ///< pad by 1/8 of the side and crop back at a random offset (training)
    bool flip = false; ///< random horizontal flip (training)
    double mean = 0.5; ///< x ← (x/255 − mean)/std
    double std = 0.5;
    double minScale = 1.0; ///< segmentation: rescale each sample by a factor drawn in [minScale, maxScale] before the
    double maxScale = 1.0; ///< crop, which then takes a window of the original size (scale jitter)
};

/// One batch of model input.
struct Batch {
    at::Tensor input; ///< float32 [B, channels, size, size] (clips: [B, channels, frames, size, size])
    TaskTarget target; ///< class labels int64 [B] in target.tensor (segmentation: masks int64 [B, size, size])
    int64_t epoch = 0;
    int64_t index = 0; ///< batch index within the epoch
};

/// Applies `options` to uint8 images [B, C, H, W]; the random choices come from `seed` alone.
at::Tensor transformImages(const at::Tensor& images, const TransformOptions& options, uint64_t seed);

/// Model input and its aligned per-pixel targets.
struct DenseBatch {
    at::Tensor input; ///< float32 [B, channels, size, size]
    at::Tensor masks; ///< int64 [B, size, size], kIgnoreLabel where no label counts (padding included)
};

/// Applies `options` to uint8 images [B, C, H, W] and their masks [B, H, W] alike, so every pixel keeps its
/// label: per sample a scale in [minScale, maxScale] (image bilinear, mask nearest), then a window of H×W at a
/// random offset (randomCrop: within a border of H/8; outside the sample the image is 0 and the mask
/// kIgnoreLabel), a random horizontal flip, the resize to options.size (bilinear / nearest), channel replication
/// and normalisation as transformImages. The random choices come from `seed` alone.
DenseBatch transformSegmentation(
    const at::Tensor& images, const at::Tensor& masks, const TransformOptions& options, uint64_t seed);

/// Batches in a deterministic order: the permutation of epoch e and the augmentation of batch b depend only
/// on (seed, e, b), so a resumed run sees exactly the batches an uninterrupted one would. With `background`,
/// a producer thread prepares the next batches while the model trains. A dataset with masks gives segmentation
/// batches (transformSegmentation; masks in target.tensor), one with labels classification batches.
class DataLoader {
public:
    DataLoader(ImageDataset dataset, int64_t batchSize, TransformOptions transform, bool shuffle, uint64_t seed,
        bool dropLast, bool background);
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    /// Data parallel: this loader serves rank `rank` of `count`. Batch b of an epoch is then the rank's slice of
    /// the global batch b (batchSize × count samples of the epoch's permutation, rank r taking samples
    /// [r·batchSize, (r+1)·batchSize) of it), so the ranks together see what one loader with batchSize × count
    /// would. Augmentation draws per (seed, epoch, b·count + r). Call before startEpoch().
    void setShard(int64_t rank, int64_t count);
    /// Batches per epoch (of this rank's shard: a rank whose slice of the last, partial batch is empty has one
    /// fewer).
    int64_t batchesPerEpoch() const;
    /// Starts epoch `epoch` at batch `firstBatch` (to resume mid-epoch).
    void startEpoch(int64_t epoch, int64_t firstBatch = 0);
    /// The next batch of the current epoch, or nothing at its end. Rethrows a producer error.
    std::optional<Batch> next();
    const ImageDataset& dataset() const { return m_dataset; }

private:
    Batch make(int64_t epoch, int64_t index, const std::vector<int64_t>& order) const;
    /// Where batch `index` of this rank starts in the epoch's order.
    int64_t firstSample(int64_t index) const { return (index * m_shardCount + m_shardRank) * m_batchSize; }
    void stopProducer();

    ImageDataset m_dataset;
    int64_t m_batchSize;
    TransformOptions m_transform;
    bool m_shuffle;
    uint64_t m_seed;
    bool m_dropLast;
    bool m_background;
    int64_t m_shardRank = 0;
    int64_t m_shardCount = 1;

    int64_t m_epoch = 0;
    int64_t m_nextIndex = 0;
    std::vector<int64_t> m_order;

    std::thread m_producer;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Batch> m_queue;
    std::exception_ptr m_error;
    bool m_stop = false;
    bool m_producerDone = false;
    static constexpr size_t kQueueDepth = 3;
};

} // namespace dr2
