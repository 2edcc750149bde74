#include "widgets/series_math.h"

#include <algorithm>
#include <cmath>

namespace dr2 {

DecimatedSeries decimateMinMax(
    const std::vector<double>& xs, const std::vector<double>& ys, double xMin, double xMax, int columns)
{
    DecimatedSeries out;
    const size_t n = std::min(xs.size(), ys.size());
    if (n == 0)
        return out;
    const auto xBegin = xs.begin();
    const auto xEnd = xs.begin() + static_cast<std::ptrdiff_t>(n);
    size_t lo = static_cast<size_t>(std::lower_bound(xBegin, xEnd, xMin) - xBegin);
    size_t hi = static_cast<size_t>(std::upper_bound(xBegin, xEnd, xMax) - xBegin); // exclusive
    const size_t first = lo > 0 ? lo - 1 : lo; // neighbour outside the left edge
    const size_t last = hi < n ? hi + 1 : hi; // exclusive, neighbour outside the right edge
    auto push = [&out, &xs, &ys](size_t i) {
        out.xs.push_back(xs[i]);
        out.ys.push_back(ys[i]);
    };
    const bool reducible = columns > 0 && xMax > xMin && std::isfinite(xMax - xMin) && hi > lo
        && hi - lo > 2 * static_cast<size_t>(columns);
    if (!reducible) {
        out.xs.reserve(last - first);
        out.ys.reserve(last - first);
        for (size_t i = first; i < last; ++i)
            push(i);
        return out;
    }
    out.xs.reserve(3 * static_cast<size_t>(columns) + 2);
    out.ys.reserve(3 * static_cast<size_t>(columns) + 2);
    if (first < lo)
        push(first);
    const double scale = columns / (xMax - xMin);
    size_t i = lo;
    while (i < hi) {
        const int column = std::min(columns - 1, static_cast<int>((xs[i] - xMin) * scale));
        size_t minIndex = n, maxIndex = n, nonFinite = n;
        for (; i < hi && std::min(columns - 1, static_cast<int>((xs[i] - xMin) * scale)) == column; ++i) {
            const double y = ys[i];
            if (!std::isfinite(y)) {
                if (nonFinite == n)
                    nonFinite = i;
                continue;
            }
            if (minIndex == n || y < ys[minIndex])
                minIndex = i;
            if (maxIndex == n || y > ys[maxIndex])
                maxIndex = i;
        }
        size_t picks[3] = { minIndex, maxIndex, nonFinite };
        std::sort(picks, picks + 3);
        size_t previous = n;
        for (size_t pick : picks) {
            if (pick != n && pick != previous)
                push(pick);
            previous = pick;
        }
    }
    if (hi < last)
        push(hi);
    return out;
}

DebiasedEma::DebiasedEma(double weight)
    : m_weight(std::isfinite(weight) ? std::clamp(weight, 0.0, 0.999999) : 0.0)
{
}

double DebiasedEma::add(double value)
{
    if (!std::isfinite(value))
        return value;
    m_biased = m_weight * m_biased + (1.0 - m_weight) * value;
    m_weightPower *= m_weight;
    const double debias = 1.0 - m_weightPower;
    // debias is 1 - w^k >= 1 - w > 0 for every k >= 1, so the division is safe.
    return m_biased / debias;
}

void DebiasedEma::reset()
{
    m_biased = 0.0;
    m_weightPower = 1.0;
}

std::vector<double> emaDebiased(const std::vector<double>& values, double weight)
{
    DebiasedEma ema(weight);
    std::vector<double> out;
    out.reserve(values.size());
    for (double v : values)
        out.push_back(ema.add(v));
    return out;
}

} // namespace dr2

namespace dr2 {

double smoothingWindow(double strength)
{
    const double s = std::isfinite(strength) ? std::clamp(strength, 0.0, 0.999) : 0.0;
    return 1.0 / (1.0 - s);
}

std::vector<double> runningAverage(const std::vector<double>& values, int window)
{
    if (window <= 1)
        return values;
    // Prefix sums of the finite values and of their count make every window O(1).
    const size_t n = values.size();
    std::vector<double> sums(n + 1, 0.0);
    std::vector<size_t> counts(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
        const bool finite = std::isfinite(values[i]);
        sums[i + 1] = sums[i] + (finite ? values[i] : 0.0);
        counts[i + 1] = counts[i] + (finite ? 1 : 0);
    }
    std::vector<double> out(n);
    const auto width = static_cast<size_t>(window);
    for (size_t i = 0; i < n; ++i) {
        const size_t begin = i + 1 > width ? i + 1 - width : 0;
        const size_t count = counts[i + 1] - counts[begin];
        out[i] = std::isfinite(values[i]) && count > 0 ? (sums[i + 1] - sums[begin]) / double(count) : values[i];
    }
    return out;
}

std::vector<double> gaussianSmooth(const std::vector<double>& values, double sigma)
{
    if (!(sigma > 0.0) || !std::isfinite(sigma))
        return values;
    const auto radius = static_cast<std::ptrdiff_t>(std::ceil(3.0 * sigma));
    std::vector<double> kernel(static_cast<size_t>(radius) + 1);
    for (std::ptrdiff_t d = 0; d <= radius; ++d)
        kernel[static_cast<size_t>(d)] = std::exp(-0.5 * double(d * d) / (sigma * sigma));
    const auto n = static_cast<std::ptrdiff_t>(values.size());
    std::vector<double> out(values.size());
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        if (!std::isfinite(values[static_cast<size_t>(i)])) {
            out[static_cast<size_t>(i)] = values[static_cast<size_t>(i)];
            continue;
        }
        double sum = 0.0, weight = 0.0;
        for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(0, i - radius); j <= std::min(n - 1, i + radius); ++j) {
            const double v = values[static_cast<size_t>(j)];
            if (!std::isfinite(v))
                continue;
            const double w = kernel[static_cast<size_t>(std::abs(j - i))];
            sum += w * v;
            weight += w;
        }
        out[static_cast<size_t>(i)] = sum / weight; // weight >= kernel[0] = 1: the centre is finite
    }
    return out;
}

std::vector<double> smoothValues(const std::vector<double>& values, Smoothing kind, double strength)
{
    switch (kind) {
    case Smoothing::Ema:
        return emaDebiased(values, std::clamp(std::isfinite(strength) ? strength : 0.0, 0.0, 0.999));
    case Smoothing::RunningAverage:
        return runningAverage(values, static_cast<int>(std::lround(smoothingWindow(strength))));
    case Smoothing::Gaussian:
        return gaussianSmooth(values, smoothingWindow(strength) / 4.0);
    case Smoothing::None:
        break;
    }
    return values;
}

std::vector<double> mapThroughKnots(
    const std::vector<double>& xs, const std::vector<double>& knotXs, const std::vector<double>& knotYs)
{
    const size_t knots = std::min(knotXs.size(), knotYs.size());
    if (knots == 0)
        return xs;
    std::vector<double> out;
    out.reserve(xs.size());
    if (knots == 1) {
        for (double x : xs)
            out.push_back(x - knotXs[0] + knotYs[0]);
        return out;
    }
    const auto end = knotXs.begin() + static_cast<std::ptrdiff_t>(knots);
    for (double x : xs) {
        // The piece [k, k + 1] holding x; the first or last piece outside the knots.
        const auto upper = std::upper_bound(knotXs.begin(), end, x);
        const size_t k = std::clamp<size_t>(static_cast<size_t>(upper - knotXs.begin()), 1, knots - 1) - 1;
        const double dx = knotXs[k + 1] - knotXs[k];
        const double t = dx != 0.0 ? (x - knotXs[k]) / dx : 0.0;
        out.push_back(knotYs[k] + t * (knotYs[k + 1] - knotYs[k]));
    }
    return out;
}

} // namespace dr2
