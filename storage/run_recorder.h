#pragma once

#include "storage/run_records.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace dr2 {

/// Options of a RunRecorder.
struct RunRecorderOptions {
    /// The run's HDF5 file (probes, heatmaps, memory timeline); empty: no array file.
    std::string arraysPath;
    /// When continuing a run (RunRecord::id set) whose HDF5 file exists: drop what that file recorded after this
    /// iteration (RunArrayFile::discardAfter), because the resumed run records those iterations again. Scalars
    /// in the database need no such step: a scalar at a stored iteration is replaced.
    std::optional<int64_t> keepArraysUpTo;
    /// Minimum time between two commits (so at most 1000 / commitIntervalMs commits per second), unless
    /// flush() is called or the queue is half full.
    std::chrono::milliseconds commitInterval { 250 };
    /// Most items waiting to be written. A push into a full queue waits for the writer (it never drops data).
    size_t queueCapacity = size_t(1) << 20;
};

/// Counters of a recorder, for benchmarks and diagnostics.
struct RunRecorderStats {
    uint64_t itemsPushed = 0;
    uint64_t itemsCommitted = 0;
    uint64_t commits = 0;
    uint64_t blockedPushes = 0; ///< pushes that found the queue full and waited
};

/// Records one run into the run database (and its HDF5 file) from a training thread.
///
/// The add* calls only append to an in-memory queue under a mutex; a background thread writes the queue in
/// one SQLite transaction per commit interval and flushes the HDF5 file after each batch that wrote to it
/// (so every probe and evaluation boundary is on disk within one interval). Readers elsewhere (the GUI, the
/// CLI) read the database while it writes (WAL). If the process dies, what was committed stays, and the next
/// RunStore to open the database marks the run `interrupted`.
///
/// A write error (full disk, ...) stops the writer; the next add*, flush() or close() throws it.
class RunRecorder {
public:
    /// Opens the database at `databasePath`. A run with id 0 is created (status `running`); a run with an
    /// existing id is resumed (status `running` again, appending; its HDF5 file is reopened if it exists).
    RunRecorder(const std::string& databasePath, const RunRecord& run, RunRecorderOptions options = {});
    /// Closes as `failed` if close() was not called (an exception unwound the training loop).
    ~RunRecorder();
    RunRecorder(const RunRecorder&) = delete;
    RunRecorder& operator=(const RunRecorder&) = delete;

    /// The run's id in the database.
    int64_t runId() const { return m_runId; }

    /// Queues one scalar value.
    void addScalar(int64_t iteration, const std::string& name, double value);
    /// Queues several values at one iteration.
    void addScalars(int64_t iteration, const std::vector<std::pair<std::string, double>>& values);
    /// Queues an evaluation.
    void addEvaluation(EvaluationRecord evaluation);
    /// Queues a probe (database row, and a row in the HDF5 file when there is one).
    void addProbe(ProbeRecord probe);
    /// Queues a heatmap for the HDF5 file (ignored without one).
    void addHeatmap(HeatmapRecord heatmap);
    /// Queues a memory sample for the HDF5 timeline (ignored without one) and tracks the run's peak.
    void addMemorySample(const MemorySample& sample);
    /// Queues a log line.
    void addEvent(EventRecord event);
    /// Queues an artifact.
    void addArtifact(ArtifactRecord artifact);

    /// Blocks until everything queued before the call is committed (and the HDF5 file flushed).
    void flush();
    /// Flushes, stops the writer, records the final status, metrics and peak memory, hashes the HDF5 file.
    void close(RunStatus status, const std::string& finalMetricsJson = "{}");
    /// Counters so far.
    RunRecorderStats stats() const;

private:
    struct Pending;
    template <typename Append> void push(Append&& append, size_t items);
    void writerLoop();
    void throwIfFailed() const;

    std::string m_databasePath;
    RunRecorderOptions m_options;
    int64_t m_runId = 0;
    int64_t m_arraysArtifactId = 0;

    mutable std::mutex m_mutex;
    std::condition_variable m_wakeWriter;
    std::condition_variable m_progress; // committed or space available
    std::unique_ptr<Pending> m_pending;
    uint64_t m_pushedSequence = 0;
    uint64_t m_committedSequence = 0;
    uint64_t m_flushTarget = 0; // highest sequence a flush() waits for
    bool m_stopping = false;
    bool m_closed = false;
    std::string m_error;
    std::optional<int64_t> m_peakMemory;
    RunRecorderStats m_stats;

    struct Writer;
    std::unique_ptr<Writer> m_writer; // the store and array file, used only by the writer thread
    std::thread m_thread;
};

} // namespace dr2
