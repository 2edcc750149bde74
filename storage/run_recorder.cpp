#include "storage/run_recorder.h"

#include "storage/run_array_file.h"
#include "storage/run_store.h"
#include "storage/sha256.h"

#include <stdexcept>
#include <sys/stat.h>

namespace dr2 {

struct RunRecorder::Pending {
    RunBatch batch;
    std::vector<HeatmapRecord> heatmaps;
    std::vector<MemorySample> memory;
    size_t items = 0;
};

struct RunRecorder::Writer {
    explicit Writer(const std::string& databasePath)
        : store(databasePath)
    {
    }
    RunStore store;
    std::unique_ptr<RunArrayFile> arrays;
};

namespace {

    bool fileExists(const std::string& path)
    {
        struct stat info { };
        return ::stat(path.c_str(), &info) == 0;
    }

    int64_t fileSize(const std::string& path)
    {
        struct stat info { };
        return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;
    }

} // namespace

RunRecorder::RunRecorder(const std::string& databasePath, const RunRecord& run, RunRecorderOptions options)
    : m_databasePath(databasePath)
    , m_options(std::move(options))
    , m_pending(std::make_unique<Pending>())
{
    if (m_options.queueCapacity < 2)
        throw std::invalid_argument(
            "RunRecorderOptions.queueCapacity: expected at least 2, found " + std::to_string(m_options.queueCapacity));
    m_writer = std::make_unique<Writer>(databasePath);
    RunStore& store = m_writer->store;
    const bool resume = run.id != 0;
    if (resume) {
        m_runId = run.id;
        store.reopenRun(m_runId);
    } else {
        m_runId = store.createRun(run);
    }
    if (!m_options.arraysPath.empty()) {
        const bool append = resume && fileExists(m_options.arraysPath);
        m_writer->arrays = std::make_unique<RunArrayFile>(
            m_options.arraysPath, append ? RunArrayFile::Mode::Append : RunArrayFile::Mode::Create, m_runId);
        if (append && m_options.keepArraysUpTo)
            m_writer->arrays->discardAfter(*m_options.keepArraysUpTo);
        for (const ArtifactRecord& artifact : store.artifacts(m_runId))
            if (artifact.kind == "arrays" && artifact.path == m_options.arraysPath)
                m_arraysArtifactId = artifact.id;
        if (m_arraysArtifactId == 0) {
            ArtifactRecord artifact;
            artifact.path = m_options.arraysPath;
            artifact.kind = "arrays";
            m_arraysArtifactId = store.addArtifact(m_runId, artifact);
        }
    }
    m_thread = std::thread([this] { writerLoop(); });
}

RunRecorder::~RunRecorder()
{
    if (m_closed)
        return;
    try {
        addEvent({ {}, std::nullopt, "error", "recorder destroyed before the run was closed" });
    } catch (...) {
    }
    try {
        close(RunStatus::Failed);
    } catch (...) {
        // Whatever close() could not write is lost; the run stays `running` and is marked interrupted later.
    }
    if (m_thread.joinable()) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stopping = true;
        }
        m_wakeWriter.notify_all();
        m_thread.join();
    }
}

void RunRecorder::throwIfFailed() const
{
    if (!m_error.empty())
        throw std::runtime_error("recording run " + std::to_string(m_runId) + ": " + m_error);
}

template <typename Append> void RunRecorder::push(Append&& append, size_t items)
{
    std::unique_lock<std::mutex> lock(m_mutex);
    throwIfFailed();
    if (m_closed || m_stopping)
        throw std::logic_error("recording run " + std::to_string(m_runId) + ": add after close()");
    if (m_pending->items + items > m_options.queueCapacity) {
        ++m_stats.blockedPushes;
        m_wakeWriter.notify_one();
        m_progress.wait(lock, [&] {
            return m_pending->items + items <= m_options.queueCapacity || !m_error.empty() || m_pending->items == 0;
        });
        throwIfFailed();
    }
    append(*m_pending);
    m_pending->items += items;
    m_pushedSequence += items;
    m_stats.itemsPushed += items;
    // The writer sleeps until the commit interval is over; waking it only when work appears keeps a push cheap.
    if (m_pending->items == items || m_pending->items >= m_options.queueCapacity / 2)
        m_wakeWriter.notify_one();
}

void RunRecorder::addScalar(int64_t iteration, const std::string& name, double value)
{
    push([&](Pending& pending) { pending.batch.scalars.push_back({ iteration, name, value }); }, 1);
}

void RunRecorder::addScalars(int64_t iteration, const std::vector<std::pair<std::string, double>>& values)
{
    if (values.empty())
        return;
    push(
        [&](Pending& pending) {
            for (const auto& [name, value] : values)
                pending.batch.scalars.push_back({ iteration, name, value });
        },
        values.size());
}

void RunRecorder::addEvaluation(EvaluationRecord evaluation)
{
    push([&](Pending& pending) { pending.batch.evaluations.push_back(std::move(evaluation)); }, 1);
}

void RunRecorder::addProbe(ProbeRecord probe)
{
    push([&](Pending& pending) { pending.batch.probes.push_back(std::move(probe)); }, 1);
}

void RunRecorder::addHeatmap(HeatmapRecord heatmap)
{
    push([&](Pending& pending) { pending.heatmaps.push_back(std::move(heatmap)); }, 1);
}

void RunRecorder::addMemorySample(const MemorySample& sample)
{
    push(
        [&](Pending& pending) {
            pending.memory.push_back(sample);
            m_peakMemory = std::max(m_peakMemory.value_or(0), std::max(sample.peakBytes, sample.currentBytes));
        },
        1);
}

void RunRecorder::addEvent(EventRecord event)
{
    if (event.time.empty())
        event.time = isoTimeNow();
    push([&](Pending& pending) { pending.batch.events.push_back(std::move(event)); }, 1);
}

void RunRecorder::addArtifact(ArtifactRecord artifact)
{
    push([&](Pending& pending) { pending.batch.artifacts.push_back(std::move(artifact)); }, 1);
}

void RunRecorder::writerLoop()
{
    auto lastCommit = std::chrono::steady_clock::now() - m_options.commitInterval;
    std::unique_lock<std::mutex> lock(m_mutex);
    while (true) {
        m_wakeWriter.wait(lock, [&] { return m_stopping || m_pending->items > 0; });
        if (m_pending->items == 0 && m_stopping)
            break;
        // Rate limit: wait out the commit interval unless someone waits for us or the queue fills up.
        m_wakeWriter.wait_until(lock, lastCommit + m_options.commitInterval, [&] {
            return m_stopping || m_flushTarget > m_committedSequence || m_pending->items >= m_options.queueCapacity / 2;
        });
        auto work = std::make_unique<Pending>();
        std::swap(work, m_pending);
        if (!work->memory.empty())
            work->batch.peakMemoryBytes = m_peakMemory;
        const uint64_t sequence = m_pushedSequence;
        const bool failed = !m_error.empty();
        lock.unlock();
        m_progress.notify_all(); // the queue has room again

        std::string error;
        if (!failed) {
            try {
                m_writer->store.writeBatch(m_runId, work->batch);
                if (RunArrayFile* arrays = m_writer->arrays.get()) {
                    for (const ProbeRecord& probe : work->batch.probes)
                        arrays->appendProbe(probe);
                    for (const HeatmapRecord& heatmap : work->heatmaps)
                        arrays->writeHeatmap(heatmap);
                    arrays->appendMemory(work->memory);
                    if (!work->batch.probes.empty() || !work->heatmaps.empty() || !work->memory.empty()
                        || !work->batch.evaluations.empty())
                        arrays->flush();
                }
            } catch (const std::exception& exception) {
                error = exception.what();
            }
        }
        lastCommit = std::chrono::steady_clock::now();

        lock.lock();
        if (!error.empty() && m_error.empty())
            m_error = error;
        m_committedSequence = sequence;
        if (error.empty() && !failed) {
            m_stats.itemsCommitted += work->items;
            ++m_stats.commits;
        }
        m_progress.notify_all();
    }
}

void RunRecorder::flush()
{
    std::unique_lock<std::mutex> lock(m_mutex);
    throwIfFailed();
    const uint64_t target = m_pushedSequence;
    if (m_committedSequence >= target)
        return;
    m_flushTarget = std::max(m_flushTarget, target);
    m_wakeWriter.notify_one();
    m_progress.wait(lock, [&] { return m_committedSequence >= target || !m_error.empty(); });
    throwIfFailed();
}

void RunRecorder::close(RunStatus status, const std::string& finalMetricsJson)
{
    if (m_closed)
        throw std::logic_error("recording run " + std::to_string(m_runId) + ": close() called twice");
    std::string error;
    try {
        flush();
    } catch (const std::exception& exception) {
        error = exception.what();
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
        m_closed = true;
    }
    m_wakeWriter.notify_all();
    if (m_thread.joinable())
        m_thread.join();
    // The writer thread has ended: its store and file are ours now.
    RunStore& store = m_writer->store;
    if (m_writer->arrays) {
        try {
            m_writer->arrays->close();
            store.updateArtifact(
                m_arraysArtifactId, sha256OfFile(m_options.arraysPath), fileSize(m_options.arraysPath));
        } catch (const std::exception& exception) {
            if (error.empty())
                error = exception.what();
        }
        m_writer->arrays.reset();
    }
    // A run whose records could not all be written is not `finished`, whatever the trainer says.
    const RunStatus finalStatus = error.empty() || status != RunStatus::Finished ? status : RunStatus::Failed;
    try {
        if (!error.empty()) {
            RunBatch batch;
            batch.events.push_back({ isoTimeNow(), std::nullopt, "error", "recording failed: " + error });
            store.writeBatch(m_runId, batch);
        }
        store.finishRun(m_runId, finalStatus, finalMetricsJson, m_peakMemory);
    } catch (const std::exception& exception) {
        if (error.empty())
            error = exception.what();
    }
    if (!error.empty())
        throw std::runtime_error("recording run " + std::to_string(m_runId) + ": " + error);
}

RunRecorderStats RunRecorder::stats() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_stats;
}

} // namespace dr2
