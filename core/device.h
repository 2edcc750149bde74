#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>

#include <string>

namespace dr2 {

/// True when this build has CUDA support and a GPU is present at run time.
bool cudaAvailable();

/// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU); throws
/// std::invalid_argument when CUDA is asked for and not available, naming what was found.
c10::Device parseDevice(const std::string& name);

/// One line describing the compute device and the LibTorch build, for logs and --version.
std::string describeDevice(const c10::Device& device);

/// Synchronises the device so wall-clock timings include queued kernels (no-op on CPU).
void synchronize(const c10::Device& device);

/// The default random generator of `device` (CPU, or a CUDA device when available); throws
/// std::invalid_argument for other devices.
at::Generator defaultGenerator(const c10::Device& device);

/// A new generator of `device` (CPU, or a CUDA device when available) seeded with `seed`, independent of
/// the default one; throws std::invalid_argument for other devices.
at::Generator makeGenerator(const c10::Device& device, uint64_t seed);

/// Allocated bytes (current and peak) of the CUDA caching allocator on device `index`.
struct CudaMemoryStats {
    int64_t current = 0;
    int64_t peak = 0;
};
/// Statistics of CUDA device `index`; throws std::runtime_error when CUDA is not available.
CudaMemoryStats cudaMemoryStats(int index);
/// Memory a training run on `device` can use at most, and what it is: a CUDA device's total memory
/// (cudaDeviceProp::totalGlobalMem), or for the CPU the machine's physical memory (sysconf). The memory planner's
/// default budget and the limit runs are refused beyond.
struct DeviceMemory {
    int64_t bytes = 0;
    std::string what; ///< e.g. "physical memory of this machine", "memory of NVIDIA H200"
};
DeviceMemory deviceMemory(const c10::Device& device);
/// Resets the peak statistic of CUDA device `index`.
void cudaResetPeak(int index);

} // namespace dr2
