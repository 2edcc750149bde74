// The workbench end to end on the offscreen platform: checkpoint panel, config validation, a short real
// Fashion-MNIST run with pause/resume/stop recorded into SQLite, the heatmap sweep, and the headless report.
#include "tests/gui/gui_test_support.h"

#include "app/gui/checkpoint_panel.h"
#include "app/gui/export_dialog.h"
#include "app/gui/live_page.h"
#include "app/gui/log_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/report_data.h"
#include "app/gui/report_renderer.h"
#include "app/gui/run_config_panel.h"
#include "app/gui/runs_page.h"
#include "app/gui/sweep_session.h"
#include "app/gui/training_session.h"
#include "storage/run_array_file.h"
#include "storage/run_store.h"
#include "widgets/heatmap_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"
#include "widgets/coefficient_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTableWidget>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>

namespace dr2 {
namespace {

const QString kFixtures = QStringLiteral(DR2_CHECKPOINT_FIXTURES);

// Tiny ViT on 5 Fashion-MNIST classes: 640 images, batch 64 = 10 iterations per epoch.
QString tinyConfig(const QString& name, int epochs)
{
    return QStringLiteral(R"({"name": "%1", "strategy": "dr2net", "seed": 1, "threads": 1,
        "model": {"embed_dim": 64, "depth": 2, "heads": 4, "image_size": 28, "patch_size": 4, "in_channels": 1,
                  "drop_path": 0.0},
        "data": {"classes": [5, 6, 7, 8, 9], "train_limit": 640, "val_limit": 320, "workers": 0},
        "optim": {"epochs": %2, "batch_size": 64, "warmup_iterations": 5},
        "schedule": {"tau_iterations": 60, "eta": 1},
        "probe": {"every": 10}})")
        .arg(name)
        .arg(epochs);
}

// Opens `path` (inspected on a worker) and waits for the result; true when it was read as a ViT.
bool openAndWait(CheckpointPanel* panel, const QString& path)
{
    QSignalSpy done(panel, &CheckpointPanel::inspectionFinished);
    panel->openFile(path);
    // The result arrives through the event loop: openFile() itself returns at once, busy.
    EXPECT_TRUE(panel->isBusy());
    if (!test::waitUntil([&] { return !done.isEmpty() && !panel->isBusy(); }, 60000))
        return false;
    return panel->inspection().ok && panel->inspection().path == path;
}

QString statusOf(RunsPage* page, qint64 runId)
{
    const int row = page->runTable()->model()->rowOf(runId);
    return row < 0 ? QString() : page->runTable()->model()->runs().at(row).status;
}

TEST(CheckpointPanel, ShowsTheInspectSummaryOfAFixture)
{
    CheckpointPanel panel;
    panel.setHeadsOverride(4);
    QSignalSpy opened(&panel, &CheckpointPanel::checkpointOpened);
    ASSERT_TRUE(openAndWait(&panel, kFixtures + QStringLiteral("/tv_vit.safetensors")))
        << panel.errorText().toStdString();
    EXPECT_EQ(opened.count(), 1);
    EXPECT_TRUE(panel.errorText().isEmpty());
    QMap<QString, QString> rows;
    for (const auto& [key, value] : panel.inspection().rows)
        rows[key] = value;
    EXPECT_EQ(rows.value(QStringLiteral("format")), QStringLiteral("safetensors"));
    EXPECT_EQ(rows.value(QStringLiteral("naming")), QStringLiteral("torchvision"));
    EXPECT_EQ(rows.value(QStringLiteral("depth")), QStringLiteral("2"));
    EXPECT_EQ(rows.value(QStringLiteral("branches")), QStringLiteral("4"));
    EXPECT_EQ(panel.summaryTable()->rowCount(), panel.inspection().rows.size());
    EXPECT_TRUE(panel.recentFiles().first().endsWith(QStringLiteral("tv_vit.safetensors")));
    panel.resize(900, 600);
    test::saveScreenshot(&panel, QStringLiteral("gui_checkpoint"));
}

TEST(CheckpointPanel, ShowsAVideoSwinCheckpointStageByStage)
{
    CheckpointPanel panel;
    ASSERT_TRUE(openAndWait(&panel, kFixtures + QStringLiteral("/video_swin_noprefix.pth")))
        << panel.errorText().toStdString();
    QMap<QString, QString> rows;
    for (const auto& [key, value] : panel.inspection().rows)
        rows[key] = value;
    EXPECT_EQ(rows.value(QStringLiteral("format")), QStringLiteral("torch.save"));
    EXPECT_EQ(rows.value(QStringLiteral("naming")), QStringLiteral("video-swin"));
    EXPECT_EQ(rows.value(QStringLiteral("branches")), QStringLiteral("8"));
    bool stagesShown = false;
    for (const auto& [key, value] : panel.inspection().rows)
        stagesShown = stagesShown || value.contains(QStringLiteral("width 16"));
    EXPECT_TRUE(stagesShown) << "stage 2 (width 16) is listed";
    panel.resize(900, 600);
    test::saveScreenshot(&panel, QStringLiteral("gui_checkpoint_video_swin"));
}

TEST(CheckpointPanel, ShowsTheLoaderErrorForABrokenFile)
{
    CheckpointPanel panel;
    QSignalSpy opened(&panel, &CheckpointPanel::checkpointOpened);
    EXPECT_FALSE(openAndWait(&panel, kFixtures + QStringLiteral("/not_pytorch.zip")));
    EXPECT_FALSE(panel.errorText().isEmpty());
    EXPECT_FALSE(openAndWait(&panel, QStringLiteral("/nonexistent/model.safetensors")));
    EXPECT_EQ(opened.count(), 0);
    EXPECT_TRUE(panel.errorText().contains(QStringLiteral("/nonexistent/model.safetensors")))
        << panel.errorText().toStdString();
    EXPECT_EQ(panel.summaryTable()->rowCount(), 0);
}

TEST(CheckpointPanel, ShowsOnlyTheNewestOfOverlappingOpens)
{
    CheckpointPanel panel;
    panel.setHeadsOverride(4);
    QSignalSpy finished(&panel, &CheckpointPanel::inspectionFinished);
    panel.openFile(QStringLiteral("/nonexistent/first.safetensors"));
    panel.openFile(kFixtures + QStringLiteral("/tv_vit.safetensors"));
    ASSERT_TRUE(test::waitUntil([&] { return !panel.isBusy(); }, 60000));
    test::waitUntil([] { return false; }, 50);
    ASSERT_EQ(finished.count(), 1); // the first file's result arrived but was not shown
    EXPECT_TRUE(panel.inspection().ok) << panel.errorText().toStdString();
    EXPECT_TRUE(panel.errorText().isEmpty()) << panel.errorText().toStdString();
}

TEST(RunConfigPanel, ValidatesInlineNamingTheField)
{
    RunConfigPanel panel;
    ASSERT_TRUE(panel.setConfigJson(tinyConfig(QStringLiteral("config"), 2)));
    EXPECT_TRUE(panel.isValid()) << panel.validationMessage().toStdString();
    // The preview shows the planned path: α from 1 to 0.3 over τ = 60.
    const auto alphas = panel.schedulePreview()->seriesSamples(CoefficientView::kSeriesAlphaPlanned);
    ASSERT_GT(alphas.size(), 2u);
    EXPECT_NEAR(alphas.front().value, 1.0, 1e-12);
    EXPECT_NEAR(alphas.back().value, 0.3, 1e-12);

    panel.setValue(QStringLiteral("optim.batch_size"), 0);
    EXPECT_FALSE(panel.isValid());
    EXPECT_EQ(panel.invalidField(), QStringLiteral("optim.batch_size")) << panel.validationMessage().toStdString();
    EXPECT_TRUE(panel.validationMessage().contains(QStringLiteral("optim.batch_size")));
    panel.setValue(QStringLiteral("optim.batch_size"), 64);
    EXPECT_TRUE(panel.isValid());

    QString error;
    EXPECT_FALSE(panel.setConfigJson(QStringLiteral("[1, 2]"), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("JSON object"))) << error.toStdString();

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("run.json"));
    ASSERT_TRUE(panel.saveFile(path, &error)) << error.toStdString();
    RunConfigPanel other;
    ASSERT_TRUE(other.loadFile(path, &error)) << error.toStdString();
    EXPECT_EQ(other.configJson(), panel.configJson());
}

TEST(Workbench, TrainsPausesResumesStopsAndRecordsTheRun)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    // A finished conventional run of the same model, resolution and batch: the memory view's reference line.
    constexpr qint64 kConventionalPeak = qint64 { 48 } * 1024 * 1024;
    {
        RunStore store(database.toStdString());
        RunRecord conventional;
        conventional.name = "conv-reference";
        conventional.strategy = "conventional";
        conventional.configJson = tinyConfig(QStringLiteral("conv-reference"), 1)
                                      .replace(QStringLiteral("\"dr2net\""), QStringLiteral("\"conventional\""))
                                      .toStdString();
        store.finishRun(store.createRun(conventional), RunStatus::Finished, "{}", kConventionalPeak);
    }
    MainWindow window(database);
    window.resize(1500, 950);
    window.show();
    ASSERT_TRUE(openAndWait(window.checkpointPanel(), kFixtures + QStringLiteral("/tv_vit.safetensors"))
        || !window.checkpointPanel()->errorText().isEmpty());
    ASSERT_TRUE(window.configPanel()->setConfigJson(tinyConfig(QStringLiteral("gui-run"), 30)));
    ASSERT_TRUE(window.configPanel()->isValid()) << window.configPanel()->validationMessage().toStdString();

    QSignalSpy finished(window.session(), &TrainingSession::finished);
    QSignalSpy failed(window.session(), &TrainingSession::failed);
    test::GapMonitor gaps;
    QString error;
    ASSERT_TRUE(window.startRun(&error)) << error.toStdString();
    LossView* loss = window.livePage()->lossView();
    auto lossCount = [&] { return loss->seriesSamples(LossView::kSeriesLoss).size(); };
    ASSERT_TRUE(test::waitUntil([&] { return lossCount() >= 15 || !failed.isEmpty(); }, 120000))
        << "no loss samples; log:\n" << window.logPanel()->text().toStdString();
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    EXPECT_FALSE(window.livePage()->memoryView()->seriesSamples(MemoryView::kSeriesPeak).empty());
    EXPECT_FALSE(window.livePage()->coefficientView()->seriesSamples(CoefficientView::kSeriesAlpha).empty());
    EXPECT_GT(window.livePage()->lossView()->displayedPointCount(LossView::kSeriesLoss), 0);

    // The run is in the database while it trains.
    gaps.excluding([&] { window.runsPage()->reload(); }); // the test's own synchronous read
    ASSERT_EQ(window.runsPage()->runTable()->model()->rowCount(), 2) << window.runsPage()->errorText().toStdString();
    const qint64 runId = window.runsPage()->runTable()->model()->runs().first().id; // newest first
    EXPECT_EQ(window.runsPage()->runTable()->model()->runs().first().name, QStringLiteral("gui-run"));
    EXPECT_EQ(window.livePage()->memoryView()->referencePeak(), kConventionalPeak);
    EXPECT_TRUE(window.livePage()->memoryView()->referenceLabel().contains(QStringLiteral("conv-reference")))
        << window.livePage()->memoryView()->referenceLabel().toStdString();
    EXPECT_EQ(statusOf(window.runsPage(), runId), QStringLiteral("running"));

    window.togglePause();
    ASSERT_TRUE(window.session()->isPaused());
    test::waitUntil([] { return false; }, 600); // the iteration in flight completes
    const size_t pausedAt = lossCount();
    test::waitUntil([] { return false; }, 800);
    EXPECT_EQ(lossCount(), pausedAt) << "iterations continued while paused";
    // Grabbing the whole window takes ~100 ms of the test's own time: not a stall of the application.
    gaps.excluding([&] { test::saveScreenshot(&window, QStringLiteral("gui_live_paused")); });

    window.togglePause();
    ASSERT_FALSE(window.session()->isPaused());
    EXPECT_TRUE(test::waitUntil([&] { return lossCount() >= pausedAt + 5; }, 60000)) << "no progress after resume";

    window.stopRun();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() && !window.session()->isRunning(); }, 60000));
    const auto info = finished.first().first().value<RunFinishedInfo>();
    EXPECT_EQ(info.status, QStringLiteral("cancelled"));
    EXPECT_EQ(info.runId, runId);
    EXPECT_TRUE(info.recordingError.isEmpty()) << info.recordingError.toStdString();
    EXPECT_LT(info.iterations, 300);
    EXPECT_GT(info.peakBytes, 0);
    std::cout << "[ gui ] longest event-loop gap while training: " << gaps.longestMs() << " ms (GUI thread on CPU "
              << gaps.longestCpuMs() << " ms of it, waiting for a core " << gaps.longestRunQueueWaitMs() << " ms), ended " << gaps.longestEndMs() << " ms after the start ("
              << lossCount() << " iterations plotted)" << std::endl;
    EXPECT_LT(gaps.longestMs(), 500) << "the GUI thread stalled";

    // The runs page shows the recorded run with its final status (read in the background after the end).
    EXPECT_TRUE(test::waitUntil([&] { return statusOf(window.runsPage(), runId) == QStringLiteral("cancelled"); }, 10000))
        << statusOf(window.runsPage(), runId).toStdString();
    window.tabs()->setCurrentWidget(window.livePage());
    test::waitUntil([] { return false; }, 200);
    test::saveScreenshot(&window, QStringLiteral("gui_live"));
    window.tabs()->setCurrentWidget(window.runsPage());
    RunTableView* table = window.runsPage()->runTable();
    table->table()->selectRow(table->proxy()->mapFromSource(table->model()->index(table->model()->rowOf(runId), 0)).row());
    test::waitUntil([] { return false; }, 200);
    EXPECT_EQ(window.runsPage()->comparison()->overlayNames().size(), 1);
    test::saveScreenshot(&window, QStringLiteral("gui_runs"));
    window.tabs()->setCurrentWidget(window.configPanel());
    test::waitUntil([] { return false; }, 100);
    test::saveScreenshot(&window, QStringLiteral("gui_config"));

    // Headless report of the same run.
    const QString png = dir.filePath(QStringLiteral("report.png"));
    ASSERT_TRUE(ReportRenderer::render(database, QString::number(runId), png, &error)) << error.toStdString();
    const QImage image(png);
    EXPECT_EQ(image.width(), 1800);
    EXPECT_FALSE(ReportRenderer::render(database, QStringLiteral("no-such-run"), png, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("no-such-run"))) << error.toStdString();

    // The export action's work: every live plot as non-empty PNG, PDF, SVG and CSV at the chosen size.
    const QString exportDir = dir.filePath(QStringLiteral("export"));
    QStringList written;
    ASSERT_TRUE(window.exportPlotsTo(exportDir, QSize(640, 400), PlotView::CsvRange::Full, &written, &error))
        << error.toStdString();
    EXPECT_EQ(written.size(), 5 * 4);
    for (const QString& path : written)
        EXPECT_GT(QFileInfo(path).size(), 0) << path.toStdString();
    const QImage lossPng(exportDir + QStringLiteral("/loss.png"));
    EXPECT_EQ(lossPng.size(), QSize(640, 400));
    auto readAll = [](const QString& path) {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    };
    EXPECT_TRUE(readAll(exportDir + QStringLiteral("/memory.pdf")).startsWith("%PDF"));
    EXPECT_TRUE(readAll(exportDir + QStringLiteral("/coefficients.svg")).contains("<svg"));
    const QByteArray fullCsv = readAll(exportDir + QStringLiteral("/loss.csv"));
    EXPECT_TRUE(fullCsv.startsWith("series,iteration,value\n"));
    const qsizetype fullRows = fullCsv.count("\nloss,");
    EXPECT_EQ(fullRows, qsizetype(lossCount()));
    // "Visible range only": zoom the loss plot onto its first half, export again.
    {
        QCustomPlot* lossPlot = loss->plot();
        const QCPRange keys = lossPlot->xAxis->range();
        lossPlot->xAxis->setRange(keys.lower, keys.lower + keys.size() / 2);
    }
    ASSERT_TRUE(window.exportPlotsTo(exportDir, QSize(640, 400), PlotView::CsvRange::Visible, nullptr, &error))
        << error.toStdString();
    const qsizetype visibleRows = readAll(exportDir + QStringLiteral("/loss.csv")).count("\nloss,");
    EXPECT_GT(visibleRows, 0);
    EXPECT_LT(visibleRows, fullRows);
    // The finetuned checkpoint, exported from the runs page on a worker (the CLI's export).
    {
        QSignalSpy exported(window.runsPage(), &RunsPage::checkpointExported);
        const QString weights = dir.filePath(QStringLiteral("finetuned.safetensors"));
        window.runsPage()->exportCheckpoint(runId, weights);
        ASSERT_TRUE(test::waitUntil([&] { return !exported.isEmpty(); }, 60000));
        ASSERT_TRUE(exported.first().at(0).toBool()) << exported.first().at(1).toString().toStdString();
        EXPECT_EQ(exported.first().at(1).toString(), weights);
        const QByteArray head = readAll(weights).left(9);
        ASSERT_EQ(head.size(), 9);
        EXPECT_EQ(head.at(8), '{') << "not a safetensors header";
        window.runsPage()->exportCheckpoint(999999, dir.filePath(QStringLiteral("none.safetensors")));
        ASSERT_TRUE(test::waitUntil([&] { return exported.size() == 2; }, 60000));
        EXPECT_FALSE(exported.at(1).at(0).toBool());
        EXPECT_TRUE(exported.at(1).at(1).toString().contains(QStringLiteral("999999")))
            << exported.at(1).at(1).toString().toStdString();
        EXPECT_FALSE(QFileInfo::exists(dir.filePath(QStringLiteral("none.safetensors"))));
    }
    // The dialog's choices come back as set.
    ExportDialog dialog(exportDir);
    dialog.setChoices(exportDir, QSize(2000, 1000), PlotView::CsvRange::Visible);
    EXPECT_EQ(dialog.imageSize(), QSize(2000, 1000));
    EXPECT_EQ(dialog.csvRange(), PlotView::CsvRange::Visible);
    EXPECT_EQ(dialog.folder(), exportDir);
    window.close();
}

TEST(Workbench, HeatmapSweepFillsTheHeatmap)
{
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.sqlite")));
    window.resize(1500, 950);
    window.show();
    ASSERT_TRUE(window.configPanel()->setConfigJson(tinyConfig(QStringLiteral("sweep"), 1)));
    LivePage* live = window.livePage();
    live->setSweepGrid(QStringLiteral("0:1:0.5"), QStringLiteral("0.25,1"));
    QSignalSpy progress(window.sweeps(), &SweepSession::progress);
    QSignalSpy finished(window.sweeps(), &SweepSession::finished);
    QSignalSpy failed(window.sweeps(), &SweepSession::failed);
    QString error;
    ASSERT_TRUE(live->startSweep(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 120000));
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    EXPECT_EQ(progress.count(), 6);
    const auto result = finished.first().first().value<SweepResult>();
    ASSERT_EQ(result.values.size(), 6);
    EXPECT_TRUE(result.complete);
    for (double v : result.values)
        EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << v;
    HeatmapView* heatmap = live->heatmapView();
    EXPECT_EQ(heatmap->matrixSize(), QSize(3, 2));
    // Hidden pages are not redrawn until shown: hover on the visible page, as a user does.
    window.tabs()->setCurrentWidget(live);
    test::waitUntil([] { return false; }, 200);
    // Hovering the centre of the top-right cell reports α = 1, β = 1.
    QCustomPlot* plot = heatmap->plot();
    const QPointF pixel(plot->xAxis->coordToPixel(2.0), plot->yAxis->coordToPixel(1.0));
    const HeatmapCell cell = heatmap->cellAt(plot->mapTo(heatmap, pixel.toPoint()));
    ASSERT_TRUE(cell.valid);
    EXPECT_DOUBLE_EQ(cell.alpha, 1.0);
    EXPECT_DOUBLE_EQ(cell.beta, 1.0);
    EXPECT_DOUBLE_EQ(cell.value, result.values[2 * 2 + 1]);
    test::saveScreenshot(&window, QStringLiteral("gui_heatmap"));

    // Bad grids are refused with the field named, before any work.
    live->setSweepGrid(QStringLiteral("0:1:0.5"), QStringLiteral("0,1"));
    EXPECT_FALSE(live->startSweep(&error));
    EXPECT_TRUE(error.contains(QStringLiteral("β"))) << error.toStdString();
}

double meanOf(const QVector<double>& values)
{
    return std::accumulate(values.begin(), values.end(), 0.0) / double(std::max<qsizetype>(values.size(), 1));
}

// The float32 map and the bf16-autocast map of one sweep, side by side on one colour scale: a real sweep of a
// random tiny ViT (2 branches) on 2×2 cells per precision, through the page's precision box and SweepSession.
TEST(Workbench, HeatmapSweepInFloat32AndBfloat16SideBySide)
{
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.sqlite")));
    window.resize(1700, 950);
    window.show();
    ASSERT_TRUE(window.configPanel()->setConfigJson(tinyConfig(QStringLiteral("sweep2"), 1)));
    LivePage* live = window.livePage();
    window.tabs()->setCurrentWidget(live);
    // One precision keeps the page as it was; choosing both shows the second map's empty state beside the first.
    EXPECT_EQ(live->sweepPrecisions(), QStringList { QStringLiteral("fp32") });
    EXPECT_FALSE(live->showsSecondHeatmap());
    EXPECT_EQ(live->plots().size(), 5);
    ASSERT_TRUE(live->setSweepPrecisions({ QStringLiteral("fp32"), QStringLiteral("bf16") }));
    EXPECT_TRUE(live->showsSecondHeatmap());
    EXPECT_EQ(live->heatmapPrecisions(), (QStringList { QStringLiteral("fp32"), QStringLiteral("bf16") }));
    EXPECT_TRUE(live->secondHeatmapView()->emptyText().startsWith(QStringLiteral("no sweep in two precisions")));
    EXPECT_FALSE(live->setSweepPrecisions({ QStringLiteral("fp16") })); // CPU autocast computes bf16 only

    // α = 0 with β = 1 is where float32 reconstruction is nearly exact.
    live->setSweepGrid(QStringLiteral("0,0.5"), QStringLiteral("0.5,1"));
    QSignalSpy progress(window.sweeps(), &SweepSession::progress);
    QSignalSpy finished(window.sweeps(), &SweepSession::finished);
    QSignalSpy failed(window.sweeps(), &SweepSession::failed);
    QString error;
    ASSERT_TRUE(live->startSweep(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 120000));
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    // Progress counts the cells of both maps.
    ASSERT_EQ(progress.count(), 8);
    EXPECT_EQ(progress.last().at(0).toInt(), 8);
    EXPECT_EQ(progress.last().at(1).toInt(), 8);
    const auto result = finished.first().first().value<SweepResult>();
    EXPECT_TRUE(result.complete);
    ASSERT_EQ(result.maps.size(), 2);
    EXPECT_EQ(result.maps[0].precision, QStringLiteral("fp32"));
    EXPECT_EQ(result.maps[1].precision, QStringLiteral("bf16"));
    EXPECT_EQ(result.values, result.maps[0].values);
    const QVector<double>& fp32 = result.maps[0].values;
    const QVector<double>& bf16 = result.maps[1].values;
    ASSERT_EQ(fp32.size(), 4);
    ASSERT_EQ(bf16.size(), 4);
    for (const QVector<double>* map : { &fp32, &bf16 })
        for (double v : *map)
            EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << v;
    const double fp32Mean = meanOf(fp32);
    const double bf16Mean = meanOf(bf16);
    std::cout << "gradient MSE, fp32 map:";
    for (double v : fp32)
        std::cout << " " << v;
    std::cout << " (mean " << fp32Mean << ")\ngradient MSE, bf16 map:";
    for (double v : bf16)
        std::cout << " " << v;
    std::cout << " (mean " << bf16Mean << ")" << std::endl;
    // Row-major over α then β: cell 1 is (α = 0, β = 1).
    EXPECT_LT(fp32[1], 1e-8) << "float32 should reconstruct (0, 1) almost exactly";
    EXPECT_NE(fp32, bf16);
    // Over the grid bf16 is worse (measured here: mean 2e-14 against 1e-17, from the α = 0.5 cells). Not cell by
    // cell: at α = 0 the bf16 branch outputs have fewer bits to lose in x − F(x), and came out *below* float32.
    EXPECT_GT(bf16Mean, fp32Mean);

    // Both maps shown, same grid, titled with their precision, on one colour range covering both.
    HeatmapView* first = live->heatmapView();
    HeatmapView* second = live->secondHeatmapView();
    EXPECT_TRUE(live->showsSecondHeatmap());
    EXPECT_EQ(first->matrixSize(), QSize(2, 2));
    EXPECT_EQ(second->matrixSize(), first->matrixSize());
    EXPECT_EQ(live->heatmapPrecisions(), (QStringList { QStringLiteral("fp32"), QStringLiteral("bf16") }));
    const HeatmapRange a = first->colorRange();
    const HeatmapRange b = second->colorRange();
    ASSERT_TRUE(a.isValid());
    EXPECT_DOUBLE_EQ(a.low, b.low);
    EXPECT_DOUBLE_EQ(a.high, b.high);
    for (const QVector<double>* map : { &fp32, &bf16 })
        for (double v : *map)
            if (v > 0.0) {
                EXPECT_LE(a.low, v);
                EXPECT_GE(a.high, v);
            }
    EXPECT_DOUBLE_EQ(a.high,
        std::max(*std::max_element(fp32.begin(), fp32.end()), *std::max_element(bf16.begin(), bf16.end())));
    EXPECT_TRUE(live->sweepStatus().contains(QStringLiteral("float32 + bfloat16")))
        << live->sweepStatus().toStdString();
    EXPECT_EQ(live->plots().size(), 6);
    EXPECT_EQ(live->plotNames().last(), QStringLiteral("heatmap_bf16"));
    test::waitUntil([] { return false; }, 200);
    test::saveScreenshot(&window, QStringLiteral("gui_heatmap_two_precisions"));

    // Cancelled before the first cell ends: the float32 map holds that one cell, the bf16 map never began.
    finished.clear();
    ASSERT_TRUE(live->startSweep(&error)) << error.toStdString();
    window.sweeps()->cancel();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 120000));
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    const auto cancelled = finished.first().first().value<SweepResult>();
    EXPECT_FALSE(cancelled.complete);
    ASSERT_EQ(cancelled.maps.size(), 2);
    EXPECT_EQ(std::count_if(cancelled.maps[0].values.begin(), cancelled.maps[0].values.end(),
                  [](double v) { return !std::isnan(v); }),
        1);
    EXPECT_TRUE(std::all_of(cancelled.maps[1].values.begin(), cancelled.maps[1].values.end(),
        [](double v) { return std::isnan(v); }));
    EXPECT_EQ(live->sweepStatus(), QStringLiteral("cancelled"));
    EXPECT_EQ(first->matrixSize(), QSize(2, 2));
    EXPECT_TRUE(second->matrixSize().isEmpty());
    EXPECT_TRUE(second->emptyText().contains(QStringLiteral("cancelled"))) << second->emptyText().toStdString();
    EXPECT_TRUE(live->showsSecondHeatmap()); // still chosen: its empty state says why it is empty

    // Back to one precision: the next sweep shows one map and the page as it was.
    ASSERT_TRUE(live->setSweepPrecisions({ QStringLiteral("fp32") }));
    live->setSweepGrid(QStringLiteral("0"), QStringLiteral("1"));
    finished.clear();
    ASSERT_TRUE(live->startSweep(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 120000));
    EXPECT_EQ(finished.first().first().value<SweepResult>().maps.size(), 1);
    EXPECT_FALSE(live->showsSecondHeatmap());
    EXPECT_EQ(first->matrixSize(), QSize(1, 1));
    EXPECT_EQ(live->plots().size(), 5);
}

// A sweep recorded in two precisions keeps both maps in the run's arrays ("sweep", "sweep_bf16"); the report
// still picks the float32 one, and bad precision lists are refused before any work.
TEST(Workbench, RecordedSweepHoldsBothPrecisionMaps)
{
    QTemporaryDir dir;
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    SweepSession sweeps;
    SweepRequest request;
    request.configJson = tinyConfig(QStringLiteral("recorded"), 1);
    request.alphas = { 0.0, 0.5 };
    request.betas = { 1.0 };
    request.batchSize = 2;
    request.randomBatch = true;
    request.databasePath = database;
    QString error;
    request.precisions = { QStringLiteral("fp32"), QStringLiteral("fp32") };
    EXPECT_FALSE(sweeps.start(request, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("twice"))) << error.toStdString();
    request.precisions = { QStringLiteral("fp16") };
    EXPECT_FALSE(sweeps.start(request, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("precisions"))) << error.toStdString();
    EXPECT_FALSE(SweepSession::availablePrecisions().contains(QStringLiteral("fp16")));

    request.precisions = { QStringLiteral("fp32"), QStringLiteral("bf16") };
    QSignalSpy finished(&sweeps, &SweepSession::finished);
    QSignalSpy failed(&sweeps, &SweepSession::failed);
    ASSERT_TRUE(sweeps.start(request, &error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 120000));
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    const auto result = finished.first().first().value<SweepResult>();

    RunStore store(database.toStdString());
    const std::vector<RunRecord> runs = store.listRuns();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].strategy, "heatmap");
    std::string arrays;
    for (const ArtifactRecord& artifact : store.artifacts(runs[0].id))
        if (artifact.kind == "arrays")
            arrays = artifact.path;
    ASSERT_FALSE(arrays.empty());
    {
        RunArrayFile file(arrays, RunArrayFile::Mode::Read);
        EXPECT_EQ(file.heatmapNames(), (std::vector<std::string> { "sweep", "sweep_bf16" }));
        const HeatmapRecord fp32 = file.readHeatmap("sweep");
        const HeatmapRecord bf16 = file.readHeatmap("sweep_bf16");
        EXPECT_EQ(fp32.alphas, bf16.alphas);
        EXPECT_EQ(fp32.betas, bf16.betas);
        ASSERT_EQ(bf16.metrics.at("mse").size(), 2u);
        for (int i = 0; i < 2; ++i) {
            EXPECT_DOUBLE_EQ(fp32.metrics.at("mse")[size_t(i)], result.maps[0].values[i]);
            EXPECT_DOUBLE_EQ(bf16.metrics.at("mse")[size_t(i)], result.maps[1].values[i]);
        }
    }
    const ReportHeatmap shown = ReportData::findHeatmap(store, runs[0]);
    ASSERT_TRUE(shown.heatmap.has_value()) << shown.description.toStdString();
    EXPECT_EQ(shown.heatmap->name, "sweep");
}

} // namespace
} // namespace dr2
