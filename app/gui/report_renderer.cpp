#include "app/gui/report_renderer.h"

#include "app/gui/report_data.h"
#include "app/gui/run_history.h"
#include "app/gui/session_types.h"
#include "app/recording/run_metrics.h"
#include "app/recording/study_results.h"
#include "storage/run_store.h"
#include "training/study_spec.h"
#include "training/train_config.h"
#include "widgets/coefficient_view.h"
#include "widgets/config_diff.h"
#include "widgets/heatmap_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"
#include "widgets/parallel_coordinates_view.h"
#include "widgets/plot_style.h"
#include "widgets/plot_view.h"
#include "widgets/segmentation_preview.h"
#include "widgets/table2_summary.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QPointer>
#include <QSet>
#include <qcustomplot.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace dr2 {

namespace {

    using Json = nlohmann::json;

    bool fail(QString* error, const QString& message)
    {
        if (error)
            *error = message;
        return false;
    }

    /// Everything that can be checked before reading the database: the suffix and the output folder.
    bool checkOutput(const QString& outPath, QString* error)
    {
        if (outPath.isEmpty())
            return fail(error,
                QStringLiteral("--out: expected a file name ending in %1, found nothing")
                    .arg(ReportDocument::acceptedSuffixes()));
        if (!ReportDocument::formatOf(outPath)) {
            const QString suffix = QFileInfo(outPath).suffix();
            return fail(error,
                QStringLiteral("--out '%1': expected a file name ending in %2, found %3")
                    .arg(outPath, ReportDocument::acceptedSuffixes(),
                        suffix.isEmpty() ? QStringLiteral("no suffix") : QStringLiteral("'.%1'").arg(suffix)));
        }
        const QFileInfo target(outPath);
        const QFileInfo folder(target.absolutePath());
        if (!folder.exists())
            return fail(
                error, QStringLiteral("--out '%1': folder '%2' does not exist").arg(outPath, folder.filePath()));
        if (!folder.isDir())
            return fail(error, QStringLiteral("--out '%1': '%2' is not a folder").arg(outPath, folder.filePath()));
        if (!folder.isWritable())
            return fail(
                error, QStringLiteral("--out '%1': folder '%2' is not writable").arg(outPath, folder.filePath()));
        if (target.isDir())
            return fail(error, QStringLiteral("--out '%1': expected a file name, found a folder").arg(outPath));
        return true;
    }

    bool checkDatabase(const QString& databasePath, QString* error)
    {
        const QFileInfo info(databasePath);
        if (!info.exists())
            return fail(error, QStringLiteral("database '%1': no such file").arg(databasePath));
        if (!info.isFile())
            return fail(
                error, QStringLiteral("database '%1': expected an SQLite file, found a folder").arg(databasePath));
        return true;
    }

    QString bytes(std::optional<qint64> value)
    {
        if (!value)
            return QStringLiteral("–");
        return QStringLiteral("%1 (%2 bytes)").arg(MemoryView::formatBytes(double(*value))).arg(*value);
    }

    QString shortBytes(std::optional<qint64> value)
    {
        return value ? MemoryView::formatBytes(double(*value)) : QStringLiteral("–");
    }

    QString number(double value)
    {
        return QString::number(value, 'g', 6);
    }

    QString runLabel(qint64 id, const QString& name)
    {
        return QStringLiteral("%1 (#%2)").arg(name).arg(id);
    }

    std::optional<double> durationSeconds(const RunReportData& data)
    {
        if (data.summary.seconds)
            return data.summary.seconds;
        const QDateTime created
            = QDateTime::fromString(QString::fromStdString(data.record.createdAt), Qt::ISODateWithMs);
        const QDateTime finished
            = QDateTime::fromString(QString::fromStdString(data.record.finishedAt), Qt::ISODateWithMs);
        if (created.isValid() && finished.isValid())
            return double(created.msecsTo(finished)) / 1000.0;
        return std::nullopt;
    }

    /// The run's config with TrainConfig's defaults filled in (as the run used them); the raw JSON when it
    /// does not validate (an older or hand-made config), so the report still shows what is there.
    Json normalisedConfig(const std::string& configJson)
    {
        Json raw = Json::parse(configJson, nullptr, /*allow_exceptions=*/false);
        if (!raw.is_object())
            return Json::object();
        try {
            return TrainConfig::fromJson(raw).toJson();
        } catch (const std::exception&) {
            return raw;
        }
    }

    QString jsonText(const Json& value)
    {
        if (value.is_string())
            return QString::fromStdString(value.get<std::string>());
        if (value.is_number_float())
            return number(value.get<double>());
        return QString::fromStdString(value.dump());
    }

    /// `config[a][b]` as text, empty when missing.
    QString field(const Json& config, std::initializer_list<const char*> path)
    {
        const Json* node = &config;
        for (const char* key : path) {
            if (!node->is_object() || !node->contains(key))
                return {};
            node = &(*node)[key];
        }
        return node->is_null() ? QString() : jsonText(*node);
    }

    ReportTable configTable(const Json& config, const std::string& strategy)
    {
        ReportTable table;
        table.caption = QStringLiteral("Configuration");
        auto add = [&table](const QString& key, const QString& value) {
            if (!value.isEmpty())
                table.rows.push_back({ key, value });
        };
        QString data = field(config, { "data", "dataset" });
        if (!data.isEmpty()) {
            const QString classes = field(config, { "data", "classes" });
            if (!classes.isEmpty() && classes != QLatin1String("[]"))
                data += QStringLiteral(", classes %1").arg(classes);
            const QString train = field(config, { "data", "train_limit" });
            if (!train.isEmpty() && train != QLatin1String("0"))
                data += QStringLiteral(", at most %1 training images").arg(train);
            const QString val = field(config, { "data", "val_limit" });
            if (!val.isEmpty() && val != QLatin1String("0"))
                data += QStringLiteral(", %1 validation images").arg(val);
        }
        add(QStringLiteral("Data"), data);
        if (!field(config, { "model", "image_size" }).isEmpty())
            add(QStringLiteral("Input"),
                QStringLiteral("%1² pixels, patch %2, %3 channel(s)%4")
                    .arg(field(config, { "model", "image_size" }), field(config, { "model", "patch_size" }),
                        field(config, { "model", "in_channels" }),
                        field(config, { "model", "num_frames" }).toInt() > 0
                            ? QStringLiteral(", %1 frames").arg(field(config, { "model", "num_frames" }))
                            : QString()));
        add(QStringLiteral("First skip"), field(config, { "model", "first_skip" }));
        if (!field(config, { "optim", "epochs" }).isEmpty())
            add(QStringLiteral("Optimisation"),
                QStringLiteral("%1 epoch(s), batch %2, lr %3 (warm-up %4 iterations), weight decay %5")
                    .arg(field(config, { "optim", "epochs" }), field(config, { "optim", "batch_size" }),
                        field(config, { "optim", "lr" }), field(config, { "optim", "warmup_iterations" }),
                        field(config, { "optim", "weight_decay" })));
        if (strategy == "dr2net" && config.contains("schedule")) {
            QString tau = field(config, { "schedule", "tau_iterations" });
            const QString tauEpochs = field(config, { "schedule", "tau_epochs" });
            tau = !tauEpochs.isEmpty() && tauEpochs.toDouble() > 0 ? QStringLiteral("%1 epoch(s)").arg(tauEpochs)
                                                                   : QStringLiteral("%1 iterations").arg(tau);
            add(QStringLiteral("α/β schedule"),
                QStringLiteral("(α, β) from (%1, %2) to (%3, %4) by τ = %5, updated every η = %6 iterations, %7, %8")
                    .arg(field(config, { "schedule", "start", "alpha" }),
                        field(config, { "schedule", "start", "beta" }), field(config, { "schedule", "end", "alpha" }),
                        field(config, { "schedule", "end", "beta" }), tau, field(config, { "schedule", "eta" }),
                        field(config, { "schedule", "policy" }), field(config, { "schedule", "order" })));
        }
        const QString segments = field(config, { "segments", "every" });
        if (!segments.isEmpty() && segments != QLatin1String("0"))
            add(QStringLiteral("Segments"), QStringLiteral("every %1 branches").arg(segments));
        const QString probe = field(config, { "probe", "every" });
        if (!probe.isEmpty() && probe != QLatin1String("0"))
            add(QStringLiteral("Gradient probe"), QStringLiteral("every %1 iterations").arg(probe));
        if (!field(config, { "device" }).isEmpty()) {
            // Runs recorded before world_size, and single-process ones, trained in one process: nothing to add.
            const QString ranks = field(config, { "world_size" });
            const bool parallel = !ranks.isEmpty() && ranks != QLatin1String("0") && ranks != QLatin1String("1");
            add(QStringLiteral("Device"),
                QStringLiteral("%1, %2 thread(s) (0: LibTorch's default), seed %3%4")
                    .arg(field(config, { "device" }), field(config, { "threads" }), field(config, { "seed" }),
                        parallel ? QStringLiteral("; %1 data-parallel processes (batch size per process)").arg(ranks)
                                 : QString()));
        }
        return table;
    }

    std::vector<SeriesSample> seriesOf(const SeriesBatch& batch, const QString& name)
    {
        for (const auto& [series, samples] : batch)
            if (series == name)
                return samples;
        return {};
    }

    std::vector<SeriesSample> scaled(std::vector<SeriesSample> samples, double factor)
    {
        for (SeriesSample& sample : samples)
            sample.value *= factor;
        return samples;
    }

    /// A plot of one metric of several runs, each an overlay curve (the runs page's comparison). The ranges
    /// always include iteration 0 and `low`..`high` on the value axis (e.g. 0 for memory, so that a ratio of
    /// two curves reads right).
    class ComparisonPlot : public PlotView {
    public:
        ComparisonPlot(const QString& valueLabel, double low, double high)
        {
            RangeGuard guard(this);
            plot()->xAxis->setLabel(QStringLiteral("iteration"));
            plot()->yAxis->setLabel(valueLabel);
            plot()->legend->setVisible(true);
            QFont legendFont = plot()->legend->font();
            legendFont.setPointSizeF(std::max(6.0, legendFont.pointSizeF() - 1));
            plot()->legend->setFont(legendFont);
            plot()->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
            includeInRange(plot()->xAxis, 0.0, 0.0);
            if (std::isfinite(low) && std::isfinite(high))
                includeInRange(plot()->yAxis, low, high);
        }
    };

    std::unique_ptr<PlotView> comparisonPlot(const QString& valueLabel, double low = NAN, double high = NAN)
    {
        return std::make_unique<ComparisonPlot>(valueLabel, low, high);
    }

    /// Solid lines in one colour per run (PlotView draws overlays dashed; in a figure of runs only, solid reads
    /// better); `dashed` names the curves drawn dashed (β next to α of the same run).
    void colourByRun(PlotView* view, const QHash<QString, int>& runOfCurve, const QSet<QString>& dashed, bool markers)
    {
        const PlotStyle style(view->palette());
        QCustomPlot* plot = view->plot();
        for (int g = 0; g < plot->graphCount(); ++g) {
            QCPGraph* graph = plot->graph(g);
            const int run = runOfCurve.value(graph->name(), -1);
            if (run < 0)
                continue;
            const bool secondary = dashed.contains(graph->name());
            graph->setPen(QPen(style.series(run), 1.6, secondary ? Qt::DashLine : Qt::SolidLine));
            if (secondary)
                graph->removeFromLegend(); // one legend entry per run; the axis label says which curve is dashed
            if (markers)
                graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, style.series(run), 6));
        }
    }

    QString memoryUnit(double maxBytes, double* unit)
    {
        const double kib = 1024.0;
        if (maxBytes >= kib * kib * kib) {
            *unit = kib * kib * kib;
            return QStringLiteral("GiB");
        }
        if (maxBytes >= kib * kib) {
            *unit = kib * kib;
            return QStringLiteral("MiB");
        }
        *unit = kib;
        return QStringLiteral("KiB");
    }

    void buildRunReport(ReportDocument& document, const RunReportData& data, const QString& databasePath)
    {
        const RunRecord& record = data.record;
        const QString name = QString::fromStdString(record.name);
        const QString strategy = QString::fromStdString(record.strategy);

        ReportTable run;
        run.caption = QStringLiteral("Run");
        auto add = [&run](const QString& key, const QString& value) {
            if (!value.isEmpty())
                run.rows.push_back({ key, value });
        };
        add(QStringLiteral("Run"), runLabel(record.id, name));
        add(QStringLiteral("Strategy"),
            strategyDisplayName(strategy) == strategy
                ? strategy
                : QStringLiteral("%1 (%2)").arg(strategyDisplayName(strategy), strategy));
        add(QStringLiteral("Status"), QString::fromStdString(toString(record.status)));
        add(QStringLiteral("Model"), QString::fromStdString(record.modelSummary));
        add(QStringLiteral("Created"), QString::fromStdString(record.createdAt));
        add(QStringLiteral("Finished"), QString::fromStdString(record.finishedAt));
        if (const auto seconds = durationSeconds(data))
            add(QStringLiteral("Duration"), ReportData::formatDuration(*seconds));
        if (data.iterations)
            add(QStringLiteral("Iterations"), QString::number(*data.iterations));
        if (data.secondsPerIteration)
            add(QStringLiteral("Time per iteration"), ReportData::formatDuration(*data.secondsPerIteration));
        const RunSummary& summary = data.summary;
        add(QStringLiteral("Final %1").arg(summary.primaryLabel),
            formatMetricValue(summary.finalPrimary, summary.primaryIsFraction));
        add(QStringLiteral("Best %1").arg(summary.primaryLabel),
            formatMetricValue(summary.bestPrimary, summary.primaryIsFraction));
        for (const RunMetricInfo& metric : data.otherFinalMetrics)
            add(metric.name == "loss" ? QStringLiteral("Final validation loss")
                                      : QStringLiteral("Final %1").arg(QString::fromStdString(metric.label)),
                formatMetricValue(data.finalMetrics.at(metric.name), metric.fraction));
        if (data.finalLoss)
            add(QStringLiteral("Final training loss"), number(*data.finalLoss));
        add(QStringLiteral("Peak tensor memory"), bytes(data.summary.peakBytes));
        if (data.peakStepBytes)
            add(QStringLiteral("Peak step memory"), bytes(data.peakStepBytes));
        if (data.heldBytes)
            add(QStringLiteral("Held baseline"), bytes(data.heldBytes));
        if (data.conventional && data.summary.peakBytes && data.conventional->peakBytes > 0)
            add(QStringLiteral("Memory vs conventional"),
                QStringLiteral("%1 % of run %2 (%3)")
                    .arg(100.0 * double(*data.summary.peakBytes) / double(data.conventional->peakBytes), 0, 'f', 1)
                    .arg(runLabel(data.conventional->runId, data.conventional->name),
                        MemoryView::formatBytes(double(data.conventional->peakBytes))));
        if (!record.sourceCheckpoint.empty())
            add(QStringLiteral("Source checkpoint"),
                record.sourceSha256.empty() ? QString::fromStdString(record.sourceCheckpoint)
                                            : QStringLiteral("%1 (SHA-256 %2…)")
                                                  .arg(QString::fromStdString(record.sourceCheckpoint),
                                                      QString::fromStdString(record.sourceSha256.substr(0, 16))));
        add(QStringLiteral("Tags"), data.summary.tags.join(QStringLiteral(", ")));
        add(QStringLiteral("Notes"), QString::fromStdString(record.notes));
        add(QStringLiteral("Database"), QFileInfo(databasePath).absoluteFilePath());
        document.addTable(run);
        const ReportTable config = configTable(normalisedConfig(record.configJson), record.strategy);
        if (!config.rows.isEmpty())
            document.addTable(config);

        auto* loss = static_cast<LossView*>(document.addFigure(
            std::make_unique<LossView>(), QStringLiteral("Loss, %1 and learning rate").arg(summary.primaryLabel)));
        loss->setPrimaryMetric(summary.primaryLabel, summary.primaryIsFraction);
        auto* memory = static_cast<MemoryView*>(
            document.addFigure(std::make_unique<MemoryView>(), QStringLiteral("Tensor memory")));
        auto* coefficients = static_cast<CoefficientView*>(
            document.addFigure(std::make_unique<CoefficientView>(), QStringLiteral("α and β")));
        for (const auto& [series, samples] : data.series) {
            loss->appendSamples(series, samples);
            memory->appendSamples(series, samples);
            coefficients->appendSamples(series, samples);
        }
        if (data.heldBytes)
            memory->setHeldBaseline(*data.heldBytes);
        if (data.conventional)
            memory->setReferencePeak(data.conventional->peakBytes,
                QStringLiteral("conventional %1").arg(runLabel(data.conventional->runId, data.conventional->name)));
        if (!data.plannedIterations.empty()) {
            coefficients->setPlannedPath(data.plannedIterations, data.plannedAlphas, data.plannedBetas);
            coefficients->setEndPoint(
                data.plannedIterations.back(), data.plannedAlphas.back(), data.plannedBetas.back());
        }

        QString heatmapNote = QStringLiteral("Heatmap: %1.").arg(data.heatmap.description);
        if (data.heatmap.heatmap) {
            const HeatmapRecord& heatmap = *data.heatmap.heatmap;
            auto view = std::make_unique<HeatmapView>();
            QString why;
            const auto values = heatmap.metrics.at(data.heatmap.metric.toStdString());
            if (view->setMatrix(heatmap.alphas, heatmap.betas, values, &why)) {
                view->setValueLabel(QStringLiteral("gradient error (%1), log scale").arg(data.heatmap.metric));
                view->setPath(data.pathAlphas, data.pathBetas);
                if (data.latestProbe)
                    view->setLatestProbe(data.latestProbe->alpha, data.latestProbe->beta);
                // Short enough for a quarter of an A4 page; the note under the tables says where it comes from.
                const QString title = data.heatmap.sourceRunId == record.id
                    ? QStringLiteral("Gradient error over α×β, α/β path")
                    : QStringLiteral("Gradient error over α×β (run #%1), α/β path").arg(data.heatmap.sourceRunId);
                document.addFigure(std::move(view), title);
            } else {
                heatmapNote = QStringLiteral("Heatmap: no panel, the stored heatmap of run #%1 cannot be shown: %2.")
                                  .arg(data.heatmap.sourceRunId)
                                  .arg(why);
            }
        }
        document.addNote(heatmapNote);

        // Dense tasks: the last prediction preview, because people would rather look at masks than read mIoU.
        const auto setup = parseRunSetup(record.setupJson);
        if (data.preview) {
            auto preview = std::make_unique<SegmentationPreview>();
            QString why;
            if (preview->setPreview(previewImagesOf(*data.preview), &why)) {
                document.addFigure(std::move(preview),
                    QStringLiteral("Prediction preview at iteration %1").arg(data.preview->iteration));
                document.addNote(QStringLiteral("Prediction preview: %1 fixed validation scene(s) of %2×%3 pixels at "
                                                "iteration %4 (epoch %5), the newest the run recorded; ground truth and "
                                                "prediction are blended half over the input, dark grey has no label.")
                                     .arg(data.preview->samples.size())
                                     .arg(data.preview->width)
                                     .arg(data.preview->height)
                                     .arg(data.preview->iteration)
                                     .arg(data.preview->epoch));
            } else {
                document.addNote(QStringLiteral("Prediction preview: no panel, the recorded preview cannot be shown: %1.")
                                     .arg(why));
            }
        } else if (setup && setup->task == "segmentation") {
            document.addNote(QStringLiteral("Prediction preview: none recorded (previews are written at each "
                                            "evaluation; the run made none, or its files are gone)."));
        }
        if (!data.previewProblem.isEmpty())
            document.addNote(QStringLiteral("Prediction previews skipped: %1.").arg(data.previewProblem));
        if (data.series.empty())
            document.addNote(QStringLiteral("The run recorded no scalar series: the plots are empty."));
    }

    /// The config keys that differ among the compared runs (a table), and the parallel coordinates from them to
    /// the final primary metric and the peak memory (a figure), as on the runs page.
    void addConfigComparison(ReportDocument& document, const QVector<RunReportData>& runs, const QStringList& labels)
    {
        QStringList configs;
        QVector<RunSummary> summaries;
        for (const RunReportData& data : runs) {
            configs << QString::fromStdString(data.record.configJson);
            summaries << data.summary;
        }
        const ConfigDiff diff = ConfigDiff::of(labels, configs);
        if (diff.keys.isEmpty()) {
            document.addNote(QStringLiteral("Config diff: the compared runs have identical configs."));
        } else {
            ReportTable table;
            table.caption = QStringLiteral("Config diff (only the keys whose values differ)");
            table.header = QStringList { QStringLiteral("Key") } + labels;
            for (int k = 0; k < diff.keys.size(); ++k) {
                QStringList row { diff.keys[k] };
                for (int r = 0; r < labels.size(); ++r)
                    row << diff.text(k, r);
                table.rows.push_back(row);
            }
            document.addTable(table);
        }
        auto parallel = std::make_unique<ParallelCoordinatesView>();
        parallel->setRuns(summaries);
        document.addFigure(std::move(parallel), QStringLiteral("Parallel coordinates: config → final metric, peak memory"));
    }

    void buildComparison(ReportDocument& document, const QVector<RunReportData>& runs)
    {
        ReportTable table;
        table.caption = QStringLiteral("Runs");
        // One metric for all runs titles the columns; runs of different tasks name their metric in each cell.
        bool oneMetric = true;
        for (const RunReportData& data : runs)
            oneMetric = oneMetric && data.summary.primaryMetric == runs.front().summary.primaryMetric;
        const RunSummary& first = runs.front().summary;
        auto result = [oneMetric](const RunSummary& summary, std::optional<double> value) {
            const QString text = formatMetricValue(value, summary.primaryIsFraction);
            return oneMetric || !value ? text : QStringLiteral("%1 %2").arg(text, summary.primaryLabel);
        };
        table.header = { QStringLiteral("Run"), QStringLiteral("Strategy"), QStringLiteral("Status"),
            QStringLiteral("Model"), QStringLiteral("Iterations"),
            oneMetric ? QStringLiteral("Final %1").arg(first.primaryLabel) : QStringLiteral("Final (primary metric)"),
            oneMetric ? QStringLiteral("Best %1").arg(first.primaryLabel) : QStringLiteral("Best (primary metric)"),
            QStringLiteral("Peak memory"), QStringLiteral("Duration") };
        QVector<RunSummary> summaries;
        QStringList labels;
        for (const RunReportData& data : runs) {
            const QString label = runLabel(data.record.id, QString::fromStdString(data.record.name));
            labels << label;
            summaries << data.summary;
            const auto seconds = durationSeconds(data);
            table.rows.push_back({ label, strategyDisplayName(QString::fromStdString(data.record.strategy)),
                QString::fromStdString(toString(data.record.status)), QString::fromStdString(data.record.modelSummary),
                data.iterations ? QString::number(*data.iterations) : QStringLiteral("–"),
                result(data.summary, data.summary.finalPrimary), result(data.summary, data.summary.bestPrimary),
                shortBytes(data.summary.peakBytes),
                seconds ? ReportData::formatDuration(*seconds) : QStringLiteral("–") });
        }
        document.addTable(table);

        ReportTable table2;
        table2.caption = QStringLiteral("Table 2 (the compared runs)");
        const QVector<Table2Row> table2Rows = summarizeTable2(summaries);
        const bool table2OneMetric = !table2PrimaryMetric(table2Rows).isEmpty();
        const QString table2Label = table2Rows.isEmpty() ? first.primaryLabel : table2Rows.front().primaryLabel;
        table2.header = { QStringLiteral("Strategy"), QStringLiteral("Finished runs"), QStringLiteral("Run"),
            table2OneMetric ? QStringLiteral("Final %1").arg(table2Label) : QStringLiteral("Final (primary metric)"),
            QStringLiteral("Peak memory"), QStringLiteral("Memory vs conventional") };
        const bool severalSetups = table2Setups(table2Rows).size() > 1;
        if (severalSetups)
            table2.header << QStringLiteral("Setup");
        for (const Table2Row& row : table2Rows) {
            QString run = QStringLiteral("#%1").arg(row.runId);
            for (const RunReportData& data : runs)
                if (data.record.id == row.runId)
                    run = runLabel(row.runId, QString::fromStdString(data.record.name));
            table2.rows.push_back({ strategyDisplayName(row.strategy), QString::number(row.finishedRuns), run,
                table2OneMetric || !row.finalPrimary
                    ? formatMetricValue(row.finalPrimary, row.primaryIsFraction)
                    : QStringLiteral("%1 %2").arg(
                        formatMetricValue(row.finalPrimary, row.primaryIsFraction), row.primaryLabel),
                shortBytes(row.peakBytes),
                row.memoryVsConventional ? QStringLiteral("%1 %").arg(*row.memoryVsConventional * 100.0, 0, 'f', 1)
                                         : QStringLiteral("–") });
            if (severalSetups)
                table2.rows.back() << row.setup;
        }
        if (table2.rows.isEmpty())
            document.addNote(QStringLiteral("Table 2: none of the compared runs is finished, so there is no row."));
        else
            document.addTable(table2);
        const QString decides = table2OneMetric ? QStringLiteral("final %1").arg(table2Label)
                                                : QStringLiteral("final primary metric (each task's own)");
        document.addNote(QStringLiteral("Table 2 counts finished runs with a %1 only; per setup (model, task, "
                                        "input, data) and strategy the run with the best %1 gives the row "
                                        "(ties: the lower peak memory), and memory is relative to the same setup's "
                                        "conventional run, as on the runs page.")
                             .arg(decides));

        PlotView* loss
            = document.addFigure(comparisonPlot(QStringLiteral("training loss")), QStringLiteral("Training loss"));
        // The first run's primary metric, by name, for every run that evaluated it.
        const std::string metric = first.primaryMetric.toStdString();
        const QString metricSeries = RunHistory::evaluationSeries(metric);
        const double metricScale = first.primaryIsFraction ? 100.0 : 1.0;
        PlotView* top1 = document.addFigure(first.primaryIsFraction
                ? comparisonPlot(QStringLiteral("%1 (%)").arg(first.primaryLabel), 0.0, 100.0)
                : comparisonPlot(first.primaryLabel),
            QStringLiteral("Validation %1").arg(first.primaryLabel));
        double maxPeak = 0.0;
        for (const RunReportData& data : runs)
            for (const SeriesSample& sample : seriesOf(data.series, MemoryView::kSeriesPeak))
                if (std::isfinite(sample.value))
                    maxPeak = std::max(maxPeak, sample.value);
        double unit = 1.0;
        const QString unitName = memoryUnit(maxPeak, &unit);
        PlotView* memory
            = document.addFigure(comparisonPlot(QStringLiteral("peak tensor memory (%1)").arg(unitName), 0.0, 0.0),
                QStringLiteral("Peak tensor memory per iteration"));
        PlotView* coefficients = document.addFigure(
            comparisonPlot(QStringLiteral("α (solid), β (dashed)"), 0.0, 1.0), QStringLiteral("α and β"));
        QSet<QString> dashed;
        QHash<QString, int> runOfCurve;
        for (int r = 0; r < runs.size(); ++r) {
            runOfCurve.insert(labels[r], r);
            runOfCurve.insert(labels[r] + QStringLiteral(" α"), r);
            runOfCurve.insert(labels[r] + QStringLiteral(" β"), r);
            const SeriesBatch& series = runs[r].series;
            loss->setOverlay(labels[r], seriesOf(series, LossView::kSeriesLoss));
            top1->setOverlay(labels[r], scaled(seriesOf(series, metricSeries), metricScale));
            memory->setOverlay(labels[r], scaled(seriesOf(series, MemoryView::kSeriesPeak), 1.0 / unit));
            coefficients->setOverlay(labels[r] + QStringLiteral(" α"), seriesOf(series, CoefficientView::kSeriesAlpha));
            coefficients->setOverlay(labels[r] + QStringLiteral(" β"), seriesOf(series, CoefficientView::kSeriesBeta));
            dashed << labels[r] + QStringLiteral(" β");
        }
        colourByRun(loss, runOfCurve, {}, /*markers=*/false);
        colourByRun(top1, runOfCurve, {}, /*markers=*/true);
        colourByRun(memory, runOfCurve, {}, /*markers=*/false);
        colourByRun(coefficients, runOfCurve, dashed, /*markers=*/false);
        addConfigComparison(document, runs, labels);
    }

    /// The tables of a summary's Markdown (studySummaryMarkdown(): "### caption" then a pipe table) as report
    /// tables, and its other lines as notes: the report shows what `dr2net-cli study` prints, from one writer.
    void addMarkdownTables(ReportDocument& document, const QString& markdown)
    {
        ReportTable table;
        bool inTable = false;
        auto flush = [&] {
            if (inTable && !table.header.isEmpty())
                document.addTable(table);
            table = ReportTable {};
            inTable = false;
        };
        for (const QString& rawLine : markdown.split(QLatin1Char('\n'))) {
            const QString line = rawLine.trimmed();
            if (line.startsWith(QLatin1String("###"))) {
                flush();
                table.caption = line.mid(3).trimmed();
            } else if (line.startsWith(QLatin1Char('|'))) {
                QStringList cells = line.mid(1, line.endsWith(QLatin1Char('|')) ? line.size() - 2 : -1)
                                        .split(QLatin1Char('|'));
                for (QString& cell : cells)
                    cell = cell.trimmed().remove(QStringLiteral("**"));
                const bool separator = std::all_of(cells.begin(), cells.end(), [](const QString& cell) {
                    return !cell.isEmpty() && cell.count(QLatin1Char('-')) + cell.count(QLatin1Char(':')) == cell.size();
                });
                if (separator)
                    continue;
                if (!inTable) {
                    table.header = cells;
                    inTable = true;
                } else {
                    table.rows.push_back(cells);
                }
            } else if (!line.isEmpty()) {
                flush();
                document.addNote(line);
            }
        }
        flush();
    }

    /// Best primary metric against peak step memory, one labelled point per finished run.
    class StudyScatterPlot : public PlotView {
    public:
        struct Point {
            double bytes = 0.0;
            double primary = 0.0;
            QString label;
        };

        StudyScatterPlot(const std::vector<Point>& points, const QString& metricLabel, bool fraction)
        {
            RangeGuard guard(this);
            double maxBytes = 0.0;
            for (const Point& p : points)
                maxBytes = std::max(maxBytes, p.bytes);
            double unit = 1.0;
            const QString unitName = memoryUnit(maxBytes, &unit);
            const double scale = fraction ? 100.0 : 1.0;
            plot()->xAxis->setLabel(QStringLiteral("peak step memory (%1)").arg(unitName));
            plot()->yAxis->setLabel(
                fraction ? QStringLiteral("best %1 (%)").arg(metricLabel) : QStringLiteral("best %1").arg(metricLabel));
            const PlotStyle style(palette());
            std::vector<double> xs, ys;
            for (const Point& p : points) {
                xs.push_back(p.bytes / unit);
                ys.push_back(p.primary * scale);
            }
            const double xLow = *std::min_element(xs.begin(), xs.end());
            const double xHigh = *std::max_element(xs.begin(), xs.end());
            const double yLow = *std::min_element(ys.begin(), ys.end());
            const double yHigh = *std::max_element(ys.begin(), ys.end());
            const double xNear = 0.04 * std::max(xHigh, 1e-9);
            const double yNear = 0.04 * std::max(std::abs(yHigh), 1e-9);
            for (size_t i = 0; i < points.size(); ++i) {
                const QString name = QStringLiteral("%1 (#%2)").arg(points[i].label).arg(i + 1);
                setOverlay(name, { SeriesSample { xs[i], ys[i] } });
                QCPGraph* graph = plot()->graph(plot()->graphCount() - 1);
                graph->setLineStyle(QCPGraph::lsNone);
                graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, style.series(int(i)), 8));
                // Runs of the same memory and accuracy sit on top of each other: alternate their labels left and
                // right of the points so that both stay readable.
                size_t near = 0;
                for (size_t j = 0; j < i; ++j)
                    near += std::abs(xs[j] - xs[i]) < xNear && std::abs(ys[j] - ys[i]) < yNear;
                const bool left = near % 2 == 1;
                auto* text = new QCPItemText(plot());
                text->position->setCoords(xs[i], ys[i]);
                text->setPositionAlignment((left ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignBottom);
                text->setPadding(left ? QMargins(0, 0, 6, 4) : QMargins(6, 0, 0, 4));
                text->setText(points[i].label);
                QFont font = text->font();
                font.setPointSizeF(std::max(6.0, font.pointSizeF() - 1));
                text->setFont(font);
            }
            // Room for the labels right of and above the points; memory and accuracy from zero read honestly.
            includeInRange(plot()->xAxis, 0.0, xHigh + 0.35 * std::max(xHigh - xLow, 0.1 * std::max(xHigh, 1.0)));
            includeInRange(plot()->yAxis, std::min(0.0, yLow),
                yHigh + 0.15 * std::max(yHigh - yLow, 0.1 * std::max(std::abs(yHigh), 1.0)));
        }
    };

    /// Gradient errors of several runs on a log scale, one solid line per run in the palette's series colours
    /// (a study's levels): over training (x: iteration) or per branch (x: branch). Zero and non-finite values have
    /// no place on a log axis and are left out.
    class GradientErrorPlot : public PlotView {
    public:
        GradientErrorPlot(const QString& xLabel, const QString& yLabel)
        {
            plot()->xAxis->setLabel(xLabel);
            plot()->yAxis->setLabel(yLabel);
            plot()->yAxis->setScaleType(QCPAxis::stLogarithmic);
            plot()->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
            plot()->yAxis->setNumberFormat(QStringLiteral("eb"));
            plot()->yAxis->setNumberPrecision(0);
            placeLegendBelow();
        }

        /// Adds one run's line; false when none of its values is positive and finite.
        bool addLine(const QString& name, int colour, const std::vector<SeriesSample>& samples)
        {
            std::vector<SeriesSample> kept;
            for (const SeriesSample& sample : samples) {
                if (!std::isfinite(sample.value) || sample.value <= 0.0)
                    continue;
                kept.push_back(sample);
                m_low = std::min(m_low, sample.value);
                m_high = std::max(m_high, sample.value);
                m_first = std::min(m_first, sample.iteration);
                m_last = std::max(m_last, sample.iteration);
            }
            if (kept.empty())
                return false;
            setOverlay(name, kept);
            m_colours.emplace_back(plot()->graph(plot()->graphCount() - 1), colour);
            applyStyle(); // setOverlay styled every overlay as a dashed reference line
            return true;
        }
        int lines() const { return int(m_colours.size()); }

    protected:
        void restyle(const PlotStyle& style) override
        {
            PlotView::restyle(style);
            for (const auto& [graph, colour] : m_colours) {
                if (!graph)
                    continue; // removed with the view's overlays
                graph->setPen(QPen(style.series(colour), 1.6));
                graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, style.series(colour), 5));
            }
        }

        void rescaleToData() override
        {
            if (m_colours.empty())
                return PlotView::rescaleToData();
            RangeGuard guard(this);
            const double pad = std::max(0.5, 0.03 * (m_last - m_first));
            plot()->xAxis->setRange(m_first - pad, m_last + pad);
            plot()->yAxis->setRange(m_low / 2.0, m_high * 2.0); // a factor of two each side on a log axis
        }

    private:
        double m_low = INFINITY;
        double m_high = 0.0;
        double m_first = INFINITY;
        double m_last = -INFINITY;
        std::vector<std::pair<QPointer<QCPGraph>, int>> m_colours; ///< each line's graph and its palette index
    };

    /// One finished run of a study level: the run shown for it in the per-level figures.
    struct LevelRun {
        QString label;
        const RunReportData* data = nullptr;
        uint64_t seed = 0;
    };

    /// For each level of `group` (in the spec's order) its finished run of the lowest seed, when it has one.
    std::vector<LevelRun> levelRuns(const StudyGroup& group, const std::vector<StudyRunStatus>& statuses,
        const QHash<qint64, const RunReportData*>& loadedById)
    {
        std::vector<LevelRun> out;
        for (const StudyLevel& level : group.levels) {
            LevelRun chosen;
            for (const StudyRunStatus& status : statuses) {
                const std::string* label = levelOf(status.planned, group.name);
                if (!label || *label != level.label || status.state != StudyRunState::Finished || !status.record)
                    continue;
                const RunReportData* data = loadedById.value(status.record->id, nullptr);
                if (data && (!chosen.data || status.planned.seed < chosen.seed))
                    chosen = { QString::fromStdString(level.label), data, status.planned.seed };
            }
            if (chosen.data)
                out.push_back(chosen);
        }
        return out;
    }

    /// The metric of a probe the study figures show: rel_l2 (scale-free: 1 is an error as large as the gradient),
    /// else the first one recorded.
    std::string probeMetric(const ProbeRecord& probe)
    {
        if (probe.metrics.count("rel_l2"))
            return "rel_l2";
        return probe.metrics.empty() ? std::string() : probe.metrics.begin()->first;
    }

    /// Per group of a study: the levels' α/β paths over the pretrained network's gradient-error map, and the
    /// gradient error of the reversible backward over training and per branch at the end (why vanilla conversion
    /// trails Dr²Net: its lower branches receive noise). One run per level (its lowest seed).
    void addStudyGradientFigures(ReportDocument& document, const StudySpec& study,
        const std::vector<StudyRunStatus>& statuses, const QVector<RunReportData>& loaded,
        const std::optional<ReportHeatmap>& heatmap)
    {
        QHash<qint64, const RunReportData*> loadedById;
        for (const RunReportData& data : loaded)
            loadedById.insert(data.record.id, &data);
        for (const StudyGroup& group : study.groups) {
            const std::vector<LevelRun> runs = levelRuns(group, statuses, loadedById);
            // Figures are titled by the group's short name (a half-page figure cuts a long title); the tables above
            // carry the full titles.
            const QString title = QString::fromStdString(group.name);
            const QString fullTitle = QString::fromStdString(group.title.empty() ? group.name : group.title);

            if (heatmap && heatmap->heatmap) {
                const HeatmapRecord& map = *heatmap->heatmap;
                auto view = std::make_unique<HeatmapView>();
                if (view->setMatrix(map.alphas, map.betas, map.metrics.at(heatmap->metric.toStdString()))) {
                    view->setValueLabel(QStringLiteral("gradient error (%1), log scale").arg(heatmap->metric));
                    for (size_t i = 0; i < runs.size(); ++i) {
                        const RunReportData& data = *runs[i].data;
                        // β = 0 all along is the plain network (nothing reversed): it has no place on this map.
                        const bool reversed = std::any_of(
                            data.pathBetas.begin(), data.pathBetas.end(), [](double beta) { return beta != 0.0; });
                        if (reversed)
                            view->addPath(runs[i].label, int(i), data.pathAlphas, data.pathBetas);
                    }
                    if (view->addedPathCount() > 0)
                        document.addFigure(std::move(view),
                            QStringLiteral("%1: α/β paths over the pretrained network's gradient error (#%2)")
                                .arg(title)
                                .arg(heatmap->sourceRunId));
                }
            }

            auto overTraining = std::make_unique<GradientErrorPlot>(
                QStringLiteral("iteration"), QStringLiteral("gradient error of the reversible backward"));
            auto perBranch = std::make_unique<GradientErrorPlot>(
                QStringLiteral("branch (1 = nearest the input)"), QStringLiteral("gradient error at the last probe"));
            QString metric;
            for (size_t i = 0; i < runs.size(); ++i) {
                const std::vector<ProbeRecord>& probes = runs[i].data->probes;
                if (probes.empty())
                    continue;
                const std::string name = probeMetric(probes.back());
                if (name.empty())
                    continue;
                metric = QString::fromStdString(name);
                std::vector<SeriesSample> over;
                for (const ProbeRecord& probe : probes)
                    if (auto it = probe.metrics.find(name); it != probe.metrics.end())
                        over.push_back({ double(probe.iteration), it->second });
                overTraining->addLine(runs[i].label, int(i), over);
                std::vector<SeriesSample> branches;
                if (auto it = probes.back().perBranch.find(name); it != probes.back().perBranch.end())
                    for (size_t b = 0; b < it->second.size(); ++b)
                        branches.push_back({ double(b + 1), it->second[b] });
                perBranch->addLine(runs[i].label, int(i), branches);
            }
            if (overTraining->lines() > 0)
                document.addFigure(std::move(overTraining),
                    QStringLiteral("%1: gradient error (%2) over training").arg(title, metric));
            if (perBranch->lines() > 0)
                document.addFigure(std::move(perBranch),
                    QStringLiteral("%1: gradient error (%2) per branch, last probe").arg(title, metric));
            if (!runs.empty() && (heatmap || !metric.isEmpty())) {
                QStringList seeds;
                for (const LevelRun& run : runs)
                    seeds << QStringLiteral("%1 seed %2 (#%3)").arg(run.label).arg(run.seed).arg(run.data->record.id);
                document.addNote(QStringLiteral("%1, paths and gradient errors: one run per level, %2. Gradient error "
                                                "is the reversible backward's against a stored-activation backward of "
                                                "the same network and batch, recorded by the runs' probes; an exact zero (a branch "
                                                "whose input is kept) has no place on the log scale and is not drawn.")
                                     .arg(fullTitle, seeds.join(QStringLiteral("; "))));
            }
        }
    }

} // namespace

bool ReportRenderer::render(
    const QString& databasePath, const QString& run, const QString& outPath, QString* error, ReportLayout* layout)
{
    if (!checkOutput(outPath, error) || !checkDatabase(databasePath, error))
        return false;
    RunReportData data;
    try {
        RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
        data = ReportData::load(store, run);
    } catch (const std::exception& e) {
        return fail(error, QString::fromUtf8(e.what()));
    }
    const QString strategy = QString::fromStdString(data.record.strategy);
    ReportDocument document(
        QStringLiteral("Dr²Net run report: %1 (#%2)").arg(QString::fromStdString(data.record.name)).arg(data.record.id),
        QStringLiteral("%1 · %2 · %3")
            .arg(strategyDisplayName(strategy), QString::fromStdString(toString(data.record.status)),
                QString::fromStdString(data.record.modelSummary)));
    buildRunReport(document, data, databasePath);
    return document.write(outPath, error, layout);
}

bool ReportRenderer::renderComparison(
    const QString& databasePath, const QStringList& runs, const QString& outPath, QString* error, ReportLayout* layout)
{
    if (runs.size() < 2)
        return fail(
            error, QStringLiteral("--compare: expected at least 2 runs (ids or names), found %1").arg(runs.size()));
    if (!checkOutput(outPath, error) || !checkDatabase(databasePath, error))
        return false;
    QVector<RunReportData> loaded;
    try {
        RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
        std::set<int64_t> seen;
        for (const QString& run : runs) {
            RunReportData data;
            data.record = store.resolveRun(run.toStdString());
            if (!seen.insert(data.record.id).second)
                return fail(error,
                    QStringLiteral("--compare: run '%1' is run #%2, which is already listed; name each "
                                   "run once")
                        .arg(run)
                        .arg(data.record.id));
            loaded.push_back(ReportData::load(store, QString::number(data.record.id), /*withPanels=*/false));
        }
    } catch (const std::exception& e) {
        return fail(error, QString::fromUtf8(e.what()));
    }
    QStringList names;
    for (const RunReportData& data : loaded)
        names << runLabel(data.record.id, QString::fromStdString(data.record.name));
    ReportDocument document(
        QStringLiteral("Dr²Net comparison of %1 runs").arg(loaded.size()), names.join(QStringLiteral(" · ")));
    buildComparison(document, loaded);
    return document.write(outPath, error, layout);
}

bool ReportRenderer::renderStudy(const QString& databasePath, const QString& spec, bool quick, const QString& outPath,
    QString* error, ReportLayout* layout)
{
    if (!checkOutput(outPath, error) || !checkDatabase(databasePath, error))
        return false;
    StudySpec study;
    StudySummary summary;
    std::vector<StudyRunStatus> statuses;
    QVector<RunReportData> loaded;
    std::vector<StudyScatterPlot::Point> points;
    std::optional<ReportHeatmap> heatmap;
    std::set<std::string> searchedSources;
    try {
        study = StudySpec::load(StudySpec::resolve(spec.toStdString()), quick);
        RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
        const std::string dir = StudySpec::defaultDirectory(databasePath.toStdString(), study.name);
        statuses = studyRunStatuses(study, study.expand(dir), store.listRuns());
        summary = summarizeStudy(study, statuses);
        for (const StudyRunStatus& status : statuses) {
            if (status.state != StudyRunState::Finished || !status.record)
                continue;
            loaded.push_back(ReportData::load(store, QString::number(status.record->id), /*withPanels=*/false));
            // The map the α/β paths are drawn over: the first run's that finds one (the study's sweep of the
            // pretrained network shares every pretrained run's source checkpoint). Each source is looked up once:
            // a lookup may open every HDF5 file of the database.
            const RunRecord& record = loaded.back().record;
            if ((!heatmap || !heatmap->heatmap) && !record.sourceCheckpoint.empty()
                && searchedSources.insert(record.sourceSha256 + "|" + record.sourceCheckpoint).second)
                heatmap = ReportData::findHeatmap(store, record);
            if (!status.results.bestPrimary || !status.results.peakStepBytes)
                continue;
            QStringList levels;
            for (const auto& level : status.planned.levels)
                levels << QString::fromStdString(level.second);
            points.push_back({ double(*status.results.peakStepBytes), *status.results.bestPrimary,
                QStringLiteral("%1 s%2").arg(levels.join(QStringLiteral(", "))).arg(status.planned.seed) });
        }
    } catch (const std::exception& e) {
        return fail(error, QStringLiteral("study '%1': %2").arg(spec, QString::fromUtf8(e.what())));
    }
    if (loaded.isEmpty())
        return fail(error,
            QStringLiteral("study %1: no finished run in '%2' (%3 planned); run `dr2net-cli study --spec %4%5` first")
                .arg(QString::fromStdString(study.name), databasePath)
                .arg(statuses.size())
                .arg(spec, quick ? QStringLiteral(" --quick") : QString()));
    ReportDocument document(QStringLiteral("Dr²Net study report: %1").arg(QString::fromStdString(study.name)),
        QString::fromStdString(study.description));
    addMarkdownTables(document, QString::fromStdString(studySummaryMarkdown(summary)));
    const QString metricLabel = QString::fromStdString(summary.primaryLabel);
    if (points.empty())
        document.addNote(QStringLiteral("No finished run recorded both a best %1 and a peak step memory: no scatter.")
                             .arg(metricLabel));
    else
        document.addFigure(std::make_unique<StudyScatterPlot>(points, metricLabel, summary.primaryFraction),
            QStringLiteral("Best %1 vs peak step memory (one point per finished run)").arg(metricLabel));
    addStudyGradientFigures(document, study, statuses, loaded, heatmap);
    if (heatmap && !heatmap->heatmap)
        document.addNote(QStringLiteral("α/β paths: no gradient-error map to draw them over (%1).").arg(heatmap->description));
    buildComparison(document, loaded);
    return document.write(outPath, error, layout);
}

} // namespace dr2
