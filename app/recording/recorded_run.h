#pragma once

#include "training/train_config.h"
#include "app/recording/run_metrics.h"
#include "training/data_parallel.h"
#include "training/train_events.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dr2 {

class RunRecordingObserver;
class Trainer;

/// Where and how a run is recorded; the same for the CLI's train/pretrain, the GUI's worker and the demo.
struct RecordedRunOptions {
    std::string databasePath; ///< the run database; empty: the run is not recorded
    std::string filesDir; ///< run files folder (empty: a `runs` folder next to the database)
    /// Continue from this Trainer checkpoint directory. Its run.json names the run it belongs to: when that run
    /// is in databasePath it is continued, else the resumed run is recorded as a new run (said in notes()).
    std::string resumeDir;
    /// Also write the final weights here (pretrain's output), recorded as a `checkpoint` artifact. Empty: the
    /// config's `output`, if any.
    std::string outputPath;
    /// Data parallel: the rank this process is. Only rank 0 records and writes files; the other ranks train.
    WorkerGroup workerGroup;
    /// Tags of a new run (`train --tag`; a study tags its runs with itself). A resumed run keeps its own.
    std::vector<std::string> tags;
};

/// What a recorded run produced.
struct RecordedRunResult {
    RunFinishedEvent finished;
    int64_t runId = 0; ///< 0 when not recorded
    std::string databasePath;
    std::string finalWeightsPath; ///< RUN_DIR/final.safetensors, empty if none was written
    std::string outputPath; ///< the extra weights file written (options.outputPath or config.output), or empty
    std::string recordingError; ///< the first recording error; the training itself went on
};

/// One run of the Trainer with its recording: creates (or, on resume, reopens) the run in the database, trains,
/// records every event, writes the final weights (RUN_DIR/final.safetensors, and the output file if asked) with
/// the same metadata, and closes the run. Observers added with addObserver() hear the events after the recorder,
/// so the run has its id when they see onStarted.
class RecordedRun {
public:
    /// Validates the config; throws std::invalid_argument on a bad config or an unusable database path.
    RecordedRun(TrainConfig config, RecordedRunOptions options);
    ~RecordedRun();
    RecordedRun(const RecordedRun&) = delete;
    RecordedRun& operator=(const RecordedRun&) = delete;

    /// For pause(), resume(), cancel() from any thread, and the trained model afterwards.
    Trainer& trainer() { return *m_trainer; }
    /// Null when the run is not recorded.
    const RunRecordingObserver* recording() const { return m_recording.get(); }
    /// What was decided before the run (e.g. "recording the resumed run as a new run: ...").
    const std::vector<std::string>& notes() const { return m_notes; }
    /// Observers after the recorder; they must outlive run().
    void addObserver(TrainObserver* observer);

    /// Trains (on the calling thread) until finished, cancelled or failed; throws what Trainer::run throws (a bad
    /// config or data before training starts).
    RecordedRunResult run();

private:
    TrainConfig m_config;
    RecordedRunOptions m_options;
    std::unique_ptr<Trainer> m_trainer;
    std::unique_ptr<RunRecordingObserver> m_recording;
    std::vector<std::string> m_notes;
};

/// A finished run's results in the stored vocabulary (app/recording/run_metrics.h): what the recorder writes as
/// final metrics and what `--json` prints when a run ends.
RunResults runResultsOf(const RunFinishedEvent& event);

/// The metadata every weights file of a run carries besides the architecture (strategy, run name and id,
/// iterations, source checkpoint and its hash, version).
std::map<std::string, std::string> runWeightsMetadata(
    const TrainConfig& config, int64_t runId, int64_t iterations, const std::string& sourceSha256);

} // namespace dr2
