#include "app/gui/report_data.h"

#include "app/recording/heatmap_names.h"
#include "app/recording/run_metrics.h"
#include "storage/run_array_file.h"
#include "storage/run_store.h"

#include <QDir>
#include <QFileInfo>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace dr2 {

namespace {

    const std::string kPlannedPathPrefix = "planned (iteration, alpha, beta) path: ";

    QString runLabel(const RunRecord& run)
    {
        return QStringLiteral("#%1 '%2'").arg(run.id).arg(QString::fromStdString(run.name));
    }

    /// The newest heatmap in a run's HDF5 file (none when the run has no such file or no heatmap).
    /// Throws std::runtime_error when the file exists but cannot be read.
    std::optional<HeatmapRecord> newestHeatmapOf(RunStore& store, const RunRecord& run)
    {
        for (const ArtifactRecord& artifact : store.artifacts(run.id)) {
            if (artifact.kind != "arrays")
                continue;
            QString path = QString::fromStdString(artifact.path);
            // Older demo databases recorded the heatmap run's file relative to the folder the demo ran in, which
            // held the database: resolve such a path next to the database when it is not found as given.
            if (QFileInfo(path).isRelative() && !QFileInfo::exists(path))
                path = QFileInfo(QString::fromStdString(store.path())).absoluteDir().filePath(path);
            if (!QFileInfo::exists(path))
                continue;
            RunArrayFile file(path.toStdString(), RunArrayFile::Mode::Read);
            std::optional<HeatmapRecord> newest;
            for (const std::string& name : file.heatmapNames()) {
                HeatmapRecord heatmap = file.readHeatmap(name);
                if (heatmap.metrics.empty())
                    continue;
                // Names sort as written (iter_000100, ...); the highest iteration wins, ties go to the later name,
                // except that a sweep's map under autocast ("sweep_bf16") never displaces its float32 map.
                const bool autocast = heatmapNamePrecision(heatmap.name) != Precision::Float32;
                const bool newestAutocast = newest && heatmapNamePrecision(newest->name) != Precision::Float32;
                if (!newest || heatmap.iteration > newest->iteration
                    || (heatmap.iteration == newest->iteration && (!autocast || newestAutocast)))
                    newest = std::move(heatmap);
            }
            if (newest)
                return newest;
        }
        return std::nullopt;
    }

    bool sameSourceCheckpoint(const RunRecord& a, const RunRecord& b)
    {
        if (!a.sourceSha256.empty() && !b.sourceSha256.empty())
            return a.sourceSha256 == b.sourceSha256;
        return !a.sourceCheckpoint.empty() && a.sourceCheckpoint == b.sourceCheckpoint;
    }

    QString describeGrid(const HeatmapRecord& heatmap, const QString& metric)
    {
        return QStringLiteral("%1×%2 α×β grid '%3' at iteration %4, metric %5")
            .arg(heatmap.alphas.size())
            .arg(heatmap.betas.size())
            .arg(QString::fromStdString(heatmap.name))
            .arg(heatmap.iteration)
            .arg(metric);
    }

    QString chooseMetric(const HeatmapRecord& heatmap)
    {
        if (heatmap.metrics.count("mse"))
            return QStringLiteral("mse");
        return QString::fromStdString(heatmap.metrics.begin()->first);
    }

} // namespace

QString ReportData::formatDuration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("?");
    if (seconds < 60.0)
        return QStringLiteral("%1 s").arg(seconds, 0, 'f', seconds < 10.0 ? 2 : 1);
    const qint64 whole = qint64(std::llround(seconds));
    if (whole < 3600)
        return QStringLiteral("%1 min %2 s").arg(whole / 60).arg(whole % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(whole / 3600).arg((whole % 3600) / 60, 2, 10, QLatin1Char('0'));
}

ReportHeatmap ReportData::findHeatmap(RunStore& store, const RunRecord& run)
{
    ReportHeatmap result;
    QStringList skipped;
    auto take = [&](const RunRecord& source, HeatmapRecord heatmap) {
        result.metric = chooseMetric(heatmap);
        result.sourceRunId = source.id;
        result.sourceRunName = QString::fromStdString(source.name);
        result.heatmap = std::move(heatmap);
    };
    try {
        if (auto own = newestHeatmapOf(store, run)) {
            take(run, std::move(*own));
            result.description
                = QStringLiteral("the run's own heatmap: %1").arg(describeGrid(*result.heatmap, result.metric));
            return result;
        }
    } catch (const std::exception& e) {
        skipped << QStringLiteral("own HDF5 file unreadable: %1").arg(QString::fromUtf8(e.what()));
    }
    if (run.sourceSha256.empty() && run.sourceCheckpoint.empty()) {
        result.description = QStringLiteral("no heatmap panel: the run recorded no heatmap and starts from no "
                                            "checkpoint, so no heatmap run of the database applies to it");
    } else {
        for (const RunRecord& candidate : store.listRuns()) { // newest first
            if (candidate.id == run.id || candidate.status != RunStatus::Finished
                || !sameSourceCheckpoint(run, candidate))
                continue;
            try {
                if (auto heatmap = newestHeatmapOf(store, candidate)) {
                    take(candidate, std::move(*heatmap));
                    result.description = QStringLiteral("heatmap of run %1, the newest finished run with a heatmap "
                                                        "of the same source checkpoint (%2): %3")
                                             .arg(runLabel(candidate),
                                                 run.sourceSha256.empty()
                                                     ? QString::fromStdString(run.sourceCheckpoint)
                                                     : QStringLiteral("SHA-256 %1…")
                                                           .arg(QString::fromStdString(run.sourceSha256.substr(0, 12))),
                                                 describeGrid(*result.heatmap, result.metric));
                    break;
                }
            } catch (const std::exception& e) {
                skipped << QStringLiteral("run %1's HDF5 file unreadable: %2")
                               .arg(runLabel(candidate), QString::fromUtf8(e.what()));
            }
        }
        if (!result.heatmap)
            result.description = QStringLiteral("no heatmap panel: the run recorded no heatmap and no finished run "
                                                "of the database has one of the same source checkpoint");
    }
    if (!skipped.isEmpty())
        result.description += QStringLiteral(" (skipped: %1)").arg(skipped.join(QStringLiteral("; ")));
    return result;
}

RunReportData ReportData::load(RunStore& store, const QString& run, bool withPanels)
{
    RunReportData data;
    data.record = store.resolveRun(run.toStdString());
    const qint64 id = data.record.id;
    for (const RunSummary& summary : RunHistory::summaries(store))
        if (summary.id == id)
            data.summary = summary;
    data.series = RunHistory::series(store, id);

    const RunResults results = readRunResults(data.record);
    if (results.iterations)
        data.iterations = qint64(*results.iterations);
    data.finalLoss = results.finalLoss;
    data.secondsPerIteration = results.secondsPerIteration;
    if (results.peakStepBytes && *results.peakStepBytes > 0)
        data.peakStepBytes = qint64(*results.peakStepBytes);
    for (const auto& [name, value] : results.finalMetrics)
        if (name != results.primaryMetric)
            data.otherFinalMetrics.push_back(runMetricInfo(data.record, name));
    data.finalMetrics = results.finalMetrics;

    std::vector<ScalarPoint> held = store.scalars(id, "held_bytes");
    if (!held.empty() && std::isfinite(held.back().value))
        data.heldBytes = qint64(held.back().value);
    // The path: α and β are recorded at the same iterations; one point per change of the pair.
    std::vector<ScalarPoint> alphas = store.scalars(id, "alpha");
    std::vector<ScalarPoint> betas = store.scalars(id, "beta");
    for (size_t i = 0, j = 0; i < alphas.size() && j < betas.size();) {
        if (alphas[i].iteration < betas[j].iteration) {
            ++i;
        } else if (betas[j].iteration < alphas[i].iteration) {
            ++j;
        } else {
            const double a = alphas[i].value, b = betas[j].value;
            if (std::isfinite(a) && std::isfinite(b)
                && (data.pathAlphas.empty() || data.pathAlphas.back() != a || data.pathBetas.back() != b)) {
                data.pathAlphas.push_back(a);
                data.pathBetas.push_back(b);
            }
            ++i;
            ++j;
        }
    }
    if (!data.iterations) {
        int64_t last = -1;
        for (const ScalarSeriesInfo& info : store.scalarSeries(id))
            last = std::max(last, info.lastIteration);
        if (last >= 0)
            data.iterations = last + 1;
    }

    for (const EventRecord& event : store.events(id)) {
        if (event.message.rfind(kPlannedPathPrefix, 0) != 0)
            continue;
        const auto path = nlohmann::json::parse(
            event.message.substr(kPlannedPathPrefix.size()), nullptr, /*allow_exceptions=*/false);
        if (!path.is_array())
            continue;
        data.plannedIterations.clear();
        data.plannedAlphas.clear();
        data.plannedBetas.clear();
        for (const auto& point : path) {
            if (!point.is_array() || point.size() != 3 || !point[0].is_number() || !point[1].is_number()
                || !point[2].is_number())
                continue;
            data.plannedIterations.push_back(point[0].get<double>());
            data.plannedAlphas.push_back(point[1].get<double>());
            data.plannedBetas.push_back(point[2].get<double>());
        }
    }

    data.probes = store.probes(id);
    if (!data.probes.empty())
        data.latestProbe = data.probes.back();
    if (auto reference = RunHistory::conventionalReference(store, data.record.configJson);
        reference && reference->runId != id)
        data.conventional = reference;
    if (!withPanels)
        return data;
    data.heatmap = findHeatmap(store, data.record);
    std::string problem;
    data.preview = readLastRunPreview(store, id, &problem);
    data.previewProblem = QString::fromStdString(problem);
    return data;
}

} // namespace dr2
