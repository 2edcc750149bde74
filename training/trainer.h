#pragma once

#include "core/random_stream.h"
#include "training/data_parallel.h"
#include "training/network.h"
#include "training/train_config.h"
#include "training/train_events.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace dr2 {

class DataLoader;

/// Runs one training run (any strategy of Table 2) and reports to observers. The same Trainer runs under
/// the GUI's worker thread and the CLI. pause(), resume() and cancel() may be called from any thread and
/// take effect at the next iteration boundary.
///
/// Data parallel (setWorkerGroup): every rank runs a Trainer on the same config; each trains on its shard of every
/// batch (optim.batch_size per rank), gradients are averaged after the whole backward, evaluation sums are added
/// over ranks, and the decisions probes make (automatic end point, segment lengths) are rank 0's, broadcast. Only
/// rank 0 tells observers what happens and writes checkpoints; every rank hears onFinished and error logs. A
/// cancel() on any rank stops all of them after the same iteration; pause() is for a group of one.
class Trainer {
public:
    explicit Trainer(TrainConfig config);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /// Observers receive events on the thread that calls run(); they must outlive it.
    void addObserver(TrainObserver* observer);
    /// Continue from a checkpoint directory written by an earlier run of the same config (and world size).
    void resumeFrom(const std::string& checkpointDir);
    /// Train as one rank of a data-parallel group (default: a group of one). Call before run().
    void setWorkerGroup(const WorkerGroup& group) { m_group = group; }
    const WorkerGroup& workerGroup() const { return m_group; }

    /// Trains until done, cancelled or failed. Errors in the config or data throw before training starts;
    /// a NaN/Inf loss or gradient ends the run with status "failed" (the last good checkpoint is kept).
    RunFinishedEvent run();

    void pause();
    void resume();
    void cancel();
    bool paused() const { return m_paused.load(); }

    /// The network (after run(): the trained weights). Null before run() has built it.
    Network model() const { return m_model; }
    const TrainConfig& config() const { return m_config; }
    /// The schedule in effect (after run() has resolved τ and any automatic end point).
    const CoefficientSchedule* schedule() const { return m_schedule.get(); }

    /// File name of the resumable checkpoint inside a checkpoint directory.
    static constexpr const char* kCheckpointFile = "last.pt";

private:
    struct State;
    struct Session;
    /// Calls `call(observer)` for every observer, on rank 0 only (the other ranks' observers hear onFinished and
    /// errors).
    template <class Call> void notify(const Call& call);
    bool leader() const { return !m_parallel || m_parallel->leader(); }
    GradProbeOptions probeOptions() const;
    /// Whether the run stops: cancel() in a group of one; in a group, the cancel all ranks agreed on in the last
    /// step (a cancel that lands on one rank between two steps must not make it leave the others waiting).
    bool stopping() const { return m_group.distributed() ? m_stopAgreed : m_cancelled.load(); }
    void emitLog(const std::string& level, const std::string& text);
    bool waitWhilePaused();
    std::unique_ptr<Session> prepare();
    void announce(const Session& session, const State& state);
    void trainEpoch(State& state, Session& session);
    IterationEvent step(State& state, Session& session);
    void afterStep(State& state, Session& session, int64_t iteration);
    void evaluateEpoch(State& state, Session& session);
    void chooseAutoEnd(const GradProbeTarget& target);
    void chooseSegments(int64_t iteration, const GradProbeTarget& target);
    EvaluationEvent evaluate(DataLoader& loader, int64_t iteration, int64_t epoch);
    void saveCheckpoint(const State& state);
    void loadCheckpoint(State& state);

    TrainConfig m_config;
    c10::Device m_device { c10::kCPU }; ///< parsed from m_config.device when run() starts
    std::vector<TrainObserver*> m_observers;
    std::string m_resumeDir;
    WorkerGroup m_group;
    std::unique_ptr<DataParallel> m_parallel; ///< the group's collectives, joined when run() starts
    Network m_model { nullptr };
    std::unique_ptr<CoefficientSchedule> m_schedule;
    std::unique_ptr<torch::optim::Optimizer> m_optimizer;
    /// The run's own random numbers (dropout, drop path; replayed by the reversible backward): a sweep or another
    /// run on another thread cannot disturb them. Made current for the whole of run().
    std::unique_ptr<RandomStream> m_stream;

    std::atomic<bool> m_paused { false };
    std::atomic<bool> m_cancelled { false };
    bool m_stopAgreed = false; ///< data parallel: some rank was cancelled before the last step's all-reduce
    std::mutex m_pauseMutex;
    std::condition_variable m_pauseChanged;

    int64_t m_segmentLength = 0;
    std::pair<double, double> m_segmentChosenAt { -1.0, -1.0 };
};

} // namespace dr2
