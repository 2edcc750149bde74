#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// How the coefficients travel from the start point to the end point (all monotone, exact at both ends).
enum class SchedulePolicy {
    Linear, ///< s(p) = p (the paper's best)
    Exponential, ///< slow first, fast late: s(p) = (e^{kp} − 1)/(e^k − 1)
    Logarithmic, ///< fast first, slow late: s(p) = ln(1 + (e^k − 1)p)/k
};

/// Which coefficient moves when.
enum class ScheduleOrder {
    Simultaneous, ///< α and β move together (the paper's best)
    AlphaFirst, ///< α over the first half of the span, then β over the second
    BetaFirst, ///< β over the first half, then α
};

SchedulePolicy parseSchedulePolicy(const std::string& name);
std::string toString(SchedulePolicy policy);
ScheduleOrder parseScheduleOrder(const std::string& name);
std::string toString(ScheduleOrder order);

/// A point in the α×β plane.
struct Coefficients {
    double alpha = 1.0;
    double beta = 0.0;
    bool operator==(const Coefficients& other) const { return alpha == other.alpha && beta == other.beta; }
    bool operator!=(const Coefficients& other) const { return !(*this == other); }
};

/// Options of the dynamic α/β schedule (see DESIGN.md, "Dynamic finetuning").
struct ScheduleOptions {
    Coefficients start { 1.0, 0.1 };
    Coefficients end { 0.3, 0.7 };
    int64_t tauIterations = 1000; ///< the end point is reached exactly at this iteration, then held
    int64_t eta = 1; ///< coefficients change only at multiples of η (staircase) and at τ
    SchedulePolicy policy = SchedulePolicy::Linear;
    ScheduleOrder order = ScheduleOrder::Simultaneous;
    double curvature = 4.0; ///< k of the exponential and logarithmic policies
};

/// α and β as a pure function of the iteration, so the path can be plotted before a run starts.
class CoefficientSchedule {
public:
    /// Validates the options (τ > 0, η > 0, finite coefficients); throws std::invalid_argument naming the field.
    explicit CoefficientSchedule(ScheduleOptions options);
    /// A schedule that holds one point forever.
    static CoefficientSchedule constant(Coefficients point);

    /// Coefficients in effect at `iteration` (iterations count from 0).
    Coefficients at(int64_t iteration) const;
    /// Fraction of the span completed at `iteration`, after the staircase: 0 at the start, 1 from τ on.
    double progress(int64_t iteration) const;
    /// The iterations at which the coefficients change, up to and including τ.
    std::vector<int64_t> updateIterations() const;

    const ScheduleOptions& options() const { return m_options; }
    bool isConstant() const { return m_constant; }

private:
    double shape(double p) const;
    ScheduleOptions m_options;
    bool m_constant = false;
};

} // namespace dr2
