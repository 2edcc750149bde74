#pragma once

#include "core/random_stream.h"
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
class Trainer {
public:
    explicit Trainer(TrainConfig config);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /// Observers receive events on the thread that calls run(); they must outlive it.
    void addObserver(TrainObserver* observer);
    /// Continue from a checkpoint directory written by an earlier run of the same config.
    void resumeFrom(const std::string& checkpointDir);

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
    void emitLog(const std::string& level, const std::string& text);
    bool waitWhilePaused();
    void chooseAutoEnd(const GradProbeTarget& target);
    void chooseSegments(int64_t iteration, const GradProbeTarget& target);
    EvaluationEvent evaluate(DataLoader& loader, int64_t iteration, int64_t epoch);
    void saveCheckpoint(const State& state);
    void loadCheckpoint(State& state);

    TrainConfig m_config;
    c10::Device m_device { c10::kCPU }; ///< parsed from m_config.device when run() starts
    std::vector<TrainObserver*> m_observers;
    std::string m_resumeDir;
    Network m_model { nullptr };
    std::unique_ptr<CoefficientSchedule> m_schedule;
    std::unique_ptr<torch::optim::Optimizer> m_optimizer;
    /// The run's own random numbers (dropout, drop path; replayed by the reversible backward): a sweep or another
    /// run on another thread cannot disturb them. Made current for the whole of run().
    std::unique_ptr<RandomStream> m_stream;

    std::atomic<bool> m_paused { false };
    std::atomic<bool> m_cancelled { false };
    std::mutex m_pauseMutex;
    std::condition_variable m_pauseChanged;

    int64_t m_segmentLength = 0;
    std::pair<double, double> m_segmentChosenAt { -1.0, -1.0 };
};

} // namespace dr2
