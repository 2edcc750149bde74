#pragma once

#include <c10/core/Device.h>

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

} // namespace dr2
