#pragma once

#include "training/train_events.h"

#include <atomic>
#include <future>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

class RunRecorder;
class Trainer;

/// Records the Trainer's events of one run into the run database (storage/RunStore) and the run's HDF5 file.
///
/// Shared by the GUI and the CLI: add it to a Trainer with addObserver(). Every callback only pushes onto the
/// RunRecorder's queue (a background thread commits a few times per second), except onStarted (creates the
/// run row, opens the HDF5 file) and onFinished (flushes, closes the run, writes the final weights when a
/// trainer was given with recordFinalWeightsOf()).
///
/// Files of a run go to a per-run folder FILES_DIR/run-ID/ (arrays.h5, final.safetensors, previews/); FILES_DIR defaults
/// to a `runs` folder next to the database. When the config names a checkpoint directory, a `run.json` there
/// records the run id and database, so `train --resume DIR` continues the same run.
///
/// Errors: onStarted throws (nothing has been trained yet: the database path is wrong or not writable).
/// Later write errors stop the recording (the run is closed `failed` with an error event when possible) but
/// never the training; error() says what happened.
class RunRecordingObserver : public TrainObserver {
public:
    /// Records into the database at `databasePath` (created with its folder if missing); run files go under
    /// `filesDir` (empty: DIR_OF_DATABASE/runs).
    explicit RunRecordingObserver(std::string databasePath, std::string filesDir = {});
    /// Closes the run as `failed` if the Trainer never reported onFinished (it threw).
    ~RunRecordingObserver() override;
    RunRecordingObserver(const RunRecordingObserver&) = delete;
    RunRecordingObserver& operator=(const RunRecordingObserver&) = delete;

    /// Where run files go when no folder is given: a `runs` folder next to the database.
    static std::string defaultFilesDir(const std::string& databasePath);

    /// Continue an existing run (resume) instead of creating one; call before the Trainer runs. Throws
    /// naming the database when there is no such run.
    void attachToRun(int64_t runId);
    /// When the run ends (finished or cancelled, not failed), save `trainer`'s model weights as
    /// RUN_DIR/final.safetensors and record them as a `weights` artifact with their SHA-256. The trainer
    /// must outlive the run.
    void recordFinalWeightsOf(const Trainer* trainer);
    /// Tags a run created by this observer starts with (e.g. the study it belongs to); call before the Trainer runs.
    /// A resumed run keeps the tags it has.
    void setInitialTags(std::vector<std::string> tags) { m_initialTags = std::move(tags); }

    /// Starts hashing the run's source checkpoint on another thread now, so onStarted (on the training thread) need
    /// not wait for it; onStarted hashes whatever the event names if this was not called or named another file.
    void hashSourceInBackground(const std::string& checkpointPath);

    /// The run's id in the database; 0 before onStarted (or attachToRun).
    int64_t runId() const;
    /// The database file.
    const std::string& databasePath() const { return m_databasePath; }
    /// The folder of this run's files (FILES_DIR/run-ID); empty before onStarted.
    std::string runDirectory() const;
    /// The final weights written by onFinished, empty if none.
    std::string finalWeightsPath() const;
    /// SHA-256 of the run's source checkpoint (empty before onStarted or without one).
    std::string sourceSha256() const;
    /// The first recording error, empty if none.
    std::string error() const;

    /// Records a file of the run (hashed now, on the calling thread) as an artifact of `kind`
    /// ("checkpoint", "export", "weights", ...). Works during and after the run.
    void recordArtifact(const std::string& path, const std::string& kind);

    void onStarted(const RunStartedEvent& event) override;
    void onIteration(const IterationEvent& event) override;
    void onEvaluation(const EvaluationEvent& event) override;
    void onProbe(const ProbeEvent& event) override;
    /// Copies the preview and writes it on a background thread (PNG encoding of large scenes takes a while) to
    /// RUN_DIR/previews/iter_N/ (writeRunPreview()), registered as a `preview` artifact; one write at a time.
    void onPreview(const PredictionPreviewEvent& event) override;
    void onSegmentChange(const SegmentEvent& event) override;
    void onAutoEnd(const AutoEndEvent& event) override;
    void onLog(const std::string& level, const std::string& text) override;
    void onFinished(const RunFinishedEvent& event) override;

    /// Where a run's link to its database is written inside a Trainer checkpoint directory.
    static constexpr const char* kRunLinkFile = "run.json";
    /// What a checkpoint directory's run.json says: the run id and the database it lives in.
    struct RunLink {
        int64_t runId = 0;
        std::string databasePath;
    };
    /// Reads DIR/run.json; nullopt when there is none. Throws naming the file when it is malformed.
    static std::optional<RunLink> readRunLink(const std::string& checkpointDir);
    /// Writes DIR/run.json atomically.
    static void writeRunLink(const std::string& checkpointDir, const RunLink& link);

private:
    template <typename Record> void record(Record&& record);
    void fail(const std::string& what);
    void waitForPreview();

    std::string m_databasePath;
    std::string m_filesDir;
    const Trainer* m_trainer = nullptr;
    int64_t m_attachedRunId = 0;
    std::vector<std::string> m_initialTags;

    mutable std::mutex m_mutex; // guards the strings read from other threads (GUI)
    std::atomic<int64_t> m_runId { 0 };
    std::string m_runDirectory;
    std::string m_finalWeights;
    std::string m_error;
    std::string m_sourceSha256;

    std::unique_ptr<RunRecorder> m_recorder;
    std::string m_sourceHashPath;
    std::shared_future<std::string> m_sourceHash;
    std::future<void> m_previewWrite; // the preview being written, if any
};

} // namespace dr2
