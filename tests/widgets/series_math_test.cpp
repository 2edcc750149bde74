// Decimation keeps spikes; the debiased EMA starts at the data, not at zero.
#include "widgets/series_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using dr2::decimateMinMax;

TEST(Decimation, KeepsSingleSpikesOfAMillionPoints)
{
    const size_t n = 1000000;
    std::vector<double> xs(n), ys(n);
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> noise(-1.0, 1.0);
    for (size_t i = 0; i < n; ++i) {
        xs[i] = static_cast<double>(i);
        ys[i] = noise(rng);
    }
    ys[123457] = 1000.0; // one iteration where the loss spiked
    ys[876543] = -500.0;
    const int columns = 800;
    const auto out = decimateMinMax(xs, ys, 0.0, static_cast<double>(n - 1), columns);
    ASSERT_EQ(out.xs.size(), out.ys.size());
    EXPECT_LE(out.xs.size(), static_cast<size_t>(2 * columns + 2));
    EXPECT_GE(out.xs.size(), static_cast<size_t>(columns)); // not reduced to nothing
    EXPECT_EQ(*std::max_element(out.ys.begin(), out.ys.end()), 1000.0);
    EXPECT_EQ(*std::min_element(out.ys.begin(), out.ys.end()), -500.0);
    const auto spike = std::find(out.ys.begin(), out.ys.end(), 1000.0) - out.ys.begin();
    EXPECT_EQ(out.xs[static_cast<size_t>(spike)], 123457.0); // at its own iteration
    EXPECT_TRUE(std::is_sorted(out.xs.begin(), out.xs.end()));
}

TEST(Decimation, EveryColumnKeepsItsExtremes)
{
    // 10 columns of 100 samples each: column c holds values c*100 .. c*100+99 in a sawtooth.
    std::vector<double> xs(1000), ys(1000);
    for (size_t i = 0; i < 1000; ++i) {
        xs[i] = static_cast<double>(i);
        const size_t step = i / 100; // a jump of 1000 every 100 samples
        ys[i] = static_cast<double>((i * 37) % 100) + static_cast<double>(step) * 1000.0;
    }
    const auto out = decimateMinMax(xs, ys, 0.0, 1000.0, 10);
    ASSERT_EQ(out.xs.size(), 20u);
    for (size_t c = 0; c < 10; ++c) {
        const double lo = std::min(out.ys[2 * c], out.ys[2 * c + 1]);
        const double hi = std::max(out.ys[2 * c], out.ys[2 * c + 1]);
        EXPECT_DOUBLE_EQ(lo, c * 1000.0) << "column " << c;
        EXPECT_DOUBLE_EQ(hi, c * 1000.0 + 99.0) << "column " << c;
    }
}

TEST(Decimation, ShortSeriesAndVisibleRangeWithEdgeNeighbours)
{
    std::vector<double> xs = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    std::vector<double> ys = { 5, 4, 3, 2, 1, 0, 1, 2, 3, 4 };
    const auto all = decimateMinMax(xs, ys, 0.0, 9.0, 100);
    EXPECT_EQ(all.xs, xs);
    EXPECT_EQ(all.ys, ys);
    // Zoomed to [3.5, 6.5]: samples 4, 5, 6 plus one neighbour each side so the line reaches the edges.
    const auto zoomed = decimateMinMax(xs, ys, 3.5, 6.5, 100);
    EXPECT_EQ(zoomed.xs, (std::vector<double> { 3, 4, 5, 6, 7 }));
    EXPECT_TRUE(decimateMinMax({}, {}, 0.0, 1.0, 10).xs.empty());
}

TEST(Decimation, NonFiniteValuesStayVisible)
{
    std::vector<double> xs(10000), ys(10000, 1.0);
    for (size_t i = 0; i < xs.size(); ++i)
        xs[i] = static_cast<double>(i);
    ys[5000] = std::nan("");
    const auto out = decimateMinMax(xs, ys, 0.0, 9999.0, 100);
    EXPECT_EQ(std::count_if(out.ys.begin(), out.ys.end(), [](double y) { return std::isnan(y); }), 1);
}

TEST(DebiasedEma, ConstantSeriesIsUnbiasedFromTheFirstSample)
{
    // Without debiasing the first value would be (1 - 0.9) * 3 = 0.3.
    const auto smoothed = dr2::emaDebiased(std::vector<double>(50, 3.0), 0.9);
    for (double v : smoothed)
        EXPECT_NEAR(v, 3.0, 1e-12);
}

TEST(DebiasedEma, MatchesHandComputation)
{
    // w = 0.5: m1 = 0.5, debias 0.5 -> 1; m2 = 0.25 + 1.5 = 1.75, debias 0.75 -> 7/3;
    // m3 = 0.875 + 2.5 = 3.375, debias 0.875 -> 27/7.
    const auto s = dr2::emaDebiased({ 1.0, 3.0, 5.0 }, 0.5);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_NEAR(s[0], 1.0, 1e-12);
    EXPECT_NEAR(s[1], 7.0 / 3.0, 1e-12);
    EXPECT_NEAR(s[2], 27.0 / 7.0, 1e-12);
    // Weight 0 is the identity.
    EXPECT_EQ(dr2::emaDebiased({ 1.0, -2.0, 4.0 }, 0.0), (std::vector<double> { 1.0, -2.0, 4.0 }));
}

TEST(DebiasedEma, NaNPassesThroughWithoutPoisoningTheAverage)
{
    const auto s = dr2::emaDebiased({ 2.0, std::nan(""), 2.0 }, 0.9);
    EXPECT_NEAR(s[0], 2.0, 1e-12);
    EXPECT_TRUE(std::isnan(s[1]));
    EXPECT_NEAR(s[2], 2.0, 1e-12);
}

TEST(DebiasedEma, IncrementalEqualsBatch)
{
    std::vector<double> values;
    values.reserve(500);
    for (int i = 0; i < 500; ++i)
        values.push_back(std::sin(i * 0.1) + i * 0.01);
    const auto batch = dr2::emaDebiased(values, 0.95);
    dr2::DebiasedEma ema(0.95);
    for (size_t i = 0; i < values.size(); ++i)
        EXPECT_DOUBLE_EQ(ema.add(values[i]), batch[i]);
}
