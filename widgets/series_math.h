#pragma once

#include <cstdint>
#include <vector>

namespace dr2 {

/// Points of a series reduced for display; xs ascending, same length as ys.
struct DecimatedSeries {
    std::vector<double> xs; ///< keys (iterations)
    std::vector<double> ys; ///< values
};

/// Reduces the samples of (xs, ys) (xs ascending) that fall in [xMin, xMax] to at most two points per pixel
/// column: the minimum and the maximum of each column, in their original order, so a single spike stays
/// visible however long the series is. The nearest sample outside each end of the range is kept too, so
/// lines reach the edges of the plot. Each column also keeps its first non-finite sample (NaN/Inf loss) so
/// gaps stay visible. When the range holds at most 2 * columns samples they are returned unchanged.
/// `columns` <= 0 or an empty/inverted range returns the samples in the range unchanged.
DecimatedSeries decimateMinMax(
    const std::vector<double>& xs, const std::vector<double>& ys, double xMin, double xMax, int columns);

/// Exponential moving average with TensorBoard's debiasing, fed one value at a time:
/// m_k = w·m_{k-1} + (1−w)·v_k (m_0 = 0) and the smoothed value is m_k / (1 − w^k), so the curve starts at
/// the first sample instead of being pulled towards zero. Non-finite values are passed through unchanged
/// and do not enter the average (one NaN does not hide the rest of the curve).
class DebiasedEma {
public:
    /// `weight` in [0, 1): 0 is no smoothing; values outside are clamped into [0, 0.999999].
    explicit DebiasedEma(double weight = 0.9);
    /// Adds a value and returns the smoothed value at that point.
    double add(double value);
    /// Forgets every value added so far.
    void reset();
    /// The smoothing weight in use.
    double weight() const { return m_weight; }

private:
    double m_weight = 0.9;
    double m_biased = 0.0;
    double m_weightPower = 1.0; // w^k for the k finite values seen
};

/// The debiased EMA of every value of `values` (see DebiasedEma), computed at full resolution.
std::vector<double> emaDebiased(const std::vector<double>& values, double weight);

/// How a comparison plot smooths a curve (the choices TensorBoard, W&B and Aim offer).
enum class Smoothing {
    None, ///< the raw values
    Ema, ///< debiased exponential moving average (TensorBoard's)
    RunningAverage, ///< mean of the last `window` values (trailing)
    Gaussian ///< centred Gaussian kernel over neighbouring samples
};

/// The number of samples a smoothing strength in [0, 1) averages over: 1 / (1 − strength), so 0 → 1 (none),
/// 0.9 → 10, 0.99 → 100; clamped to [0, 0.999].
double smoothingWindow(double strength);

/// Trailing running average: value k is the mean of the finite values among the last `window` samples up to k
/// (fewer at the start). Non-finite values pass through unchanged. `window` <= 1 returns the values unchanged.
std::vector<double> runningAverage(const std::vector<double>& values, int window);

/// Gaussian smoothing over sample indices with standard deviation `sigma` samples, the kernel cut at 3σ and
/// renormalised where it meets the ends or non-finite values (which pass through unchanged). The kernel is
/// symmetric, so a linear ramp is kept exactly away from the ends. `sigma` <= 0 returns the values unchanged.
std::vector<double> gaussianSmooth(const std::vector<double>& values, double sigma);

/// `values` smoothed by `kind` at `strength` in [0, 1): the EMA weight, the running average's window
/// smoothingWindow(strength), or a Gaussian whose σ is a quarter of that window.
std::vector<double> smoothValues(const std::vector<double>& values, Smoothing kind, double strength);

/// Maps each of `xs` through the piecewise linear function through (knotXs[i], knotYs[i]) (knotXs ascending),
/// extending the first and last pieces beyond the ends; with one knot, a shift; with none, `xs` unchanged.
/// Used to put iterations on an epoch or wall-time axis from the few points where both are known.
std::vector<double> mapThroughKnots(
    const std::vector<double>& xs, const std::vector<double>& knotXs, const std::vector<double>& knotYs);

} // namespace dr2
