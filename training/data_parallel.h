#pragma once

#include <c10/core/Device.h>
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace dr2 {

/// Where this process stands among the workers of one data-parallel run, in torchrun's terms. A process started
/// without WORLD_SIZE (or with WORLD_SIZE=1) is a group of one and talks to nobody.
struct WorkerGroup {
    int rank = 0;
    int worldSize = 1;
    int localRank = 0;
    std::string masterAddr = "127.0.0.1"; ///< where rank 0's TCPStore listens
    int masterPort = 29500;
    /// How long a collective (or the rendezvous) may wait for a peer before the run fails naming it.
    std::chrono::milliseconds timeout { std::chrono::seconds(60) };

    bool distributed() const { return worldSize > 1; }
    /// From RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT and DR2_DIST_TIMEOUT (seconds). Throws
    /// std::invalid_argument naming the variable when one is malformed or they contradict each other.
    static WorkerGroup fromEnvironment();
};

/// A collective failed: a peer died, hung past the timeout, or could not be reached. The message names the rank
/// that stopped answering when it is known (from the group's heartbeats).
struct DistributedError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The collectives a data-parallel Trainer needs, over torch.distributed's c10d (Gloo on CPU; NCCL on CUDA when
/// the LibTorch has it). All ranks must make the same calls in the same order. With a group of one every call is
/// a no-op, so the Trainer has one code path.
///
/// Gradients are averaged by averageGradients() after the whole backward, not by per-parameter hooks: the
/// reversible backward accumulates .grad inside nested backward calls, so no hook fires at a point where a
/// parameter's gradient is final.
class DataParallel {
public:
    /// Joins the group: rank 0 starts the TCPStore at masterAddr:masterPort, every rank connects and waits for the
    /// others (at most `timeout`). Throws DistributedError when the rendezvous fails.
    DataParallel(const WorkerGroup& group, const c10::Device& device);
    ~DataParallel();
    DataParallel(const DataParallel&) = delete;
    DataParallel& operator=(const DataParallel&) = delete;

    int rank() const { return m_group.rank; }
    int worldSize() const { return m_group.worldSize; }
    bool leader() const { return m_group.rank == 0; }
    const WorkerGroup& group() const { return m_group; }
    /// "gloo" / "nccl", or "none" for a group of one.
    std::string backend() const;

    /// Copies rank 0's parameters and buffers to every rank.
    void broadcastModule(torch::nn::Module& module);
    /// Averages the gradients of `parameters` over ranks, in buckets of about 25 MiB (a missing gradient counts as
    /// zeros and is materialised, so every rank reduces the same buffers).
    void averageGradients(const std::vector<at::Tensor>& parameters);
    /// Sums `values` over ranks, in place.
    void sum(at::Tensor& values);
    /// Replaces `values` on every rank with rank 0's.
    void broadcast(at::Tensor& values);
    /// Every rank's `value` (same shape and dtype on all ranks), in rank order.
    std::vector<at::Tensor> gatherAll(const at::Tensor& value);

    /// Tells the group this rank has reached `iteration`'s first collective (read back when a collective fails, to
    /// say which rank the others waited for).
    void heartbeat(int64_t iteration);

private:
    struct Impl;
    /// Runs `call` (issue a collective and wait for it); its failure becomes a DistributedError naming `what`.
    void collective(const std::string& what, const std::function<void()>& call);
    [[noreturn]] void fail(const std::string& what, const std::exception& e) const;

    WorkerGroup m_group;
    std::unique_ptr<Impl> m_impl;
};

/// The stream seed of `rank`: the run's own seed on rank 0 (so a group of one draws as before), a derived one on
/// the others (their dropout and drop-path masks must differ, or the ranks would drop the same units).
uint64_t rankSeed(uint64_t seed, int rank);

} // namespace dr2
