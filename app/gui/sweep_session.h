#pragma once

#include "app/gui/session_types.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <atomic>
#include <memory>

class QThread;

namespace dr2 {

/// What a heatmap sweep probes: the network of a run config (its checkpoint when one is set, or a run's weights) on
/// a batch of the config's validation images (a segmentation config's scenes with their masks), over an α×β grid.
struct SweepRequest {
    QString configJson; ///< the run config whose model is swept (validated with TrainConfig::fromJson)
    QVector<double> alphas; ///< α values (strictly increasing)
    QVector<double> betas; ///< β values (strictly increasing, none zero)
    int batchSize = 4; ///< images in the probe batch
    /// Set: sweep these weights (a run's final.safetensors) instead of the config's checkpoint; the config still
    /// gives the data and the segments.
    QString weightsPath;
    bool randomBatch = false; ///< probe on N(0, 1) images and random labels instead of the config's data
    /// Set: the sweep is also recorded there as a run (strategy "heatmap"), one HDF5 heatmap per precision: "sweep"
    /// for float32, "sweep_bf16" for bfloat16 (precisionHeatmapName).
    QString databasePath;
    /// The autocasts to sweep, in order, each one map of the result over the same network, batch and grid ("fp32",
    /// "bf16", "fp16": names of core/precision.h; each one of availablePrecisions(), none twice).
    QStringList precisions { QStringLiteral("fp32") };
};

/// QObject front end over runHeatmapSweep() (app/recording/heatmap_sweep.h): builds the network and runs the sweep
/// on a worker QThread, reports progress per cell, can be cancelled between cells (through the sweep's cancel flag),
/// and drops results of an older sweep (generation counter).
class SweepSession : public QObject {
    Q_OBJECT
public:
    /// Creates an idle session.
    explicit SweepSession(QObject* parent = nullptr);
    ~SweepSession() override;

    /// Starts a sweep; false with a message naming the field in `error` when the request is invalid or a
    /// sweep is still running.
    bool start(const SweepRequest& request, QString* error = nullptr);
    /// Asks the running sweep to stop after the current cell (finished() follows with complete = false).
    void cancel();
    /// True from start() until finished()/failed() was delivered.
    bool isRunning() const { return m_running; }
    /// Blocks until the worker has ended or `milliseconds` passed; true when no worker is left.
    bool waitForWorker(int milliseconds);
    /// The precisions a sweep can run in on the device it probes on, float32 first (float16 only where autocast
    /// computes it: CUDA; CPU sweeps offer "fp32" and "bf16").
    static QStringList availablePrecisions();

signals:
    /// `done` of `total` cells probed.
    void progress(int done, int total);
    /// The sweep ended (complete or cancelled) with its matrix.
    void finished(const dr2::SweepResult& result);
    /// The sweep could not run; one line naming what failed.
    void failed(const QString& message);

private:
    QThread* m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    quint64 m_generation = 0;
    bool m_running = false;
};

} // namespace dr2
