// The one place that talks to CUDA directly. Everything here compiles against a CPU-only LibTorch;
// CUDA calls sit behind DR2_WITH_CUDA and a run-time torch::cuda::is_available() check.
#include "core/device.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <unistd.h>

#include <mutex>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

#ifdef DR2_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace dr2 {

bool cudaAvailable()
{
#ifdef DR2_WITH_CUDA
    return torch::cuda::is_available();
#else
    return false;
#endif
}

c10::Device parseDevice(const std::string& name)
{
    if (name == "auto")
        return cudaAvailable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    c10::Device device(c10::kCPU);
    try {
        device = c10::Device(name);
    } catch (const std::exception&) {
        throw std::invalid_argument("device '" + name + "': expected cpu, cuda, cuda:N or auto");
    }
    if (device.is_cuda() && !cudaAvailable())
        throw std::invalid_argument("device '" + name + "': CUDA is not available in this build ("
            + std::string("LibTorch ") + TORCH_VERSION + (torch::cuda::is_available() ? ", GPU present" : ", no GPU")
            + "); use --device cpu");
    return device;
}

std::string describeDevice(const c10::Device& device)
{
    std::string text = "LibTorch " TORCH_VERSION ", device " + device.str();
#ifdef DR2_WITH_CUDA
    if (device.is_cuda() && cudaAvailable()) {
        const auto* props = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
        text += std::string(" (") + props->name + ")";
    }
#endif
    text += cudaAvailable() ? ", CUDA available" : ", CUDA not available";
    return text;
}

void synchronize(const c10::Device& device)
{
#ifdef DR2_WITH_CUDA
    if (device.is_cuda() && cudaAvailable())
        torch::cuda::synchronize(device.has_index() ? device.index() : -1);
#else
    (void)device;
#endif
}

at::Generator defaultGenerator(const c10::Device& device)
{
    if (device.is_cpu())
        return at::detail::getDefaultCPUGenerator();
#ifdef DR2_WITH_CUDA
    if (device.is_cuda() && cudaAvailable())
        return at::cuda::detail::getDefaultCUDAGenerator(device.has_index() ? device.index() : -1);
#endif
    throw std::invalid_argument("random state: unsupported device " + device.str());
}

at::Generator makeGenerator(const c10::Device& device, uint64_t seed)
{
    if (device.is_cpu())
        return at::make_generator<at::CPUGeneratorImpl>(seed);
#ifdef DR2_WITH_CUDA
    if (device.is_cuda() && cudaAvailable()) {
        at::Generator gen = at::cuda::detail::createCUDAGenerator(device.has_index() ? device.index() : -1);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
        return gen;
    }
#endif
    throw std::invalid_argument("random stream: unsupported device " + device.str());
}

DeviceMemory deviceMemory(const c10::Device& device)
{
#ifdef DR2_WITH_CUDA
    if (device.is_cuda() && cudaAvailable()) {
        const auto* props = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
        return { static_cast<int64_t>(props->totalGlobalMem), std::string("memory of ") + props->name };
    }
#endif
    if (device.is_cuda())
        throw std::invalid_argument("device memory of " + device.str() + ": CUDA is not available");
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        throw std::runtime_error("device memory: sysconf cannot tell this machine's physical memory");
    return { static_cast<int64_t>(pages) * pageSize, "physical memory of this machine" };
}

CudaMemoryStats cudaMemoryStats(int index)
{
#ifdef DR2_WITH_CUDA
    if (cudaAvailable()) {
        namespace alloc = c10::cuda::CUDACachingAllocator;
        const auto stats = alloc::getDeviceStats(index);
        const auto& allocated = stats.allocated_bytes[static_cast<size_t>(alloc::StatType::AGGREGATE)];
        return { allocated.current, allocated.peak };
    }
#endif
    throw std::runtime_error("CUDA memory statistics of device " + std::to_string(index) + ": CUDA is not available");
}

void cudaResetPeak(int index)
{
#ifdef DR2_WITH_CUDA
    if (cudaAvailable()) {
        c10::cuda::CUDACachingAllocator::resetPeakStats(index);
        return;
    }
#endif
    throw std::runtime_error("CUDA memory statistics of device " + std::to_string(index) + ": CUDA is not available");
}

} // namespace dr2
