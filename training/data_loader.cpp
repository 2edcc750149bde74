#include "training/data_loader.h"

#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace dr2 {
namespace {

uint64_t mix(uint64_t seed, uint64_t a, uint64_t b)
{
    // splitmix64 over the three values: independent streams per (seed, epoch, batch).
    return splitmix64(seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full));
}

/// A uniform draw from lo..hi (inclusive) in integers, the same on every standard library.
int64_t drawBetween(std::mt19937_64& rng, int64_t lo, int64_t hi)
{
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

torch::Tensor resizeBilinearFloat(const torch::Tensor& x, int64_t height, int64_t width)
{
    namespace F = torch::nn::functional;
    return F::interpolate(x,
        F::InterpolateFuncOptions()
            .size(std::vector<int64_t> { height, width })
            .mode(torch::kBilinear)
            .align_corners(false));
}

/// Grey replicated to `channels`, then (x − mean)/std; x is already in [0, 1].
torch::Tensor finish(torch::Tensor x, const TransformOptions& options)
{
    if (x.size(1) != options.channels) {
        if (x.size(1) != 1)
            throw std::invalid_argument("transform: cannot turn " + std::to_string(x.size(1)) + " channels into "
                + std::to_string(options.channels));
        x = x.expand({ -1, options.channels, -1, -1 }).contiguous();
    }
    return x.sub_(options.mean).div_(options.std);
}

} // namespace

at::Tensor transformImages(const at::Tensor& images, const TransformOptions& options, uint64_t seed)
{
    namespace F = torch::nn::functional;
    torch::NoGradGuard noGrad;
    if (images.dim() == 5) {
        // Clips [B, C, T, H, W]: fold time into channels so every frame of a clip gets the same crop and flip.
        const int64_t b = images.size(0), c = images.size(1), t = images.size(2);
        TransformOptions perFrame = options;
        perFrame.channels = c * t;
        torch::Tensor folded = transformImages(images.reshape({ b, c * t, images.size(3), images.size(4) }), perFrame, seed);
        folded = folded.reshape({ b, c, t, options.size, options.size });
        if (c != options.channels) {
            if (c != 1)
                throw std::invalid_argument("transform: cannot turn " + std::to_string(c) + " channels into "
                    + std::to_string(options.channels));
            folded = folded.expand({ -1, options.channels, -1, -1, -1 }).contiguous();
        }
        return folded;
    }
    torch::Tensor x = images.to(torch::kFloat32).div_(255.0);
    const int64_t batch = x.size(0);
    const int64_t h = x.size(2);
    const int64_t w = x.size(3);
    std::mt19937_64 rng(seed);
    if (options.randomCrop) {
        const int64_t pad = std::max<int64_t>(1, h / 8);
        torch::Tensor padded = F::pad(x, F::PadFuncOptions({ pad, pad, pad, pad }));
        std::vector<torch::Tensor> crops;
        for (int64_t i = 0; i < batch; ++i) {
            const auto dy = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * pad + 1));
            const auto dx = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * pad + 1));
            crops.push_back(padded[i].narrow(1, dy, h).narrow(2, dx, w));
        }
        x = torch::stack(crops);
    }
    if (h != options.size || w != options.size)
        x = resizeBilinearFloat(x, options.size, options.size);
    if (options.flip) {
        std::vector<int64_t> flipped;
        for (int64_t i = 0; i < batch; ++i)
            if (rng() & 1u)
                flipped.push_back(i);
        if (!flipped.empty()) {
            auto index = torch::tensor(flipped, torch::kLong);
            x.index_copy_(0, index, x.index_select(0, index).flip({ 3 }));
        }
    }
    return finish(x, options);
}

DenseBatch transformSegmentation(
    const at::Tensor& images, const at::Tensor& masks, const TransformOptions& options, uint64_t seed)
{
    torch::NoGradGuard noGrad;
    if (images.dim() != 4 || masks.dim() != 3 || masks.size(0) != images.size(0) || masks.size(1) != images.size(2)
        || masks.size(2) != images.size(3))
        throw std::invalid_argument("segmentation transform: expected images [B, C, H, W] and masks [B, H, W], found "
            + c10::str(images.sizes()) + " and " + c10::str(masks.sizes()));
    if (!(options.minScale > 0) || !(options.minScale <= options.maxScale))
        throw std::invalid_argument("segmentation transform: scales must satisfy 0 < minScale ≤ maxScale, found "
            + c10::str(options.minScale) + ".." + c10::str(options.maxScale));
    const int64_t batch = images.size(0);
    const int64_t channels = images.size(1);
    const int64_t h = images.size(2);
    const int64_t w = images.size(3);
    const bool jitter = options.minScale != 1.0 || options.maxScale != 1.0;
    // The border transformImages crops within, so both tasks see the same translations.
    const int64_t pad = options.randomCrop ? std::max<int64_t>(1, h / 8) : 0;
    std::mt19937_64 rng(seed);
    torch::Tensor x = torch::zeros({ batch, channels, h, w }, torch::kFloat32);
    torch::Tensor y = torch::full({ batch, h, w }, kIgnoreLabel, masks.options());
    for (int64_t i = 0; i < batch; ++i) {
        torch::Tensor image = images[i].to(torch::kFloat32).div_(255.0);
        torch::Tensor mask = masks[i];
        int64_t sh = h, sw = w;
        if (jitter) {
            // A double from the top 53 bits: the same on every platform, unlike std::uniform_real_distribution.
            const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
            const double scale = options.minScale + u * (options.maxScale - options.minScale);
            sh = std::max<int64_t>(1, std::llround(static_cast<double>(h) * scale));
            sw = std::max<int64_t>(1, std::llround(static_cast<double>(w) * scale));
            image = resizeBilinearFloat(image.unsqueeze(0), sh, sw).squeeze(0);
            mask = resizeNearest(mask, sh, sw);
        }
        // The H×W window starts at (dy, dx) of the scaled sample: anywhere it fits (or, when the sample is smaller,
        // anywhere it covers it), widened by the crop border. Where the window leaves the sample the image stays 0
        // (as transformImages pads) and the mask kIgnoreLabel, so padding is never scored as a class.
        const int64_t dy = drawBetween(rng, std::min<int64_t>(0, sh - h) - pad, std::max<int64_t>(0, sh - h) + pad);
        const int64_t dx = drawBetween(rng, std::min<int64_t>(0, sw - w) - pad, std::max<int64_t>(0, sw - w) + pad);
        const int64_t top = std::max<int64_t>(0, dy), bottom = std::min(sh, dy + h);
        const int64_t left = std::max<int64_t>(0, dx), right = std::min(sw, dx + w);
        if (bottom > top && right > left) {
            x[i].narrow(1, top - dy, bottom - top)
                .narrow(2, left - dx, right - left)
                .copy_(image.narrow(1, top, bottom - top).narrow(2, left, right - left));
            y[i].narrow(0, top - dy, bottom - top)
                .narrow(1, left - dx, right - left)
                .copy_(mask.narrow(0, top, bottom - top).narrow(1, left, right - left));
        }
        if (options.flip && (rng() & 1u)) {
            x[i].copy_(x[i].flip({ 2 }));
            y[i].copy_(y[i].flip({ 1 }));
        }
    }
    if (h != options.size || w != options.size) {
        x = resizeBilinearFloat(x, options.size, options.size);
        y = resizeNearest(y, options.size, options.size);
    }
    return { finish(x, options), y.to(torch::kLong) };
}

DataLoader::DataLoader(ImageDataset dataset, int64_t batchSize, TransformOptions transform, bool shuffle, uint64_t seed,
    bool dropLast, bool background)
    : m_dataset(std::move(dataset))
    , m_batchSize(batchSize)
    , m_transform(transform)
    , m_shuffle(shuffle)
    , m_seed(seed)
    , m_dropLast(dropLast)
    , m_background(background)
{
    if (batchSize <= 0)
        throw std::invalid_argument("data loader: batch size must be positive, found " + std::to_string(batchSize));
    if (m_dataset.size() == 0)
        throw std::invalid_argument("data loader: dataset " + m_dataset.source + " is empty");
    const at::Tensor& targets = m_dataset.masks.defined() ? m_dataset.masks : m_dataset.labels;
    if (!targets.defined() || targets.size(0) != m_dataset.size())
        throw std::invalid_argument("data loader: dataset " + m_dataset.source + " has "
            + std::to_string(m_dataset.size()) + " images but "
            + std::to_string(targets.defined() ? targets.size(0) : 0) + " labels or masks");
    if (batchesPerEpoch() == 0)
        throw std::invalid_argument("data loader: " + std::to_string(m_dataset.size()) + " images give no full batch of "
            + std::to_string(batchSize));
}

DataLoader::~DataLoader()
{
    stopProducer();
}

void DataLoader::setShard(int64_t rank, int64_t count)
{
    if (count < 1 || rank < 0 || rank >= count)
        throw std::invalid_argument("data loader: shard " + std::to_string(rank) + " of " + std::to_string(count));
    stopProducer();
    m_shardRank = rank;
    m_shardCount = count;
    if (m_dropLast && batchesPerEpoch() == 0)
        throw std::invalid_argument("data loader: " + std::to_string(m_dataset.size()) + " images give no full batch of "
            + std::to_string(m_batchSize) + " per rank for " + std::to_string(count) + " ranks");
}

int64_t DataLoader::batchesPerEpoch() const
{
    const int64_t n = m_dataset.size();
    const int64_t global = m_batchSize * m_shardCount;
    if (m_dropLast)
        return n / global;
    const int64_t mine = n - m_shardRank * m_batchSize; // samples from this rank's first slice on
    return mine > 0 ? (mine + global - 1) / global : 0;
}

Batch DataLoader::make(int64_t epoch, int64_t index, const std::vector<int64_t>& order) const
{
    const int64_t begin = firstSample(index);
    const int64_t end = std::min<int64_t>(begin + m_batchSize, static_cast<int64_t>(order.size()));
    std::vector<int64_t> rows(order.begin() + begin, order.begin() + end);
    auto selection = torch::tensor(rows, torch::kLong);
    Batch batch;
    batch.epoch = epoch;
    batch.index = index;
    const uint64_t seed = mix(m_seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index * m_shardCount + m_shardRank));
    if (m_dataset.masks.defined()) {
        DenseBatch dense = transformSegmentation(
            m_dataset.images.index_select(0, selection), m_dataset.masks.index_select(0, selection), m_transform, seed);
        batch.input = std::move(dense.input);
        batch.target.tensor = std::move(dense.masks);
        return batch;
    }
    batch.input = transformImages(m_dataset.images.index_select(0, selection), m_transform, seed);
    batch.target.tensor = m_dataset.labels.index_select(0, selection);
    return batch;
}

void DataLoader::stopProducer()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_changed.notify_all();
    if (m_producer.joinable())
        m_producer.join();
    m_queue.clear();
    m_stop = false;
    m_producerDone = false;
    m_error = nullptr;
}

void DataLoader::startEpoch(int64_t epoch, int64_t firstBatch)
{
    stopProducer();
    m_epoch = epoch;
    m_nextIndex = firstBatch;
    if (m_shuffle) {
        m_order = seededPermutation(m_dataset.size(), mix(m_seed, static_cast<uint64_t>(epoch), ~0ull));
    } else {
        m_order.resize(static_cast<size_t>(m_dataset.size()));
        std::iota(m_order.begin(), m_order.end(), int64_t { 0 });
    }
    if (!m_background)
        return;
    m_producer = std::thread([this, epoch, firstBatch, order = m_order] {
        try {
            for (int64_t index = firstBatch; index < batchesPerEpoch(); ++index) {
                Batch batch = make(epoch, index, order);
                std::unique_lock<std::mutex> lock(m_mutex);
                m_changed.wait(lock, [&] { return m_stop || m_queue.size() < kQueueDepth; });
                if (m_stop)
                    return;
                m_queue.push_back(std::move(batch));
                m_changed.notify_all();
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        m_producerDone = true;
        m_changed.notify_all();
    });
}

std::optional<Batch> DataLoader::next()
{
    if (m_nextIndex >= batchesPerEpoch())
        return std::nullopt;
    if (!m_background)
        return make(m_epoch, m_nextIndex++, m_order);
    std::unique_lock<std::mutex> lock(m_mutex);
    m_changed.wait(lock, [&] { return !m_queue.empty() || m_producerDone; });
    if (m_queue.empty()) {
        if (m_error)
            std::rethrow_exception(m_error);
        return std::nullopt;
    }
    Batch batch = std::move(m_queue.front());
    m_queue.pop_front();
    m_changed.notify_all();
    ++m_nextIndex;
    return batch;
}

} // namespace dr2
