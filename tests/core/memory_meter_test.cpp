// The counting CPU allocator agrees with the sizes of tensors a test allocates and frees.
#include "core/memory_meter.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>
#include <vector>

namespace dr2 {
namespace {

TEST(MemoryMeter, CountsAllocationsAndFreesExactly)
{
    MemoryMeter& meter = MemoryMeter::forDevice(c10::Device(c10::kCPU));
    ASSERT_TRUE(meter.exact());
    const int64_t before = meter.currentBytes();
    {
        torch::Tensor a = torch::empty({ 1000 }, torch::kFloat32); // 4000 bytes
        EXPECT_EQ(meter.currentBytes() - before, 4000);
        torch::Tensor b = torch::empty({ 10, 10 }, torch::kFloat64); // 800 bytes
        EXPECT_EQ(meter.currentBytes() - before, 4800);
        torch::Tensor view = a.view({ 10, 100 }); // a view allocates nothing
        EXPECT_EQ(meter.currentBytes() - before, 4800);
        b = torch::Tensor();
        EXPECT_EQ(meter.currentBytes() - before, 4000);
    }
    EXPECT_EQ(meter.currentBytes(), before);
}

TEST(MemoryMeter, PeakTracksTheHighestValueSinceReset)
{
    MemoryMeter& meter = MemoryMeter::forDevice(c10::Device(c10::kCPU));
    PeakScope scope(meter);
    {
        torch::Tensor big = torch::empty({ 1 << 20 }, torch::kUInt8);
        torch::Tensor small = torch::empty({ 1 << 10 }, torch::kUInt8);
        (void)small;
    }
    torch::Tensor kept = torch::empty({ 100 }, torch::kUInt8);
    EXPECT_EQ(scope.peakAboveBaseline(), (1 << 20) + (1 << 10));
    EXPECT_EQ(meter.currentBytes() - scope.baselineBytes(), 100);
    meter.resetPeak();
    EXPECT_EQ(meter.peakBytes(), meter.currentBytes());
}

TEST(MemoryMeter, IsConsistentUnderConcurrentUse)
{
    MemoryMeter& meter = MemoryMeter::forDevice(c10::Device(c10::kCPU));
    const int64_t before = meter.currentBytes();
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([] {
            for (int i = 0; i < 2000; ++i) {
                torch::Tensor x = torch::empty({ 64 + i % 7 }, torch::kFloat32);
                (void)x;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(meter.currentBytes(), before);
}

} // namespace
} // namespace dr2
