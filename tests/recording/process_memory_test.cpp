// The process RSS the recorder writes beside the tensor bytes ("rss_bytes"): /proc/self/statm read right, and
// growing when the process touches memory.
#include "core/process_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace dr2 {
namespace {

TEST(ProcessMemory, ParsesTheResidentPagesOfAStatmLine)
{
    EXPECT_EQ(residentBytesFromStatm("12345 678 90 1 0 2 0\n", 4096), int64_t { 678 } * 4096);
    EXPECT_EQ(residentBytesFromStatm("12345", 4096), -1);
    EXPECT_EQ(residentBytesFromStatm("", 4096), -1);
    EXPECT_EQ(residentBytesFromStatm("1 2", 0), -1);
}

TEST(ProcessMemory, ResidentSizeGrowsWhenMemoryIsTouched)
{
    const int64_t before = processResidentBytes();
    ASSERT_GT(before, 0) << "/proc/self/statm unreadable";
    constexpr size_t kBytes = size_t { 64 } * 1024 * 1024;
    const std::unique_ptr<char[]> block(new char[kBytes]);
    std::memset(block.get(), 1, kBytes); // resident only once written
    const int64_t after = processResidentBytes();
    EXPECT_GE(after - before, static_cast<int64_t>(kBytes) / 2) << before << " -> " << after;
    EXPECT_EQ(block[kBytes - 1], 1);
}

} // namespace
} // namespace dr2
