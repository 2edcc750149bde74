#include "app/gui/sweep_session.h"

#include "app/recording/heatmap_sweep.h"
#include "core/autocast.h"
#include "training/train_config.h"

#include <QPointer>
#include <QThread>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace dr2 {

namespace {

QString checkAxis(const QVector<double>& values, const char* name, bool nonZero)
{
    if (values.isEmpty())
        return QStringLiteral("sweep %1: expected at least one value, found none").arg(QLatin1String(name));
    for (int i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i]))
            return QStringLiteral("sweep %1[%2]: expected a finite number").arg(QLatin1String(name)).arg(i);
        if (i > 0 && values[i] <= values[i - 1])
            return QStringLiteral("sweep %1: expected strictly increasing values, found %2 after %3")
                .arg(QLatin1String(name))
                .arg(values[i])
                .arg(values[i - 1]);
        if (nonZero && values[i] == 0.0)
            return QStringLiteral("sweep %1: β = 0 cannot be reversed; start above 0").arg(QLatin1String(name));
    }
    return {};
}

QString checkPrecisions(const QStringList& precisions)
{
    if (precisions.isEmpty())
        return QStringLiteral("sweep precisions: expected at least one of %1, found none")
            .arg(SweepSession::availablePrecisions().join(QStringLiteral(", ")));
    const QStringList available = SweepSession::availablePrecisions();
    for (int i = 0; i < precisions.size(); ++i) {
        if (!available.contains(precisions[i]))
            return QStringLiteral("sweep precisions[%1]: expected one of %2 on this device, found '%3'")
                .arg(i)
                .arg(available.join(QStringLiteral(", ")), precisions[i]);
        if (precisions.indexOf(precisions[i]) != i)
            return QStringLiteral("sweep precisions: '%1' is listed twice").arg(precisions[i]);
    }
    return {};
}

// Where a GUI sweep probes: makeProbeSetup's default device (the GUI does not move the probe network).
c10::Device sweepDevice()
{
    return ProbeNetworkSource {}.device;
}

QVector<double> mapValues(const std::vector<GradErrorReport>& reports, int cells)
{
    QVector<double> values(cells, std::numeric_limits<double>::quiet_NaN());
    for (size_t i = 0; i < reports.size() && int(i) < cells; ++i)
        values[int(i)] = reports[i].finite ? reports[i].overall.mse : std::numeric_limits<double>::infinity();
    return values;
}

} // namespace

QStringList SweepSession::availablePrecisions()
{
    QStringList names;
    for (Precision precision : allPrecisions()) {
        try {
            checkPrecision(precision, sweepDevice());
            names << QString::fromStdString(toString(precision));
        } catch (const std::invalid_argument&) {
            // Not computable on this device (float16 autocast on the CPU): not offered.
        }
    }
    return names;
}

SweepSession::SweepSession(QObject* parent)
    : QObject(parent)
{
    registerSessionTypes();
}

SweepSession::~SweepSession()
{
    cancel();
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

bool SweepSession::start(const SweepRequest& request, QString* error)
{
    auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return false;
    };
    if (m_running)
        return fail(QStringLiteral("a sweep is still running: cancel it first"));
    QString message = checkAxis(request.alphas, "alphas", false);
    if (message.isEmpty())
        message = checkAxis(request.betas, "betas", true);
    if (message.isEmpty())
        message = checkPrecisions(request.precisions);
    if (!message.isEmpty())
        return fail(message);
    if (request.batchSize < 1 || request.batchSize > 256)
        return fail(QStringLiteral("sweep batch: expected 1..256, found %1").arg(request.batchSize));
    TrainConfig config;
    try {
        config = TrainConfig::fromJson(nlohmann::json::parse(request.configJson.toStdString()));
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
        m_thread = nullptr;
    }
    const quint64 generation = ++m_generation;
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    m_running = true;
    auto cancelFlag = m_cancel;
    QPointer<SweepSession> self(this);
    // Delivered on the GUI thread; a newer sweep makes this one's results stale.
    auto post = [self, generation](auto deliver) {
        QMetaObject::invokeMethod(
            self.data(),
            [self, generation, deliver]() {
                if (self && self->m_generation == generation)
                    deliver(self.data());
            },
            Qt::QueuedConnection);
    };
    if (!request.weightsPath.isEmpty()) {
        // A run's weights hold its head: keep it, and build from them whatever the strategy's own starting point.
        config.model.checkpoint = request.weightsPath.toStdString();
        config.model.resetHead = false;
        config.strategy = Strategy::Dr2Net;
    }
    m_thread = QThread::create([config, request, cancelFlag, post]() {
        try {
            HeatmapSweepRequest sweep;
            sweep.network.config = config;
            sweep.network.numClasses = config.data.classes.empty() ? 10 : int64_t(config.data.classes.size());
            sweep.network.batch = request.randomBatch ? ProbeBatch::Random : ProbeBatch::ConfigData;
            sweep.batch = request.batchSize;
            sweep.seed = config.seed;
            sweep.grid.alphas.assign(request.alphas.begin(), request.alphas.end());
            sweep.grid.betas.assign(request.betas.begin(), request.betas.end());
            sweep.precision = parsePrecision(request.precisions.first().toStdString(), "sweep precision");
            for (int i = 1; i < request.precisions.size(); ++i)
                sweep.alsoPrecisions.push_back(parsePrecision(request.precisions[i].toStdString(), "sweep precision"));
            if (!request.databasePath.isEmpty()) {
                sweep.recording.databasePath = request.databasePath.toStdString();
                sweep.recording.runName = config.name + "-heatmap";
                sweep.recording.tags = { "gui", "heatmap" };
            }
            const HeatmapSweepResult swept = runHeatmapSweep(
                sweep,
                [&post](size_t done, size_t total) {
                    post([done, total](SweepSession* s) { emit s->progress(int(done), int(total)); });
                },
                cancelFlag.get());
            SweepResult result;
            result.alphas = request.alphas;
            result.betas = request.betas;
            result.source = QString::fromStdString(swept.source);
            result.batchSource = QString::fromStdString(swept.batchSource);
            const int cells = request.alphas.size() * request.betas.size();
            result.maps.push_back({ request.precisions.first(), mapValues(swept.reports, cells) });
            for (const PrecisionReports& also : swept.alsoReports)
                result.maps.push_back(
                    { QString::fromStdString(toString(also.precision)), mapValues(also.reports, cells) });
            result.values = result.maps.first().values;
            result.complete = swept.complete;
            post([result](SweepSession* s) {
                s->m_running = false;
                emit s->finished(result);
            });
        } catch (const std::exception& e) {
            const QString message = QStringLiteral("heatmap sweep: %1").arg(QString::fromUtf8(e.what()));
            post([message](SweepSession* s) {
                s->m_running = false;
                emit s->failed(message);
            });
        }
    });
    m_thread->setObjectName(QStringLiteral("dr2-sweep"));
    m_thread->start();
    return true;
}

void SweepSession::cancel()
{
    if (m_cancel)
        m_cancel->store(true);
}

bool SweepSession::waitForWorker(int milliseconds)
{
    return !m_thread || m_thread->wait(QDeadlineTimer(milliseconds));
}

} // namespace dr2
