#include "app/gui/training_session.h"

#include "app/recording/recorded_run.h"
#include "app/recording/run_preview.h"
#include "core/process_memory.h"
#include "training/train_config.h"
#include "training/train_events.h"
#include "training/trainer.h"
#include "widgets/coefficient_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"
#include "widgets/series_buffer.h"

#include <QThread>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <optional>

namespace dr2 {

namespace {

QString qs(const std::string& text)
{
    return QString::fromStdString(text);
}

RunFinishedInfo toInfo(const RunFinishedEvent& event)
{
    RunFinishedInfo info;
    switch (event.outcome) {
    case RunOutcome::Finished:
        info.end = RunEnd::Finished;
        break;
    case RunOutcome::Failed:
        info.end = RunEnd::Failed;
        break;
    case RunOutcome::Cancelled:
        info.end = RunEnd::Cancelled;
        break;
    }
    info.status = qs(toString(event.outcome));
    info.message = qs(event.message);
    info.iterations = event.iterations;
    info.primaryMetric = qs(event.primaryMetric);
    info.bestPrimary = event.bestPrimary;
    auto final = event.finalMetrics.find(event.primaryMetric);
    info.finalPrimary = final == event.finalMetrics.end() ? 0.0 : final->second;
    info.finalLoss = event.finalLoss;
    info.peakBytes = event.peakBytes;
    info.seconds = event.seconds;
    info.checkpointPath = qs(event.checkpointPath);
    return info;
}

} // namespace

/// Lives on the worker: scalars into the buffer, everything else posted to the GUI thread as value types.
class TrainingSession::Observer : public TrainObserver {
public:
    Observer(TrainingSession* session, quint64 generation, std::shared_ptr<SeriesBuffer> buffer)
        : m_session(session)
        , m_generation(generation)
        , m_buffer(std::move(buffer))
    {
    }

    void onStarted(const RunStartedEvent& event) override
    {
        RunStartedInfo info;
        info.name = qs(event.name);
        info.strategy = qs(event.strategy);
        info.modelSummary = qs(event.modelSummary);
        info.device = qs(event.device);
        info.parameters = event.parameters;
        info.trainableParameters = event.trainableParameters;
        info.totalIterations = event.totalIterations;
        info.startIteration = event.startIteration;
        info.task = qs(event.task);
        if (!event.metrics.empty()) {
            info.primaryMetric = qs(event.metrics.front().name);
            info.primaryLabel = qs(event.metrics.front().label);
            info.primaryIsFraction = event.metrics.front().fraction;
        }
        if (!event.metrics.empty())
            m_primary = event.metrics.front();
        for (const auto& stage : event.backbone.stages)
            info.branchesPerStage.push_back(stage.branches);
        for (const auto& [iteration, point] : event.plannedPath) {
            info.plannedIterations.push_back(double(iteration));
            info.plannedAlphas.push_back(point.alpha);
            info.plannedBetas.push_back(point.beta);
        }
        m_progress.totalIterations = event.totalIterations;
        m_startIteration = event.startIteration;
        m_session->post(m_generation, [info](TrainingSession* s) { emit s->started(info); });
    }

    void onIteration(const IterationEvent& event) override
    {
        const double x = double(event.iteration);
        m_buffer->append(LossView::kSeriesLoss, x, event.loss);
        m_buffer->append(LossView::kSeriesLearningRate, x, event.learningRate);
        m_buffer->append(MemoryView::kSeriesCurrent, x, double(event.currentBytes));
        m_buffer->append(MemoryView::kSeriesPeak, x, double(event.peakBytes));
        // The process as `top` sees it, sampled here rather than in the Trainer (one small /proc read).
        const int64_t rss = processResidentBytes();
        if (rss >= 0)
            m_buffer->append(MemoryView::kSeriesRss, x, double(rss));
        m_progress.rssBytes = rss;
        m_buffer->append(CoefficientView::kSeriesAlpha, x, event.alpha);
        m_buffer->append(CoefficientView::kSeriesBeta, x, event.beta);

        ++m_steps;
        m_stepSeconds += event.stepSeconds;
        m_progress.iteration = event.iteration + 1;
        m_progress.secondsPerIteration = m_stepSeconds / double(m_steps);
        m_progress.currentBytes = event.currentBytes;
        m_progress.peakBytes = std::max<qint64>(m_progress.peakBytes, event.peakBytes);
        m_progress.heldBytes = event.heldBytes;
        m_progress.alpha = event.alpha;
        m_progress.beta = event.beta;
        if (!std::isfinite(event.loss) && !m_nanReported) {
            m_nanReported = true;
            const qint64 iteration = event.iteration;
            m_session->post(m_generation, [iteration](TrainingSession* s) { emit s->nanDetected(iteration); });
        }
        // Progress is for the status bar: a few signals per second whatever the iteration rate.
        const auto now = std::chrono::steady_clock::now();
        if (now - m_lastProgress >= std::chrono::milliseconds(200)) {
            m_lastProgress = now;
            const RunProgress progress = m_progress;
            m_session->post(m_generation, [progress](TrainingSession* s) { emit s->progress(progress); });
        }
    }

    void onEvaluation(const EvaluationEvent& event) override
    {
        EvaluationInfo info;
        info.iteration = event.iteration;
        info.primaryMetric = qs(m_primary.name);
        for (const auto& [name, value] : event.metrics)
            info.metrics.insert(qs(name), value);
        auto primary = event.metrics.find(m_primary.name);
        if (primary != event.metrics.end()) // the loss view's accuracy trace shows the task's primary metric
            m_buffer->append(LossView::kSeriesTop1, double(event.iteration), primary->second);
        m_session->post(m_generation, [info](TrainingSession* s) { emit s->evaluated(info); });
    }

    void onProbe(const ProbeEvent& event) override
    {
        ProbeInfo info;
        info.iteration = event.iteration;
        info.alpha = event.report.alpha;
        info.beta = event.report.beta;
        info.mse = event.report.overall.mse;
        info.finite = event.report.finite;
        for (const auto& branch : event.report.perBranch)
            info.branchMse.push_back(branch.mse);
        for (int64_t n : event.report.branchesPerStage)
            info.branchesPerStage.push_back(n);
        m_session->post(m_generation, [info](TrainingSession* s) { emit s->probed(info); });
    }

    void onPreview(const PredictionPreviewEvent& event) override
    {
        PreviewImages images = previewImagesOf(runPreviewOf(event));
        // Like the plot feeds: a preview waiting for the GUI thread is replaced by a newer one, and only the first
        // of a burst posts a delivery, so a busy GUI thread never has a queue of stale pictures to paint.
        bool deliver = false;
        {
            std::lock_guard<std::mutex> lock(m_preview->mutex);
            deliver = !m_preview->pending;
            m_preview->pending = std::move(images);
        }
        if (!deliver)
            return;
        m_session->post(m_generation, [mailbox = m_preview](TrainingSession* s) {
            std::optional<PreviewImages> newest;
            {
                std::lock_guard<std::mutex> lock(mailbox->mutex);
                newest.swap(mailbox->pending);
            }
            if (newest)
                emit s->previewed(*newest);
        });
    }

    void onSegmentChange(const SegmentEvent& event) override
    {
        SegmentInfo info { event.iteration, event.alpha, event.beta, event.segmentLength, event.measuredMse };
        m_session->post(m_generation, [info](TrainingSession* s) { emit s->segmentChanged(info); });
    }

    void onLog(const std::string& level, const std::string& text) override
    {
        const QString l = qs(level);
        const QString t = qs(text);
        m_session->post(m_generation, [l, t](TrainingSession* s) { emit s->logMessage(l, t); });
    }

    /// The task's primary metric as announced in onStarted (empty before).
    const MetricInfo& primaryMetric() const { return m_primary; }

    void flushProgress()
    {
        const RunProgress progress = m_progress;
        m_session->post(m_generation, [progress](TrainingSession* s) { emit s->progress(progress); });
    }

private:
    /// The newest preview not yet delivered; shared with the posted delivery, which may run after the worker ended.
    struct PreviewMailbox {
        std::mutex mutex;
        std::optional<PreviewImages> pending;
    };

    TrainingSession* m_session;
    quint64 m_generation;
    std::shared_ptr<SeriesBuffer> m_buffer;
    std::shared_ptr<PreviewMailbox> m_preview = std::make_shared<PreviewMailbox>();
    RunProgress m_progress;
    qint64 m_startIteration = 0;
    MetricInfo m_primary;
    qint64 m_steps = 0;
    double m_stepSeconds = 0.0;
    bool m_nanReported = false;
    std::chrono::steady_clock::time_point m_lastProgress {};
};

TrainingSession::TrainingSession(QObject* parent)
    : QObject(parent)
    , m_buffer(std::make_shared<SeriesBuffer>())
{
    registerSessionTypes();
}

TrainingSession::~TrainingSession()
{
    stop();
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

std::shared_ptr<TrainObserver> TrainingSession::createObserver()
{
    return std::make_shared<Observer>(this, m_generation, m_buffer);
}

template <typename F>
void TrainingSession::post(quint64 generation, F deliver)
{
    QPointer<TrainingSession> self(this);
    QMetaObject::invokeMethod(
        this,
        [self, generation, deliver]() {
            // A newer run started since: this result belongs to the old one.
            if (self && self->m_generation == generation)
                deliver(self.data());
        },
        Qt::QueuedConnection);
}

bool TrainingSession::start(const QString& configJson, QString* error)
{
    auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return false;
    };
    if (m_running)
        return fail(QStringLiteral("a run is still going: stop it first"));
    TrainConfig config;
    try {
        config = TrainConfig::fromJson(nlohmann::json::parse(configJson.toStdString()), TrainConfig::InputCheck::Check);
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
        m_thread = nullptr;
    }
    const quint64 generation = ++m_generation;
    m_buffer->drain(); // samples of an older run must not leak into the new plots
    RecordedRunOptions options;
    options.databasePath = m_databasePath.toStdString();
    std::shared_ptr<RecordedRun> run;
    try {
        run = std::make_shared<RecordedRun>(config, options);
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    {
        std::lock_guard<std::mutex> lock(m_runMutex);
        m_run = run;
    }
    m_running = true;
    m_paused = false;
    auto observer = std::make_shared<Observer>(this, generation, m_buffer);
    m_thread = QThread::create([this, run, observer, generation]() {
        try {
            run->addObserver(observer.get());
            const RecordedRunResult result = run->run(); // the recorder has closed the run when this returns
            observer->flushProgress();
            RunFinishedInfo info = toInfo(result.finished);
            info.primaryLabel = qs(observer->primaryMetric().label);
            info.primaryIsFraction = observer->primaryMetric().fraction;
            info.runId = result.runId;
            info.finalWeightsPath = qs(result.finalWeightsPath);
            info.outputPath = qs(result.outputPath);
            info.recordingError = qs(result.recordingError);
            post(generation, [info](TrainingSession* s) {
                if (!info.recordingError.isEmpty())
                    emit s->logMessage(QStringLiteral("warning"), QStringLiteral("recording: ") + info.recordingError);
                emit s->finished(info);
                if (info.end == RunEnd::Failed)
                    emit s->failed(info.message.isEmpty() ? QStringLiteral("run failed") : info.message);
            });
        } catch (const std::exception& e) {
            const QString message = QString::fromUtf8(e.what());
            post(generation, [message](TrainingSession* s) { emit s->failed(message); });
        }
        post(generation, [generation](TrainingSession* s) { s->workerDone(generation); });
    });
    m_thread->setObjectName(QStringLiteral("dr2-trainer"));
    m_thread->start();
    return true;
}

void TrainingSession::workerDone(quint64 generation)
{
    if (generation != m_generation)
        return;
    m_running = false;
    m_paused = false;
    std::lock_guard<std::mutex> lock(m_runMutex);
    m_run.reset();
}

void TrainingSession::pause()
{
    {
        std::lock_guard<std::mutex> lock(m_runMutex);
        if (!m_run || m_paused)
            return;
        m_run->trainer().pause();
        m_paused = true;
    }
    emit pausedChanged(true);
}

void TrainingSession::resume()
{
    {
        std::lock_guard<std::mutex> lock(m_runMutex);
        if (!m_run || !m_paused)
            return;
        m_run->trainer().resume();
        m_paused = false;
    }
    emit pausedChanged(false);
}

void TrainingSession::stop()
{
    std::lock_guard<std::mutex> lock(m_runMutex);
    if (!m_run)
        return;
    m_run->trainer().cancel();
    if (m_paused)
        m_run->trainer().resume(); // a paused Trainer waits; let it see the cancel
}

bool TrainingSession::waitForWorker(int milliseconds)
{
    return !m_thread || m_thread->wait(QDeadlineTimer(milliseconds));
}

} // namespace dr2
