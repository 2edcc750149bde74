#pragma once

#include "app/gui/session_types.h"

#include <QObject>
#include <QPointer>
#include <QString>

#include <memory>
#include <mutex>

class QThread;

namespace dr2 {

class SeriesBuffer;
class RecordedRun;
class TrainObserver;

/// QObject front end over the Trainer (hotspot's PerfParser shape): start() validates a JSON config and runs
/// the same Trainer as the CLI on a worker QThread. Scalars (loss, lr, memory, α, β, the primary metric) go into a
/// SeriesBuffer without any signal per data point; evaluations, probes, prediction previews, segment changes, logs,
/// throttled progress and the end of the run arrive as queued signals with value types. Previews are coalesced:
/// while one waits for the GUI thread, a newer one replaces it. Results of an older run (generation counter) are
/// dropped. Destroying the session cancels the run and joins the worker.
class TrainingSession : public QObject {
    Q_OBJECT
public:
    /// Creates an idle session.
    explicit TrainingSession(QObject* parent = nullptr);
    ~TrainingSession() override;

    /// The buffer the worker appends scalar samples to (series names: LossView/MemoryView/CoefficientView's).
    std::shared_ptr<SeriesBuffer> buffer() const { return m_buffer; }

    /// Validates `configJson` with TrainConfig::fromJson and starts a run. Returns false with the validation
    /// message (naming the field) in `error` when the config is invalid or a run is still going.
    bool start(const QString& configJson, QString* error = nullptr);
    /// Pauses at the next iteration boundary.
    void pause();
    /// Resumes a paused run.
    void resume();
    /// Cancels the run at the next iteration boundary (finished() follows with status "cancelled").
    void stop();
    /// Blocks until the worker has ended or `milliseconds` passed; true when no worker is left.
    bool waitForWorker(int milliseconds);
    /// Records every run into the run database at `path` (RunRecordingObserver: SQLite + the run's HDF5
    /// file and final weights); empty records nothing. Takes effect at the next start().
    void setDatabasePath(const QString& path) { m_databasePath = path; }
    /// The run database runs are recorded into (empty: none).
    QString databasePath() const { return m_databasePath; }

    /// True from start() until finished()/failed() was delivered.
    bool isRunning() const { return m_running; }
    /// True while the run is paused.
    bool isPaused() const { return m_paused; }
    /// Increases with every start(); results carrying an older generation are dropped.
    quint64 generation() const { return m_generation; }
    /// The observer a run's worker reports through, bound to the current generation: events given to it (on any
    /// thread) become this session's buffer samples and signals, exactly as a run's do. start() makes its own; this
    /// is for feeding recorded or hand-made events, e.g. in tests. Must not outlive the session.
    std::shared_ptr<TrainObserver> createObserver();

signals:
    /// The worker built the model and is about to train.
    void started(const dr2::RunStartedInfo& info);
    /// Throttled progress (at most ~5 per second).
    void progress(const dr2::RunProgress& progress);
    /// An evaluation finished.
    void evaluated(const dr2::EvaluationInfo& evaluation);
    /// A gradient-error probe finished.
    void probed(const dr2::ProbeInfo& probe);
    /// A dense task's evaluation produced a prediction preview (the newest, when several arrived meanwhile).
    void previewed(const dr2::PreviewImages& preview);
    /// The reversible segment length changed.
    void segmentChanged(const dr2::SegmentInfo& segment);
    /// A log line of the Trainer (level: info, warning, error).
    void logMessage(const QString& level, const QString& text);
    /// The run was paused (true) or resumed (false).
    void pausedChanged(bool paused);
    /// The loss or a gradient became NaN/Inf at `iteration` (the Trainer then ends the run as failed).
    void nanDetected(qint64 iteration);
    /// The run ended (finished, failed with a NaN, or cancelled).
    void finished(const dr2::RunFinishedInfo& info);
    /// The run could not start or ended in an error; one line naming what failed.
    void failed(const QString& message);

private:
    class Observer;
    friend class Observer;
    /// Runs `deliver` on the GUI thread unless the session is gone or a newer run started.
    template <typename F>
    void post(quint64 generation, F deliver);
    void workerDone(quint64 generation);

    std::shared_ptr<SeriesBuffer> m_buffer;
    std::shared_ptr<RecordedRun> m_run; // guarded by m_runMutex (stop() may race the worker's end)
    std::mutex m_runMutex;
    QThread* m_thread = nullptr;
    QString m_databasePath;
    quint64 m_generation = 0;
    bool m_running = false;
    bool m_paused = false;
};

} // namespace dr2
