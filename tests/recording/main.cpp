// Test main: installs the counting CPU allocator before any tensor exists (the Trainer reports memory).
#include "core/memory_meter.h"

#include <gtest/gtest.h>

int main(int argc, char** argv)
{
    dr2::MemoryMeter::forDevice(c10::Device(c10::kCPU));
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
