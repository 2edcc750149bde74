#include "training/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dr2 {

SchedulePolicy parseSchedulePolicy(const std::string& name)
{
    if (name == "linear")
        return SchedulePolicy::Linear;
    if (name == "exponential")
        return SchedulePolicy::Exponential;
    if (name == "logarithmic")
        return SchedulePolicy::Logarithmic;
    throw std::invalid_argument("schedule.policy '" + name + "': expected linear, exponential or logarithmic");
}

std::string toString(SchedulePolicy policy)
{
    switch (policy) {
    case SchedulePolicy::Linear:
        return "linear";
    case SchedulePolicy::Exponential:
        return "exponential";
    case SchedulePolicy::Logarithmic:
        return "logarithmic";
    }
    return "?";
}

ScheduleOrder parseScheduleOrder(const std::string& name)
{
    if (name == "simultaneous")
        return ScheduleOrder::Simultaneous;
    if (name == "alpha-first")
        return ScheduleOrder::AlphaFirst;
    if (name == "beta-first")
        return ScheduleOrder::BetaFirst;
    throw std::invalid_argument("schedule.order '" + name + "': expected simultaneous, alpha-first or beta-first");
}

std::string toString(ScheduleOrder order)
{
    switch (order) {
    case ScheduleOrder::Simultaneous:
        return "simultaneous";
    case ScheduleOrder::AlphaFirst:
        return "alpha-first";
    case ScheduleOrder::BetaFirst:
        return "beta-first";
    }
    return "?";
}

CoefficientSchedule::CoefficientSchedule(ScheduleOptions options)
    : m_options(options)
{
    auto finite = [](const Coefficients& c) { return std::isfinite(c.alpha) && std::isfinite(c.beta); };
    if (!finite(options.start) || !finite(options.end))
        throw std::invalid_argument("schedule: start and end coefficients must be finite");
    if (options.tauIterations <= 0)
        throw std::invalid_argument("schedule.tau: expected > 0 iterations, found " + std::to_string(options.tauIterations));
    if (options.eta <= 0)
        throw std::invalid_argument("schedule.eta: expected > 0 iterations, found " + std::to_string(options.eta));
    if (!(options.curvature > 0.0) || !std::isfinite(options.curvature))
        throw std::invalid_argument("schedule.curvature: expected a finite value > 0");
}

CoefficientSchedule CoefficientSchedule::constant(Coefficients point)
{
    ScheduleOptions options;
    options.start = point;
    options.end = point;
    options.tauIterations = 1;
    CoefficientSchedule schedule(options);
    schedule.m_constant = true;
    return schedule;
}

double CoefficientSchedule::progress(int64_t iteration) const
{
    if (iteration >= m_options.tauIterations)
        return 1.0;
    if (iteration <= 0)
        return 0.0;
    const int64_t step = (iteration / m_options.eta) * m_options.eta; // staircase
    return static_cast<double>(step) / static_cast<double>(m_options.tauIterations);
}

double CoefficientSchedule::shape(double p) const
{
    if (p <= 0.0)
        return 0.0;
    if (p >= 1.0)
        return 1.0;
    const double k = m_options.curvature;
    switch (m_options.policy) {
    case SchedulePolicy::Linear:
        return p;
    case SchedulePolicy::Exponential:
        return std::expm1(k * p) / std::expm1(k);
    case SchedulePolicy::Logarithmic:
        return std::log1p(std::expm1(k) * p) / k;
    }
    return p;
}

Coefficients CoefficientSchedule::at(int64_t iteration) const
{
    const double p = progress(iteration);
    if (p >= 1.0)
        return m_options.end; // exact, not start + (end − start)·1 in floating point
    double pAlpha = p;
    double pBeta = p;
    if (m_options.order == ScheduleOrder::AlphaFirst) {
        pAlpha = std::min(1.0, 2.0 * p);
        pBeta = std::max(0.0, 2.0 * p - 1.0);
    } else if (m_options.order == ScheduleOrder::BetaFirst) {
        pBeta = std::min(1.0, 2.0 * p);
        pAlpha = std::max(0.0, 2.0 * p - 1.0);
    }
    const auto& s = m_options.start;
    const auto& e = m_options.end;
    const double sa = shape(pAlpha);
    const double sb = shape(pBeta);
    return { sa >= 1.0 ? e.alpha : s.alpha + (e.alpha - s.alpha) * sa,
        sb >= 1.0 ? e.beta : s.beta + (e.beta - s.beta) * sb };
}

std::vector<int64_t> CoefficientSchedule::updateIterations() const
{
    std::vector<int64_t> iterations;
    for (int64_t i = 0; i < m_options.tauIterations; i += m_options.eta)
        iterations.push_back(i);
    iterations.push_back(m_options.tauIterations);
    return iterations;
}

} // namespace dr2
