#include "training/data_parallel.h"

#include "training/image_dataset.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(DR2_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/nn/module.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace dr2 {

namespace {

// LibTorch 2.x split the communication backends out of ProcessGroup into c10d::Backend; both have the collectives
// with the same signatures, which is all this file uses.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

constexpr int64_t kBucketBytes = 25LL << 20; // as DistributedDataParallel's default bucket
const std::string kAlivePrefix = "dr2/alive/";

/// An integer environment variable, or `fallback` when unset. Throws naming the variable when it is not one.
int64_t integerVariable(const char* name, int64_t fallback, int64_t lowest, int64_t highest)
{
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0')
        return fallback;
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < lowest || value > highest)
        throw std::invalid_argument("environment variable " + std::string(name) + "='" + text
            + "': expected an integer in [" + std::to_string(lowest) + ", " + std::to_string(highest) + "]");
    return value;
}

bool isLoopback(const std::string& address)
{
    return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

/// The network device Gloo binds to: GLOO_SOCKET_IFNAME's interface when set (as torch.distributed does), the
/// loopback address when the group lives on this machine, else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> glooDevice(const WorkerGroup& group)
{
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0')
        return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    if (isLoopback(group.masterAddr))
        return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::string messageOf(const std::exception& e)
{
    if (const auto* error = dynamic_cast<const c10::Error*>(&e))
        return error->what_without_backtrace();
    return e.what();
}

} // namespace

WorkerGroup WorkerGroup::fromEnvironment()
{
    WorkerGroup group;
    group.worldSize = static_cast<int>(integerVariable("WORLD_SIZE", 1, 1, 4096));
    group.rank = static_cast<int>(integerVariable("RANK", 0, 0, group.worldSize - 1));
    group.localRank = static_cast<int>(integerVariable("LOCAL_RANK", group.rank, 0, 4095));
    group.masterPort = static_cast<int>(integerVariable("MASTER_PORT", group.masterPort, 1, 65535));
    group.timeout = std::chrono::seconds(integerVariable("DR2_DIST_TIMEOUT", 60, 1, 86400));
    if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0')
        group.masterAddr = addr;
    else if (group.distributed() && std::getenv("RANK") == nullptr)
        throw std::invalid_argument("environment: WORLD_SIZE=" + std::to_string(group.worldSize)
            + " but RANK is not set (start the workers with `dr2net-cli train --nproc N`, torchrun, or set RANK, "
              "MASTER_ADDR and MASTER_PORT for each)");
    return group;
}

struct DataParallel::Impl {
    c10::intrusive_ptr<c10d::TCPStore> store;
    c10::intrusive_ptr<CollectiveBackend> backend;
    std::string backendName;
    int64_t lastHeartbeat = -1;
};

DataParallel::DataParallel(const WorkerGroup& group, const c10::Device& device)
    : m_group(group)
    , m_impl(std::make_unique<Impl>())
{
    if (!group.distributed())
        return;
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(group.masterPort);
        options.isServer = group.rank == 0;
        options.numWorkers = static_cast<std::size_t>(group.worldSize);
        options.waitWorkers = true;
        options.timeout = group.timeout;
        m_impl->store = c10::make_intrusive<c10d::TCPStore>(group.masterAddr, options);
#if defined(DR2_WITH_NCCL)
        if (device.is_cuda()) {
            auto nccl = c10d::ProcessGroupNCCL::Options::create();
            nccl->timeout = group.timeout;
            m_impl->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(m_impl->store, group.rank, group.worldSize, nccl);
            m_impl->backendName = "nccl";
            return;
        }
#endif
        // Gloo also reduces CUDA tensors (through host memory) when this LibTorch has no NCCL.
        auto gloo = c10d::ProcessGroupGloo::Options::create(group.timeout);
        gloo->devices.push_back(glooDevice(group));
        m_impl->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(m_impl->store, group.rank, group.worldSize, gloo);
        m_impl->backendName = "gloo";
    } catch (const std::exception& e) {
        std::ostringstream what;
        what << "data parallel: rank " << group.rank << " of " << group.worldSize << " could not join the group at "
             << group.masterAddr << ":" << group.masterPort << " within " << group.timeout.count() / 1000
             << " s (is every rank started, and the port free on rank 0?): " << messageOf(e);
        throw DistributedError(what.str());
    }
    (void)device;
}

DataParallel::~DataParallel() = default;

std::string DataParallel::backend() const
{
    return m_impl->backendName.empty() ? "none" : m_impl->backendName;
}

void DataParallel::fail(const std::string& what, const std::exception& e) const
{
    std::ostringstream message;
    message << "data parallel: rank " << m_group.rank << " of " << m_group.worldSize << ": " << what << " failed";
    // Who stopped? The ranks that reported the fewest iterations (or none) are the ones the others waited for.
    try {
        std::vector<std::pair<int, int64_t>> behind;
        for (int r = 0; r < m_group.worldSize; ++r) {
            const std::string key = kAlivePrefix + std::to_string(r);
            int64_t reported = -1;
            if (r == m_group.rank)
                reported = m_impl->lastHeartbeat;
            else if (m_impl->store->check({ key })) {
                const auto bytes = m_impl->store->get(key);
                reported = std::stoll(std::string(bytes.begin(), bytes.end()));
            }
            if (reported < m_impl->lastHeartbeat)
                behind.emplace_back(r, reported);
        }
        for (const auto& [r, reported] : behind)
            message << "; rank " << r << " did not reach iteration " << m_impl->lastHeartbeat << " ("
                    << (reported < 0 ? "it reached none" : "it last reached iteration " + std::to_string(reported)) << ")";
        if (behind.empty() && m_impl->lastHeartbeat >= 0)
            message << "; every rank reached iteration " << m_impl->lastHeartbeat << ", so one died or hung inside it";
    } catch (const std::exception&) {
        message << "; rank 0 (which holds the group's store) is unreachable";
    }
    message << " (" << messageOf(e) << ")";
    throw DistributedError(message.str());
}

void DataParallel::heartbeat(int64_t iteration)
{
    if (!m_group.distributed())
        return;
    m_impl->lastHeartbeat = iteration;
    const std::string text = std::to_string(iteration);
    collective("reporting progress to the group's store", [&] {
        m_impl->store->set(kAlivePrefix + std::to_string(m_group.rank), std::vector<uint8_t>(text.begin(), text.end()));
    });
}

void DataParallel::broadcastModule(torch::nn::Module& module)
{
    if (!m_group.distributed())
        return;
    torch::NoGradGuard noGrad;
    std::vector<at::Tensor> tensors = module.parameters();
    for (const auto& buffer : module.buffers())
        tensors.push_back(buffer);
    for (auto& tensor : tensors) {
        // Broadcast works on contiguous storage; parameters are, but a view would not write back.
        at::Tensor staging = tensor.is_contiguous() ? tensor : tensor.contiguous();
        broadcast(staging);
        if (!staging.is_same(tensor))
            tensor.copy_(staging);
    }
}

void DataParallel::averageGradients(const std::vector<at::Tensor>& parameters)
{
    if (!m_group.distributed())
        return;
    torch::NoGradGuard noGrad;
    std::vector<at::Tensor> grads;
    grads.reserve(parameters.size());
    for (const auto& p : parameters) {
        at::Tensor& grad = const_cast<at::Tensor&>(p).mutable_grad();
        if (!grad.defined())
            grad = torch::zeros_like(p);
        grads.push_back(grad);
    }
    // Buckets of consecutive gradients of one dtype and device: one flat all-reduce each instead of one per tensor.
    size_t begin = 0;
    while (begin < grads.size()) {
        size_t end = begin;
        int64_t bytes = 0;
        while (end < grads.size() && grads[end].scalar_type() == grads[begin].scalar_type()
            && grads[end].device() == grads[begin].device()
            && (end == begin || bytes + grads[end].numel() * static_cast<int64_t>(grads[end].element_size()) <= kBucketBytes)) {
            bytes += grads[end].numel() * static_cast<int64_t>(grads[end].element_size());
            ++end;
        }
        std::vector<at::Tensor> flat;
        for (size_t i = begin; i < end; ++i)
            flat.push_back(grads[i].reshape({ -1 }));
        at::Tensor bucket = torch::cat(flat);
        sum(bucket);
        bucket.div_(static_cast<double>(m_group.worldSize));
        int64_t offset = 0;
        for (size_t i = begin; i < end; ++i) {
            const int64_t n = grads[i].numel();
            grads[i].copy_(bucket.narrow(0, offset, n).view_as(grads[i]));
            offset += n;
        }
        begin = end;
    }
}

void DataParallel::collective(const std::string& what, const std::function<void()>& call)
{
    // A c10d error (a peer closed the connection, a timeout) comes out of Work::wait() as an exception.
    try {
        call();
    } catch (const std::exception& e) {
        fail(what, e);
    }
}

void DataParallel::sum(at::Tensor& values)
{
    if (!m_group.distributed())
        return;
    std::vector<at::Tensor> tensors { values };
    collective("all-reduce", [&] { m_impl->backend->allreduce(tensors)->wait(); });
}

void DataParallel::broadcast(at::Tensor& values)
{
    if (!m_group.distributed())
        return;
    std::vector<at::Tensor> tensors { values };
    collective("broadcast from rank 0", [&] { m_impl->backend->broadcast(tensors)->wait(); });
}

std::vector<at::Tensor> DataParallel::gatherAll(const at::Tensor& value)
{
    if (!m_group.distributed())
        return { value };
    std::vector<at::Tensor> inputs { value.contiguous() };
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < m_group.worldSize; ++r)
        outputs[0].push_back(torch::empty_like(inputs[0]));
    collective("all-gather", [&] { m_impl->backend->allgather(outputs, inputs)->wait(); });
    return outputs[0];
}

uint64_t rankSeed(uint64_t seed, int rank)
{
    // Rank 0 keeps the seed so a group of one draws exactly as a plain run; the others are far from it.
    return rank == 0 ? seed : splitmix64(seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank));
}

} // namespace dr2
