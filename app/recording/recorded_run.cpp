#include "app/recording/recorded_run.h"

#include "app/recording/run_recording_observer.h"
#include "core/architecture_record.h"
#include "core/version.h"
#include "storage/run_store.h"
#include "training/model_factory.h"
#include "training/trainer.h"

#include <filesystem>

namespace dr2 {

namespace {

bool sameFile(const std::string& a, const std::string& b)
{
    std::error_code error;
    return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

} // namespace

RunResults runResultsOf(const RunFinishedEvent& event)
{
    RunResults results;
    results.iterations = event.iterations;
    results.primaryMetric = event.primaryMetric;
    results.bestPrimary = event.bestPrimary;
    results.finalMetrics = event.finalMetrics;
    results.finalLoss = event.finalLoss;
    results.seconds = event.seconds;
    results.secondsPerIteration = event.secondsPerIteration;
    results.peakBytes = event.peakBytes;
    results.peakStepBytes = event.peakStepBytes;
    return results;
}

std::map<std::string, std::string> runWeightsMetadata(
    const TrainConfig& config, int64_t runId, int64_t iterations, const std::string& sourceSha256)
{
    namespace key = metadata_key;
    std::map<std::string, std::string> metadata { { key::kStrategy, toString(config.strategy) },
        { key::kRun, config.name }, { key::kIterations, std::to_string(iterations) }, { key::kVersion, DR2_VERSION } };
    if (runId > 0)
        metadata[key::kRunId] = std::to_string(runId);
    const std::string source = sourceCheckpointOf(config);
    if (!source.empty()) {
        metadata[key::kSourceCheckpoint] = source;
        metadata[key::kSourceSha256] = sourceSha256;
    }
    return metadata;
}

RecordedRun::RecordedRun(TrainConfig config, RecordedRunOptions options)
    : m_config(std::move(config))
    , m_options(std::move(options))
{
    m_trainer = std::make_unique<Trainer>(m_config);
    m_trainer->setWorkerGroup(m_options.workerGroup);
    if (!m_options.resumeDir.empty())
        m_trainer->resumeFrom(m_options.resumeDir);
    if (m_options.databasePath.empty() || m_options.workerGroup.rank != 0)
        return;
    m_recording = std::make_unique<RunRecordingObserver>(m_options.databasePath, m_options.filesDir);
    m_recording->setInitialTags(m_options.tags);
    if (!m_options.resumeDir.empty()) {
        if (auto link = RunRecordingObserver::readRunLink(m_options.resumeDir)) {
            const std::string& db = m_options.databasePath;
            if (!sameFile(link->databasePath, db))
                m_notes.push_back("run " + std::to_string(link->runId) + " of '" + m_options.resumeDir
                    + "' is recorded in '" + link->databasePath + "', not in '" + db
                    + "': recording the resumed run as a new run");
            else if (!RunStore(db, /*createIfMissing=*/false).findRun(link->runId))
                m_notes.push_back("run " + std::to_string(link->runId) + " named by '" + m_options.resumeDir
                    + "/run.json' is no longer in '" + db + "': recording the resumed run as a new run");
            else
                m_recording->attachToRun(link->runId);
        }
    }
    if (const std::string source = sourceCheckpointOf(m_config); !source.empty())
        m_recording->hashSourceInBackground(source);
    // The recorder goes first so the run exists (and has its id) when other observers hear onStarted.
    m_recording->recordFinalWeightsOf(m_trainer.get());
    m_trainer->addObserver(m_recording.get());
}

RecordedRun::~RecordedRun() = default;

void RecordedRun::addObserver(TrainObserver* observer)
{
    m_trainer->addObserver(observer);
}

RecordedRunResult RecordedRun::run()
{
    RecordedRunResult result;
    try {
        result.finished = m_trainer->run();
    } catch (...) {
        // Trainer::run threw before or outside the loop (bad data, unwritable checkpoint): close the run as
        // failed now rather than when this object goes.
        m_recording.reset();
        throw;
    }
    if (m_recording) {
        result.runId = m_recording->runId();
        result.databasePath = m_recording->databasePath();
        result.finalWeightsPath = m_recording->finalWeightsPath();
        result.recordingError = m_recording->error();
    }
    const std::string out = !m_options.outputPath.empty() ? m_options.outputPath : m_trainer->config().output;
    if (!out.empty() && result.finished.outcome != RunOutcome::Failed && m_options.workerGroup.rank == 0) {
        const std::string sha = m_recording ? m_recording->sourceSha256() : std::string();
        saveNativeCheckpoint(out, *m_trainer->model(),
            runWeightsMetadata(m_trainer->config(), result.runId, result.finished.iterations, sha));
        result.outputPath = out;
        if (m_recording)
            m_recording->recordArtifact(out, "checkpoint");
    }
    return result;
}

} // namespace dr2
