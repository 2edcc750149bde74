// The α/β schedule: exact ends, monotone paths, staircase updates, orders.
#include "training/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace dr2 {
namespace {

class ScheduleMatrix : public ::testing::TestWithParam<std::tuple<SchedulePolicy, ScheduleOrder>> { };

TEST_P(ScheduleMatrix, StartsAndEndsExactlyAndIsMonotoneStaircase)
{
    ScheduleOptions options;
    options.start = { 1.0, 0.1 };
    options.end = { 0.3, 0.7 };
    options.tauIterations = 1000;
    options.eta = 30; // τ is not a multiple of η: the end still arrives exactly at τ
    std::tie(options.policy, options.order) = GetParam();
    const CoefficientSchedule schedule(options);

    EXPECT_EQ(schedule.at(0), options.start);
    EXPECT_EQ(schedule.at(1000), options.end);
    EXPECT_EQ(schedule.at(5000), options.end);
    EXPECT_NE(schedule.at(999), options.end);

    Coefficients previous = schedule.at(0);
    for (int64_t it = 1; it <= 1100; ++it) {
        const Coefficients c = schedule.at(it);
        EXPECT_LE(c.alpha, previous.alpha) << "α rose at " << it;
        EXPECT_GE(c.beta, previous.beta) << "β fell at " << it;
        if (it % options.eta != 0 && it != options.tauIterations) {
            EXPECT_EQ(c, previous) << "changed between updates at " << it;
        }
        previous = c;
    }
    for (const auto it : schedule.updateIterations())
        EXPECT_TRUE(it % options.eta == 0 || it == options.tauIterations);
}

INSTANTIATE_TEST_SUITE_P(AllPoliciesAndOrders, ScheduleMatrix,
    ::testing::Combine(::testing::Values(SchedulePolicy::Linear, SchedulePolicy::Exponential, SchedulePolicy::Logarithmic),
        ::testing::Values(ScheduleOrder::Simultaneous, ScheduleOrder::AlphaFirst, ScheduleOrder::BetaFirst)),
    [](const ::testing::TestParamInfo<ScheduleMatrix::ParamType>& info) {
        std::string name = toString(std::get<0>(info.param)) + "_" + toString(std::get<1>(info.param));
        std::replace(name.begin(), name.end(), '-', '_');
        return name;
    });

TEST(Schedule, LinearSimultaneousIsTheStraightLine)
{
    ScheduleOptions options;
    options.tauIterations = 100;
    const CoefficientSchedule schedule(options);
    const Coefficients half = schedule.at(50);
    EXPECT_NEAR(half.alpha, 0.65, 1e-12);
    EXPECT_NEAR(half.beta, 0.4, 1e-12);
}

TEST(Schedule, OrdersMoveOneCoefficientAtATime)
{
    ScheduleOptions options;
    options.tauIterations = 100;
    options.order = ScheduleOrder::AlphaFirst;
    const CoefficientSchedule alphaFirst(options);
    EXPECT_EQ(alphaFirst.at(50), (Coefficients { 0.3, 0.1 })); // α done, β not started
    EXPECT_EQ(alphaFirst.at(25).beta, 0.1);
    options.order = ScheduleOrder::BetaFirst;
    const CoefficientSchedule betaFirst(options);
    EXPECT_EQ(betaFirst.at(50), (Coefficients { 1.0, 0.7 }));
    EXPECT_EQ(betaFirst.at(75).beta, 0.7);
}

TEST(Schedule, PoliciesBendTheRightWay)
{
    ScheduleOptions options;
    options.tauIterations = 100;
    options.policy = SchedulePolicy::Exponential;
    const double exponential = CoefficientSchedule(options).at(50).beta;
    options.policy = SchedulePolicy::Logarithmic;
    const double logarithmic = CoefficientSchedule(options).at(50).beta;
    EXPECT_LT(exponential, 0.4); // slow start
    EXPECT_GT(logarithmic, 0.4); // fast start
}

TEST(Schedule, RejectsBadOptions)
{
    ScheduleOptions options;
    options.tauIterations = 0;
    EXPECT_THROW(CoefficientSchedule { options }, std::invalid_argument);
    options.tauIterations = 10;
    options.eta = 0;
    EXPECT_THROW(CoefficientSchedule { options }, std::invalid_argument);
    EXPECT_THROW(parseSchedulePolicy("cubic"), std::invalid_argument);
    EXPECT_THROW(parseScheduleOrder("both"), std::invalid_argument);
}

TEST(Schedule, ConstantHoldsItsPoint)
{
    const auto schedule = CoefficientSchedule::constant({ 1.0, 0.1 });
    EXPECT_EQ(schedule.at(0), (Coefficients { 1.0, 0.1 }));
    EXPECT_EQ(schedule.at(123456), (Coefficients { 1.0, 0.1 }));
}

} // namespace
} // namespace dr2
