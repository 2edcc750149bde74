#include "app/recording/run_recording_observer.h"

#include "app/recording/recorded_run.h"
#include "app/recording/run_metrics.h"
#include "app/recording/run_preview.h"

#include "core/process_memory.h"
#include "core/version.h"
#include "storage/atomic_file.h"
#include "storage/run_recorder.h"
#include "storage/run_store.h"
#include "storage/sha256.h"
#include "training/model_factory.h"
#include "training/trainer.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dr2 {
namespace {

    // JSON has no NaN: a non-finite number becomes null (as the store does for metrics).
    json number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

    RunStatus statusOf(RunOutcome outcome)
    {
        switch (outcome) {
        case RunOutcome::Finished:
            return RunStatus::Finished;
        case RunOutcome::Cancelled:
            return RunStatus::Cancelled;
        case RunOutcome::Failed:
            break;
        }
        return RunStatus::Failed;
    }

    std::string formatDouble(double value)
    {
        std::ostringstream out;
        out.precision(6);
        out << value;
        return out.str();
    }

    int64_t fileBytes(const std::string& path)
    {
        std::error_code error;
        const auto size = fs::file_size(path, error);
        return error ? 0 : static_cast<int64_t>(size);
    }

} // namespace

RunRecordingObserver::RunRecordingObserver(std::string databasePath, std::string filesDir)
    : m_databasePath(std::move(databasePath))
    , m_filesDir(std::move(filesDir))
{
    if (m_databasePath.empty())
        throw std::invalid_argument("run recording: the database path is empty");
    if (m_filesDir.empty())
        m_filesDir = defaultFilesDir(m_databasePath);
}

RunRecordingObserver::~RunRecordingObserver()
{
    waitForPreview(); // it records its artifact through m_recorder
    // RunRecorder's destructor closes an unfinished run as `failed` with an error event.
    m_recorder.reset();
}

std::string RunRecordingObserver::defaultFilesDir(const std::string& databasePath)
{
    const fs::path parent = fs::path(databasePath).parent_path();
    return ((parent.empty() ? fs::path(".") : parent) / "runs").string();
}

void RunRecordingObserver::attachToRun(int64_t runId)
{
    RunStore store(m_databasePath, /*createIfMissing=*/false);
    if (!store.findRun(runId))
        throw std::invalid_argument("run database '" + m_databasePath + "': no run with id " + std::to_string(runId)
            + " to resume (was it deleted?)");
    m_attachedRunId = runId;
}

void RunRecordingObserver::recordFinalWeightsOf(const Trainer* trainer) { m_trainer = trainer; }

void RunRecordingObserver::hashSourceInBackground(const std::string& checkpointPath)
{
    m_sourceHashPath = checkpointPath;
    m_sourceHash = std::async(std::launch::async, [checkpointPath] { return sha256OfFile(checkpointPath); });
}

int64_t RunRecordingObserver::runId() const { return m_runId.load(); }

std::string RunRecordingObserver::runDirectory() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_runDirectory;
}

std::string RunRecordingObserver::finalWeightsPath() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_finalWeights;
}

std::string RunRecordingObserver::sourceSha256() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_sourceSha256;
}

std::string RunRecordingObserver::error() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_error;
}

void RunRecordingObserver::fail(const std::string& what)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_error.empty())
        m_error = what;
}

template <typename Record> void RunRecordingObserver::record(Record&& record)
{
    if (!m_recorder || !error().empty())
        return;
    try {
        record(*m_recorder);
    } catch (const std::exception& exception) {
        // The recorder's writer has stopped; training goes on, the run is closed `failed` in onFinished.
        fail(exception.what());
    }
}

void RunRecordingObserver::onStarted(const RunStartedEvent& event)
{
    if (m_recorder)
        throw std::logic_error("run recording: onStarted called twice (one observer records one run)");
    RunRecord run;
    run.name = event.name;
    run.strategy = event.strategy;
    run.configJson = event.configJson;
    run.modelSummary = event.modelSummary;
    run.sourceCheckpoint = event.sourceCheckpoint;
    run.tags = m_initialTags;
    const RunSetup& setup = event.setup;
    run.setupJson = runSetupJson({ setup.backbone, setup.task, setup.dataset, setup.dataRoot, setup.classes });
    run.primaryMetric = event.metrics.empty() ? std::string() : event.metrics.front().name;
    std::vector<RunMetricInfo> metrics;
    for (const MetricInfo& m : event.metrics)
        metrics.push_back({ m.name, m.label, m.higherIsBetter, m.fraction });
    run.metricsJson = runMetricsJson(metrics);
    if (!run.sourceCheckpoint.empty()) {
        // Usually hashed already, while the Trainer loaded its data (hashSourceInBackground).
        run.sourceSha256 = m_sourceHashPath == run.sourceCheckpoint && m_sourceHash.valid() ? m_sourceHash.get()
                                                                                            : sha256OfFile(run.sourceCheckpoint);
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_sourceSha256 = run.sourceSha256;
    }
    const std::string& checkpointDir = event.checkpointDir;

    int64_t id = m_attachedRunId;
    if (id == 0) {
        RunStore store(m_databasePath);
        id = store.createRun(run);
    }
    const fs::path runDir = fs::path(m_filesDir) / ("run-" + std::to_string(id));
    std::error_code ignored;
    fs::create_directories(runDir, ignored);
    if (!fs::is_directory(runDir))
        throw std::runtime_error("run files folder '" + runDir.string() + "': cannot create it (check --db and "
            "the permissions of '" + m_filesDir + "')");

    RunRecorderOptions options;
    options.arraysPath = (runDir / "arrays.h5").string();
    if (m_attachedRunId != 0) {
        // Keep appending to the file the run started with, even if the files folder moved since.
        RunStore store(m_databasePath, /*createIfMissing=*/false);
        for (const ArtifactRecord& artifact : store.artifacts(id))
            if (artifact.kind == "arrays")
                options.arraysPath = artifact.path;
        // Iterations from the checkpoint on are trained (and recorded) again.
        options.keepArraysUpTo = event.startIteration - 1;
    }
    RunRecord existing;
    existing.id = id; // RunRecorder reopens an existing id as `running`, written by this process
    m_recorder = std::make_unique<RunRecorder>(m_databasePath, existing, options);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_runDirectory = runDir.string();
    }
    m_runId = id;

    if (!checkpointDir.empty())
        writeRunLink(checkpointDir, { id, fs::absolute(m_databasePath).lexically_normal().string() });

    std::ostringstream line;
    line << (event.startIteration > 0 ? "resumed at iteration " + std::to_string(event.startIteration) : "started")
         << ": " << event.modelSummary << "; " << event.parameters << " parameters (" << event.trainableParameters
         << " trainable), " << event.branches << " branches; " << event.totalIterations << " iterations ("
         << event.iterationsPerEpoch << " per epoch); " << event.device << ", " << event.threads << " threads"
         << (event.recomputeOverlap ? ", recompute overlapped on a second thread" : "") << "; dr2net " << DR2_VERSION;
    json path = json::array();
    for (const auto& [iteration, c] : event.plannedPath)
        path.push_back({ iteration, c.alpha, c.beta });
    record([&](RunRecorder& recorder) {
        recorder.addEvent({ {}, event.startIteration, "info", line.str() });
        if (!path.empty())
            recorder.addEvent({ {}, event.startIteration, "debug", "planned (iteration, alpha, beta) path: " + path.dump() });
    });
}

void RunRecordingObserver::onIteration(const IterationEvent& event)
{
    record([&](RunRecorder& recorder) {
        recorder.addScalars(event.iteration,
            { { "loss", event.loss }, { "lr", event.learningRate }, { "alpha", event.alpha }, { "beta", event.beta },
                { "grad_norm", event.gradNorm }, { "step_s", event.stepSeconds },
                { "samples_per_s", event.samplesPerSecond }, { "current_bytes", double(event.currentBytes) },
                { "peak_bytes", double(event.peakBytes) }, { "held_bytes", double(event.heldBytes) },
                { "segment_length", double(event.segmentLength) },
                // What `top` shows, beside the tensor bytes: sampled here so the Trainer stays untouched.
                { "rss_bytes", double(processResidentBytes()) } });
        recorder.addMemorySample({ event.iteration, event.currentBytes, event.peakBytes });
    });
}

void RunRecordingObserver::onEvaluation(const EvaluationEvent& event)
{
    record([&](RunRecorder& recorder) {
        EvaluationRecord evaluation;
        evaluation.iteration = event.iteration;
        evaluation.split = "val";
        evaluation.metrics = { event.metrics.begin(), event.metrics.end() };
        evaluation.metrics["samples"] = double(event.samples);
        evaluation.metrics["epoch"] = double(event.epoch);
        recorder.addEvaluation(std::move(evaluation));
    });
}

void RunRecordingObserver::onProbe(const ProbeEvent& event)
{
    record([&](RunRecorder& recorder) {
        const GradErrorReport& report = event.report;
        ProbeRecord probe;
        probe.iteration = event.iteration;
        probe.alpha = report.alpha;
        probe.beta = report.beta;
        probe.metrics = { { "mse", report.overall.mse }, { "max_abs", report.overall.maxAbs },
            { "rel_l2", report.overall.relL2 }, { "outside_mse", report.outsideStack.mse } };
        std::vector<double> mse, maxAbs, relL2;
        for (const GradError& branch : report.perBranch) {
            mse.push_back(branch.mse);
            maxAbs.push_back(branch.maxAbs);
            relL2.push_back(branch.relL2);
        }
        if (!report.perBranch.empty())
            probe.perBranch = { { "mse", mse }, { "max_abs", maxAbs }, { "rel_l2", relL2 } };
        recorder.addProbe(std::move(probe));
        if (!report.finite)
            recorder.addEvent({ {}, event.iteration, "warning", "gradient probe saw NaN or Inf" });
    });
}

void RunRecordingObserver::onPreview(const PredictionPreviewEvent& event)
{
    if (!m_recorder || !error().empty())
        return;
    // Copy on the training thread (the event lives for this call only), encode and fsync on another. Waiting for
    // the previous write bounds the memory to two previews; evaluations are far enough apart that it is done.
    waitForPreview();
    RunPreview preview = runPreviewOf(event);
    const std::string folder = runPreviewFolder(runDirectory(), preview.iteration);
    m_previewWrite = std::async(std::launch::async, [this, folder, preview = std::move(preview)] {
        try {
            recordArtifact(writeRunPreview(folder, preview), kPreviewArtifactKind);
        } catch (const std::exception& exception) {
            fail(std::string("recording the prediction preview: ") + exception.what());
        }
    });
}

void RunRecordingObserver::waitForPreview()
{
    if (m_previewWrite.valid())
        m_previewWrite.get(); // the task catches what it throws
}

void RunRecordingObserver::onSegmentChange(const SegmentEvent& event)
{
    record([&](RunRecorder& recorder) {
        recorder.addEvent({ {}, event.iteration, "info",
            "segment length " + std::to_string(event.segmentLength) + " at alpha " + formatDouble(event.alpha)
                + ", beta " + formatDouble(event.beta) + " (measured gradient MSE " + formatDouble(event.measuredMse)
                + ")" });
    });
}

void RunRecordingObserver::onAutoEnd(const AutoEndEvent& event)
{
    json probes = json::array();
    for (const auto& [point, mse] : event.probes)
        probes.push_back({ { "alpha", point.alpha }, { "beta", point.beta }, { "mse", number(mse) } });
    record([&](RunRecorder& recorder) {
        recorder.addEvent({ {}, std::nullopt, "info",
            "automatic end point alpha " + formatDouble(event.chosen.alpha) + ", beta " + formatDouble(event.chosen.beta)
                + " for target MSE " + formatDouble(event.targetMse) + "; probes " + probes.dump() });
    });
}

void RunRecordingObserver::onLog(const std::string& level, const std::string& text)
{
    record([&](RunRecorder& recorder) { recorder.addEvent({ {}, std::nullopt, level, text }); });
}

void RunRecordingObserver::onFinished(const RunFinishedEvent& event)
{
    waitForPreview(); // its artifact goes in before the run is closed
    if (!m_recorder)
        return;
    const RunStatus status = statusOf(event.outcome);
    if (!event.message.empty())
        record([&](RunRecorder& recorder) { recorder.addEvent({ {}, event.iterations, "error", event.message }); });
    if (!event.checkpointPath.empty() && fs::exists(event.checkpointPath))
        recordArtifact(event.checkpointPath, "checkpoint");
    if (m_trainer && status != RunStatus::Failed && m_trainer->model()) {
        const std::string path = (fs::path(runDirectory()) / "final.safetensors").string();
        try {
            const TrainConfig& config = m_trainer->config();
            saveNativeCheckpoint(
                path, *m_trainer->model(), runWeightsMetadata(config, runId(), event.iterations, sourceSha256()));
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_finalWeights = path;
            }
            recordArtifact(path, "weights");
        } catch (const std::exception& exception) {
            fail("saving the final weights to '" + path + "': " + exception.what());
        }
    }
    const std::string metrics = runResultsJson(runResultsOf(event));
    std::unique_ptr<RunRecorder> recorder = std::move(m_recorder);
    const std::string earlier = error();
    try {
        if (!earlier.empty())
            recorder->addEvent({ {}, event.iterations, "error", "recording failed: " + earlier });
    } catch (const std::exception&) {
    }
    try {
        // An earlier recording error makes RunRecorder::close() mark the run failed.
        recorder->close(earlier.empty() ? status : RunStatus::Failed, metrics);
    } catch (const std::exception& exception) {
        fail(exception.what());
    }
}

void RunRecordingObserver::recordArtifact(const std::string& path, const std::string& kind)
{
    ArtifactRecord artifact;
    artifact.path = fs::absolute(path).lexically_normal().string();
    artifact.kind = kind;
    try {
        artifact.sha256 = sha256OfFile(path);
        artifact.bytes = fileBytes(path);
    } catch (const std::exception& exception) {
        fail(exception.what());
        return;
    }
    if (m_recorder) {
        record([&](RunRecorder& recorder) { recorder.addArtifact(artifact); });
        return;
    }
    if (runId() == 0)
        throw std::logic_error("run recording: recordArtifact('" + path + "') before the run started");
    RunStore store(m_databasePath, /*createIfMissing=*/false);
    store.addArtifact(runId(), artifact);
}

std::optional<RunRecordingObserver::RunLink> RunRecordingObserver::readRunLink(const std::string& checkpointDir)
{
    const fs::path path = fs::path(checkpointDir) / kRunLinkFile;
    std::ifstream in(path);
    if (!in)
        return std::nullopt;
    const json link = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!link.is_object() || !link.contains("run_id") || !link["run_id"].is_number_integer()
        || !link.contains("database") || !link["database"].is_string())
        throw std::runtime_error("'" + path.string()
            + "': expected a JSON object {\"run_id\": integer, \"database\": string}; found something else "
              "(delete the file to record the resumed run as a new run)");
    return RunLink { link["run_id"].get<int64_t>(), link["database"].get<std::string>() };
}

void RunRecordingObserver::writeRunLink(const std::string& checkpointDir, const RunLink& link)
{
    std::error_code ignored;
    fs::create_directories(checkpointDir, ignored);
    const json body = { { "run_id", link.runId }, { "database", link.databasePath } };
    writeFileAtomically((fs::path(checkpointDir) / kRunLinkFile).string(), body.dump(2) + "\n");
}

} // namespace dr2
