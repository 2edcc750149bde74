// The prediction preview in the workbench: events given to the real TrainingSession observer (on a worker thread, as
// the Trainer calls it) reach the live page's preview, coalesced to the newest; mIoU is the primary metric the page
// plots; a classification run keeps its page without the panel. A recorded segmentation run shows its last preview
// on the runs page and in the headless report.
// LibTorch before Qt: Qt's `slots` macro breaks torch's headers when they come second.
#include "tests/recording/preview_events.h"

#include "tests/gui/gui_test_support.h"

#include "app/gui/live_page.h"
#include "app/gui/main_window.h"
#include "app/gui/report_renderer.h"
#include "app/gui/runs_page.h"
#include "app/gui/training_session.h"
#include "app/recording/run_preview.h"
#include "app/recording/run_recording_observer.h"
#include "widgets/loss_view.h"
#include "widgets/run_table_model.h"
#include "widgets/run_table_view.h"
#include "widgets/segmentation_preview.h"

#include <QFileInfo>
#include <QImage>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <thread>

namespace dr2 {
namespace {

QByteArray bytesOf(const std::vector<uint8_t>& pixels)
{
    return { reinterpret_cast<const char*>(pixels.data()), qsizetype(pixels.size()) };
}

TEST(PredictionPreview, ReachesTheLivePageThroughTheSessionObserver)
{
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.sqlite")));
    window.resize(1500, 950);
    window.show();
    TrainingSession* session = window.session();
    LivePage* live = window.livePage();
    EXPECT_FALSE(live->showsPreview()) << "no panel before a segmentation run";

    QSignalSpy previewed(session, &TrainingSession::previewed);
    const std::shared_ptr<TrainObserver> observer = session->createObserver();
    const PredictionPreviewEvent newest = test::makePreviewEvent(/*iteration=*/14, /*channels=*/1, /*seed=*/7, 4);
    // As the Trainer does: on its own thread, an evaluation and then previews (five in a burst, faster than the
    // GUI thread takes them).
    std::thread trainer([&] {
        observer->onStarted(test::segmentationRunStarted(QStringLiteral("seg-live").toStdString()));
        EvaluationEvent evaluation;
        evaluation.iteration = 10;
        evaluation.metrics = { { "miou", 0.42 }, { "pixel_acc", 0.9 }, { "loss", 0.7 }, { "iou/background", 0.95 },
            { "iou/T-shirt_top", 0.3 } };
        observer->onEvaluation(evaluation);
        for (int64_t k = 10; k < 14; ++k)
            observer->onPreview(test::makePreviewEvent(k, /*channels=*/1, /*seed=*/uint32_t(k), 4));
        observer->onPreview(newest);
    });
    trainer.join();
    ASSERT_TRUE(test::waitUntil([&] { return !previewed.isEmpty(); }, 10000));
    test::waitUntil([] { return false; }, 200); // anything else queued arrives too
    EXPECT_EQ(previewed.count(), 1) << "previews waiting for the GUI thread are coalesced to the newest";

    EXPECT_TRUE(live->showsPreview());
    SegmentationPreview* view = live->previewView();
    ASSERT_TRUE(view->hasPreview());
    const PreviewImages& shown = view->preview();
    EXPECT_EQ(shown.iteration, 14);
    EXPECT_EQ(shown.epoch, 1);
    EXPECT_EQ(shown.width, 24);
    EXPECT_EQ(shown.height, 16);
    ASSERT_EQ(shown.samples.size(), 4);
    EXPECT_EQ(shown.samples[3].image, bytesOf(newest.samples[3].image));
    EXPECT_EQ(shown.samples[0].truth, bytesOf(newest.samples[0].truth));
    EXPECT_EQ(shown.samples[2].prediction, bytesOf(newest.samples[2].prediction));
    EXPECT_EQ(shown.classNames.at(1), QStringLiteral("T-shirt/top"));
    EXPECT_EQ(view->caption(), QStringLiteral("iteration 14 · epoch 1"));

    // mIoU is the primary metric: the loss view's evaluation trace shows it, labelled as the task names it.
    LossView* loss = live->lossView();
    ASSERT_TRUE(test::waitUntil([&] { return !loss->seriesSamples(LossView::kSeriesTop1).empty(); }, 5000));
    EXPECT_DOUBLE_EQ(loss->seriesSamples(LossView::kSeriesTop1).front().value, 0.42);
    EXPECT_EQ(loss->plot()->yAxis2->label(), QStringLiteral("mIoU (%)"));

    // On screen, the panel draws the truth where the preview says (a labelled pixel of scene 0: class colour over
    // the input).
    window.tabs()->setCurrentWidget(live);
    test::waitUntil([] { return false; }, 200);
    ASSERT_TRUE(view->isVisible());
    const QImage grabbed = view->grab().toImage();
    const QRect truth = view->panelRect(0, SegmentationPreview::Panel::Truth, view->rect());
    ASSERT_FALSE(truth.isEmpty());
    const int x = 8;
    const int y = 5; // inside the border; its truth class:
    const size_t pixel = size_t(y) * 24 + size_t(x);
    const int label = int(newest.samples[0].truth[pixel]);
    const int grey = int(newest.samples[0].image[pixel]);
    const QColor expected = view->overlay(label, QColor(grey, grey, grey));
    const qreal ratio = grabbed.devicePixelRatio();
    const QColor found = grabbed.pixelColor(int((truth.left() + (x + 0.5) * truth.width() / 24) * ratio),
        int((truth.top() + (y + 0.5) * truth.height() / 16) * ratio));
    EXPECT_NEAR(found.red(), expected.red(), 2);
    EXPECT_NEAR(found.green(), expected.green(), 2);
    EXPECT_NEAR(found.blue(), expected.blue(), 2);
    test::saveScreenshot(&window, QStringLiteral("gui_live_segmentation"));

    // "Export plots" writes the preview too (pictures only, no CSV).
    QStringList written;
    QString error;
    ASSERT_TRUE(window.exportPlotsTo(
        dir.filePath(QStringLiteral("export")), QSize(640, 400), PlotView::CsvRange::Full, &written, &error))
        << error.toStdString();
    EXPECT_EQ(written.size(), 5 * 4 + 3);
    EXPECT_TRUE(written.contains(dir.filePath(QStringLiteral("export/preview.svg"))));
    EXPECT_EQ(QImage(dir.filePath(QStringLiteral("export/preview.png"))).size(), QSize(640, 400));

    // The next run is a classification run: its page has no preview panel, as before previews existed.
    const std::shared_ptr<TrainObserver> classification = session->createObserver();
    RunStartedEvent started = test::segmentationRunStarted("cls");
    started.task = "classification";
    started.metrics = { { "top1", "top-1", true, true }, { "loss", "loss", false, false } };
    QSignalSpy startedSpy(session, &TrainingSession::started);
    classification->onStarted(started);
    ASSERT_TRUE(test::waitUntil([&] { return !startedSpy.isEmpty(); }, 5000));
    EXPECT_FALSE(live->showsPreview());
    EXPECT_FALSE(view->isVisible());
    EXPECT_FALSE(view->hasPreview()) << "the last run's preview is gone";
    written.clear();
    ASSERT_TRUE(window.exportPlotsTo(
        dir.filePath(QStringLiteral("export2")), QSize(640, 400), PlotView::CsvRange::Full, &written, &error));
    EXPECT_EQ(written.size(), 5 * 4);
    window.close();
}

TEST(PredictionPreview, ARecordedRunShowsItsLastPreviewOnTheRunsPageAndInItsReport)
{
    QTemporaryDir dir;
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    qint64 runId = 0;
    {
        RunRecordingObserver recording(database.toStdString());
        recording.onStarted(test::segmentationRunStarted("seg-recorded"));
        EvaluationEvent evaluation;
        evaluation.iteration = 19;
        evaluation.metrics = { { "miou", 0.5 }, { "pixel_acc", 0.8 }, { "loss", 0.6 }, { "iou/T-shirt_top", 0.25 } };
        recording.onEvaluation(evaluation);
        recording.onPreview(test::makePreviewEvent(/*iteration=*/9, /*channels=*/3, /*seed=*/1));
        recording.onPreview(test::makePreviewEvent(/*iteration=*/19, /*channels=*/3, /*seed=*/2));
        RunFinishedEvent finished;
        finished.iterations = 20;
        finished.primaryMetric = "miou";
        finished.bestPrimary = 0.5;
        finished.finalMetrics = evaluation.metrics;
        recording.onFinished(finished);
        ASSERT_TRUE(recording.error().empty()) << recording.error();
        runId = recording.runId();
    }

    MainWindow window(database);
    window.resize(1500, 950);
    window.show();
    RunsPage* runs = window.runsPage();
    window.tabs()->setCurrentWidget(runs);
    ASSERT_TRUE(runs->reload()) << runs->errorText().toStdString();
    RunTableView* table = runs->runTable();
    const int row = table->model()->rowOf(runId);
    ASSERT_GE(row, 0);
    EXPECT_EQ(table->model()->runs().at(row).primaryLabel, QStringLiteral("mIoU"));
    table->table()->selectRow(table->proxy()->mapFromSource(table->model()->index(row, 0)).row());
    ASSERT_TRUE(test::waitUntil([&] { return runs->previewRunId() == runId; }, 10000));
    EXPECT_TRUE(runs->preview()->isVisible());
    EXPECT_EQ(runs->preview()->preview().iteration, 19);
    EXPECT_EQ(runs->preview()->preview().channels, 3);
    test::saveScreenshot(&window, QStringLiteral("gui_runs_segmentation"));
    table->table()->clearSelection();
    ASSERT_TRUE(test::waitUntil([&] { return runs->previewRunId() == 0; }, 5000));
    EXPECT_FALSE(runs->preview()->isVisible());

    // The report's figures end with the preview; the HTML embeds it like the plots.
    for (const QString& name : { QStringLiteral("report.png"), QStringLiteral("report.html") }) {
        const QString out = dir.filePath(name);
        QString error;
        ReportLayout layout;
        ASSERT_TRUE(ReportRenderer::render(database, QString::number(runId), out, &error, &layout))
            << error.toStdString();
        ASSERT_FALSE(layout.figureTitles.isEmpty());
        EXPECT_EQ(layout.figureTitles.last(), QStringLiteral("Prediction preview at iteration 19"))
            << layout.figureTitles.join(QLatin1Char('|')).toStdString();
        if (name.endsWith(QLatin1String(".png"))) {
            const QImage image(out);
            const QRect rect = layout.figureRects.last();
            // The figure is not blank: the scenes' random pixels give it many colours.
            QSet<QRgb> colours;
            for (int y = rect.top(); y <= rect.bottom(); y += 2)
                for (int x = rect.left(); x <= rect.right(); x += 2)
                    colours.insert(image.pixel(x, y));
            EXPECT_GT(colours.size(), 200);
        } else {
            EXPECT_EQ(layout.embeddedImages, layout.figureTitles.size());
        }
    }
    window.close();
}

} // namespace
} // namespace dr2
