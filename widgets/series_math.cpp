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
