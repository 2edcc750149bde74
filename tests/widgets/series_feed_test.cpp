// A worker thread appends many samples; the GUI drains them in a few batches and replots a few times.
#include "tests/widgets/test_support.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"
#include "widgets/series_feed.h"
#include "widgets/series_math.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

using namespace dr2;

namespace {

double lossAt(int k)
{
    return 2.5 * std::exp(-k / 4000.0) + 0.1 * std::sin(k * 0.37);
}

} // namespace

TEST(SeriesFeed, WorkerAppendsArriveCompleteInOrderWithFewReplots)
{
    auto buffer = std::make_shared<SeriesBuffer>();
    SeriesFeed feed(buffer);
    LossView loss;
    MemoryView memory;
    feed.addView(&loss);
    feed.addView(&memory);
    test::showAt(loss, 800, 400);
    test::showAt(memory, 800, 400);
    const int replotsBefore = loss.replotCount();

    const int n = 20000;
    std::atomic<bool> done { false };
    std::thread worker([&] {
        for (int k = 0; k < n; ++k) {
            buffer->append(LossView::kSeriesLoss, k, lossAt(k));
            buffer->append(MemoryView::kSeriesCurrent, k, 1e6 + k);
            if (k % 50 == 0)
                buffer->append(LossView::kSeriesLearningRate, k, 1e-3 * (1.0 - double(k) / n));
            if (k % 100 == 99)
                std::this_thread::sleep_for(std::chrono::milliseconds(1)); // a trainer produces in steps
        }
        done = true;
    });
    const bool finished = test::waitUntil([&] {
        return done && buffer->pendingCount() == 0 && feed.deliveredCount() == qint64(buffer->appendedCount());
    });
    worker.join();
    ASSERT_TRUE(finished) << "the feed did not deliver every sample (hang guard, 10 s)";
    test::settle();

    const auto samples = loss.seriesSamples(LossView::kSeriesLoss);
    ASSERT_EQ(samples.size(), size_t(n));
    for (int k = 0; k < n; ++k) {
        ASSERT_EQ(samples[size_t(k)].iteration, double(k));
        ASSERT_EQ(samples[size_t(k)].value, lossAt(k));
    }
    EXPECT_EQ(loss.seriesSamples(LossView::kSeriesLearningRate).size(), size_t(n / 50));
    EXPECT_EQ(memory.seriesSamples(MemoryView::kSeriesCurrent).size(), size_t(n));
    EXPECT_TRUE(memory.seriesSamples(LossView::kSeriesLoss).empty()); // views ignore others' series

    // The smoothed curve is the debiased EMA of the full-resolution loss.
    std::vector<double> raw;
    raw.reserve(samples.size());
    for (const auto& s : samples)
        raw.push_back(s.value);
    const auto expected = emaDebiased(raw, loss.smoothing());
    const auto smoothed = loss.seriesSamples(LossView::kSeriesLossSmoothed);
    ASSERT_EQ(smoothed.size(), size_t(n));
    for (int k = 0; k < n; k += 997)
        EXPECT_NEAR(smoothed[size_t(k)].value, expected[size_t(k)], 1e-12);

    // Few drains and replots for 41,000 appends: no signal per sample.
    const int replots = loss.replotCount() - replotsBefore;
    std::printf("[ info ] %d appends -> %d drains, %d replots of the loss view\n", int(buffer->appendedCount()),
        feed.drainCount(), replots);
    EXPECT_GE(feed.drainCount(), 1);
    EXPECT_LE(feed.drainCount(), n / 100);
    EXPECT_LE(replots, feed.drainCount() + 3);
    // Display is decimated to about two points per pixel column.
    EXPECT_LE(loss.displayedPointCount(LossView::kSeriesLoss), 2 * 800 + 2);
    EXPECT_GT(loss.displayedPointCount(LossView::kSeriesLoss), 100);
}

TEST(SeriesFeed, BurstIsCoalescedIntoOneDrain)
{
    auto buffer = std::make_shared<SeriesBuffer>();
    SeriesFeed feed(buffer);
    LossView view;
    feed.addView(&view);
    for (int k = 0; k < 1000; ++k)
        buffer->append(LossView::kSeriesLoss, k, 1.0);
    ASSERT_TRUE(test::waitUntil([&] { return feed.drainCount() > 0; }));
    test::settle();
    EXPECT_EQ(feed.drainCount(), 1);
    EXPECT_EQ(feed.deliveredCount(), 1000);
    EXPECT_EQ(view.seriesSamples(LossView::kSeriesLoss).size(), 1000u);
}

TEST(SeriesFeed, DataAppendedBeforeTheFeedExistsIsDelivered)
{
    auto buffer = std::make_shared<SeriesBuffer>();
    buffer->append(MemoryView::kSeriesPeak, { { 0, 1e9 }, { 1, 2e9 } });
    SeriesFeed feed(buffer);
    MemoryView view;
    feed.addView(&view);
    ASSERT_TRUE(test::waitUntil([&] { return feed.deliveredCount() == 2; }));
    EXPECT_EQ(view.seriesSamples(MemoryView::kSeriesPeak).size(), 2u);
}
