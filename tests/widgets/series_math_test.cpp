// Decimation keeps spikes; the debiased EMA starts at the data, not at zero.
#include "widgets/series_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <limits>
#include <utility>

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

TEST(Smoothing, DebiasedEmaOfAConstantIsThatConstantFromTheFirstPoint)
{
    const std::vector<double> constant(50, 3.25);
    for (double strength : { 0.0, 0.5, 0.9, 0.99 }) {
        const auto smoothed = dr2::smoothValues(constant, dr2::Smoothing::Ema, strength);
        ASSERT_EQ(smoothed.size(), constant.size());
        for (double v : smoothed)
            EXPECT_NEAR(v, 3.25, 1e-12) << "strength " << strength;
    }
}

TEST(Smoothing, GaussianKeepsALinearRampInTheInteriorAndSmoothsNoise)
{
    std::vector<double> ramp(400);
    for (size_t i = 0; i < ramp.size(); ++i)
        ramp[i] = 2.0 + 0.5 * double(i);
    const double sigma = 5.0;
    const auto smoothed = dr2::gaussianSmooth(ramp, sigma);
    const auto radius = static_cast<size_t>(std::ceil(3.0 * sigma));
    for (size_t i = radius; i + radius < ramp.size(); ++i)
        EXPECT_NEAR(smoothed[i], ramp[i], 1e-9) << "at " << i;
    // Noise loses most of its spread; the mean stays.
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(1.0, 1.0);
    std::vector<double> noisy(5000);
    for (double& v : noisy)
        v = noise(rng);
    const auto quiet = dr2::gaussianSmooth(noisy, sigma);
    auto spread = [](const std::vector<double>& v) {
        double mean = 0, sq = 0;
        for (double x : v)
            mean += x / double(v.size());
        for (double x : v)
            sq += (x - mean) * (x - mean) / double(v.size());
        return std::make_pair(mean, std::sqrt(sq));
    };
    EXPECT_NEAR(spread(quiet).first, spread(noisy).first, 0.02);
    EXPECT_LT(spread(quiet).second, 0.3 * spread(noisy).second);
}

TEST(Smoothing, RunningAverageOfAStepRisesLinearlyOverTheWindow)
{
    std::vector<double> step(100, 0.0);
    std::fill(step.begin() + 50, step.end(), 1.0);
    const int window = 10;
    const auto smoothed = dr2::runningAverage(step, window);
    for (size_t i = 0; i < 50; ++i)
        EXPECT_DOUBLE_EQ(smoothed[i], 0.0);
    for (size_t k = 0; k < size_t(window); ++k) // k + 1 of the last 10 values are ones
        EXPECT_NEAR(smoothed[50 + k], double(k + 1) / window, 1e-12) << "at " << 50 + k;
    for (size_t i = 50 + window; i < step.size(); ++i)
        EXPECT_DOUBLE_EQ(smoothed[i], 1.0);
    // The start averages over the samples there are, not over missing zeros.
    const auto ones = dr2::runningAverage(std::vector<double>(5, 4.0), window);
    for (double v : ones)
        EXPECT_DOUBLE_EQ(v, 4.0);
}

TEST(Smoothing, NonFiniteValuesPassThroughAndDoNotSpread)
{
    std::vector<double> values(40, 1.0);
    values[20] = std::numeric_limits<double>::quiet_NaN();
    for (auto kind : { dr2::Smoothing::Ema, dr2::Smoothing::RunningAverage, dr2::Smoothing::Gaussian }) {
        const auto smoothed = dr2::smoothValues(values, kind, 0.9);
        EXPECT_TRUE(std::isnan(smoothed[20]));
        for (size_t i = 0; i < values.size(); ++i) {
            if (i == 20)
                continue;
            EXPECT_NEAR(smoothed[i], 1.0, 1e-12) << "at " << i;
        }
    }
    EXPECT_EQ(dr2::smoothValues(values, dr2::Smoothing::None, 0.9).size(), values.size());
    EXPECT_DOUBLE_EQ(dr2::smoothingWindow(0.0), 1.0);
    EXPECT_NEAR(dr2::smoothingWindow(0.9), 10.0, 1e-9);
}

TEST(AxisMapping, KnotsMapIterationsToEpochsAndExtendBeyondTheEnds)
{
    // Evaluations after epochs 1 and 2 at iterations 100 and 200; 0 iterations is epoch 0.
    const auto epochs = dr2::mapThroughKnots({ 0, 50, 100, 150, 250 }, { 0, 100, 200 }, { 0, 1, 2 });
    const std::vector<double> expected = { 0, 0.5, 1, 1.5, 2.5 };
    ASSERT_EQ(epochs.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_NEAR(epochs[i], expected[i], 1e-12);
    EXPECT_EQ(dr2::mapThroughKnots({ 1, 2 }, {}, {}), (std::vector<double> { 1, 2 }));
    EXPECT_EQ(dr2::mapThroughKnots({ 1, 2 }, { 1 }, { 10 }), (std::vector<double> { 10, 11 }));
}
