// Headless reports (`dr2net --report` / `--compare`): PDF, PNG and self-contained HTML of recorded runs, the
// heatmap rule, and the errors that must leave no file. The runs are written by the real RunRecorder into a
// temporary SQLite database with HDF5 files, as training writes them.
#include "app/gui/report_data.h"
#include "app/gui/report_renderer.h"
#include "storage/run_recorder.h"
#include "storage/run_store.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QPainter>
#include <QPdfWriter>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace dr2 {
namespace {

    // The run names carry HTML metacharacters: the HTML report must escape them.
    const QString kDr2Name = QStringLiteral("dr2 <b>\"fine\" & 'tune'");
    const QString kDr2NameEscaped = QStringLiteral("dr2 &lt;b&gt;&quot;fine&quot; &amp; &#39;tune&#39;");
    const std::string kShaPretrained(64, 'a');
    const std::string kShaOther(64, 'b');

    std::string config(const std::string& strategy)
    {
        return R"({"name": "x", "strategy": ")" + strategy
            + R"(", "model": {"embed_dim": 64, "depth": 2, "heads": 4, "image_size": 28, "patch_size": 4},
                 "optim": {"batch_size": 64, "epochs": 2},
                 "schedule": {"start": {"alpha": 1, "beta": 0.1}, "end": {"alpha": 0.3, "beta": 0.7},
                              "tau_iterations": 200, "eta": 1},
                 "probe": {"every": 100}})";
    }

    RunRecord runRecord(const QString& name, const std::string& strategy, const std::string& sha)
    {
        RunRecord run;
        run.name = name.toStdString();
        run.strategy = strategy;
        run.modelSummary = "vit 64d×2 (4 branches), 28² patch 4";
        run.configJson = config(strategy);
        if (!sha.empty()) {
            run.sourceCheckpoint = "/data/pretrained-" + sha.substr(0, 1) + ".safetensors";
            run.sourceSha256 = sha;
        }
        run.tags = { "test" };
        return run;
    }

    /// A heatmap run of one checkpoint: a 3×4 gradient-error grid, worst at α = 1 and small β.
    int64_t addHeatmapRun(const QString& db, const QString& dir, const QString& name, const std::string& sha)
    {
        RunRecorderOptions options;
        options.arraysPath = QDir(dir).filePath(name + QStringLiteral(".h5")).toStdString();
        RunRecorder recorder(db.toStdString(), runRecord(name, "heatmap", sha), options);
        HeatmapRecord heatmap;
        heatmap.name = "pretrained";
        heatmap.alphas = { 0.0, 0.5, 1.0 };
        heatmap.betas = { 0.25, 0.5, 0.75, 1.0 };
        for (double a : heatmap.alphas)
            for (double b : heatmap.betas)
                heatmap.metrics["mse"].push_back(std::pow(10.0, -12.0 + 10.0 * a - 4.0 * b));
        recorder.addHeatmap(heatmap);
        recorder.close(RunStatus::Finished, R"({"points": 12})");
        return recorder.runId();
    }

    /// A training run: 300 iterations of loss, lr, α, β and memory, 3 evaluations, probes, the planned path.
    int64_t addTrainingRun(const QString& db, const QString& dir, const QString& name, const std::string& strategy,
        const std::string& sha, double memoryScale)
    {
        RunRecorderOptions options;
        options.arraysPath = QDir(dir).filePath(QStringLiteral("train-%1.h5").arg(qHash(name))).toStdString();
        RunRecorder recorder(db.toStdString(), runRecord(name, strategy, sha), options);
        const bool dynamic = strategy == "dr2net";
        recorder.addEvent(
            { {}, 0, "debug", R"(planned (iteration, alpha, beta) path: [[0,1,0.1],[100,0.65,0.4],[200,0.3,0.7]])" });
        const int iterations = 300;
        for (int i = 0; i < iterations; ++i) {
            const double t = std::min(1.0, i / 200.0);
            const double alpha = dynamic ? 1.0 - 0.7 * t : 1.0;
            const double beta = dynamic ? 0.1 + 0.6 * t : 0.0;
            const double loss = 2.3 * std::exp(-i / 120.0) + 0.2 + 0.05 * std::sin(i * 0.7);
            const double current = memoryScale * (40e6 + 1e6 * std::sin(i * 0.3));
            recorder.addScalars(i,
                { { "loss", loss }, { "lr", 1e-3 * (1.0 - i / double(iterations)) }, { "alpha", alpha },
                    { "beta", beta }, { "current_bytes", current }, { "peak_bytes", current * 1.5 },
                    { "held_bytes", 20e6 } });
            recorder.addMemorySample({ i, int64_t(current), int64_t(current * 1.5) });
            if (i % 100 == 99) {
                const int64_t hundreds = i / 100; // top-1 rises in steps: 0.5, 0.6, ...
                recorder.addEvaluation({ i, "val", { { "top1", 0.5 + 0.1 * double(hundreds) }, { "loss", loss } } });
            }
            if (dynamic && i % 100 == 0)
                recorder.addProbe({ i, alpha, beta, { { "mse", 1e-6 } }, {} });
        }
        recorder.close(RunStatus::Finished,
            R"({"iterations": 300, "best_top1": 0.7, "final_top1": 0.7, "final_loss": 0.31, "seconds": 95.5,
                "seconds_per_iteration": 0.318, "peak_bytes": 1, "peak_step_bytes": 55000000})");
        return recorder.runId();
    }

    QByteArray readAll(const QString& path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }

    int pdfPageCount(const QByteArray& pdf)
    {
        // Page objects, not the /Type /Pages tree node.
        static const QRegularExpression page(QStringLiteral("/Type\\s*/Page(?![a-zA-Z])"));
        int count = 0;
        auto it = page.globalMatch(QString::fromLatin1(pdf));
        while (it.hasNext()) {
            it.next();
            ++count;
        }
        return count;
    }

    int distinctColours(const QImage& image, const QRect& rect)
    {
        QSet<QRgb> colours;
        for (int y = rect.top(); y <= rect.bottom(); ++y)
            for (int x = rect.left(); x <= rect.right(); ++x)
                colours.insert(image.pixel(x, y));
        return colours.size();
    }

    /// Pixels in the colours of data (curves, fills, the colour map): chroma above 60, where text, axes and grid
    /// are grey. An empty plot has only its legend samples (a few hundred pixels).
    int dataPixels(const QImage& image, const QRect& rect)
    {
        int count = 0;
        for (int y = rect.top(); y <= rect.bottom(); ++y)
            for (int x = rect.left(); x <= rect.right(); ++x) {
                const QColor c = image.pixelColor(x, y);
                count += std::max({ c.red(), c.green(), c.blue() }) - std::min({ c.red(), c.green(), c.blue() }) > 60;
            }
        return count;
    }

    QStringList entries(const QString& dir)
    {
        return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot);
    }

    class Report : public ::testing::Test {
    protected:
        static void SetUpTestSuite()
        {
            s_dir = std::make_unique<QTemporaryDir>();
            ASSERT_TRUE(s_dir->isValid());
            s_db = s_dir->filePath(QStringLiteral("runs.sqlite"));
            const QString files = s_dir->filePath(QStringLiteral("files"));
            QDir().mkpath(files);
            s_heatmapRun = addHeatmapRun(s_db, files, QStringLiteral("heatmap-pretrained"), kShaPretrained);
            s_conventionalRun = addTrainingRun(
                s_db, files, QStringLiteral("conventional-baseline"), "conventional", kShaPretrained, 2.0);
            s_dr2Run = addTrainingRun(s_db, files, kDr2Name, "dr2net", kShaPretrained, 1.0);
            s_scratchRun = addTrainingRun(s_db, files, QStringLiteral("scratch"), "reversible-scratch", "", 1.0);
            // Newer than the first heatmap run but of another checkpoint: must not be chosen for the dr2 run.
            s_otherHeatmapRun = addHeatmapRun(s_db, files, QStringLiteral("heatmap-other"), kShaOther);
        }
        static void TearDownTestSuite() { s_dir.reset(); }

        QString out(const QString& name) const { return m_out.filePath(name); }

        QTemporaryDir m_out;
        static inline std::unique_ptr<QTemporaryDir> s_dir;
        static inline QString s_db;
        static inline int64_t s_heatmapRun = 0;
        static inline int64_t s_conventionalRun = 0;
        static inline int64_t s_dr2Run = 0;
        static inline int64_t s_scratchRun = 0;
        static inline int64_t s_otherHeatmapRun = 0;
    };

    TEST_F(Report, HeatmapComesFromTheNewestFinishedHeatmapRunOfTheSameCheckpoint)
    {
        RunStore store(s_db.toStdString(), /*createIfMissing=*/false);
        const ReportHeatmap borrowed = ReportData::findHeatmap(store, *store.findRun(s_dr2Run));
        ASSERT_TRUE(borrowed.heatmap.has_value()) << borrowed.description.toStdString();
        EXPECT_EQ(borrowed.sourceRunId, s_heatmapRun);
        EXPECT_EQ(borrowed.metric, QStringLiteral("mse"));
        EXPECT_EQ(borrowed.heatmap->alphas.size(), 3u);
        EXPECT_EQ(borrowed.heatmap->betas.size(), 4u);
        EXPECT_TRUE(borrowed.description.contains(QStringLiteral("#%1").arg(s_heatmapRun)))
            << borrowed.description.toStdString();

        const ReportHeatmap own = ReportData::findHeatmap(store, *store.findRun(s_otherHeatmapRun));
        ASSERT_TRUE(own.heatmap.has_value());
        EXPECT_EQ(own.sourceRunId, s_otherHeatmapRun);
        EXPECT_TRUE(own.description.contains(QStringLiteral("own"))) << own.description.toStdString();

        // No checkpoint: no heatmap of the database applies, and the description says so.
        const ReportHeatmap none = ReportData::findHeatmap(store, *store.findRun(s_scratchRun));
        EXPECT_FALSE(none.heatmap.has_value());
        EXPECT_TRUE(none.description.startsWith(QStringLiteral("no heatmap panel"))) << none.description.toStdString();

        // The path the dr2 run took: from (1, 0.1) to (0.3, 0.7), one point per change.
        const RunReportData data = ReportData::load(store, QString::number(s_dr2Run));
        ASSERT_GE(data.pathAlphas.size(), 100u);
        EXPECT_DOUBLE_EQ(data.pathAlphas.front(), 1.0);
        EXPECT_NEAR(data.pathBetas.back(), 0.7, 1e-12);
        EXPECT_EQ(data.plannedIterations.size(), 3u);
        ASSERT_TRUE(data.conventional.has_value());
        EXPECT_EQ(data.conventional->runId, s_conventionalRun);
        EXPECT_EQ(data.iterations.value_or(0), 300);
    }

    TEST_F(Report, PdfIsVectorA4LandscapeWithTheExpectedPages)
    {
        const QString pdf = out(QStringLiteral("report.pdf"));
        QString error;
        ReportLayout layout;
        ASSERT_TRUE(ReportRenderer::render(s_db, QString::number(s_dr2Run), pdf, &error, &layout))
            << error.toStdString();
        const QByteArray bytes = readAll(pdf);
        ASSERT_TRUE(bytes.startsWith("%PDF-"));
        // Metadata page, then the four figures (loss, memory, α/β, heatmap) 2×2 on one page.
        EXPECT_EQ(layout.figureTitles.size(), 4) << layout.figureTitles.join(QLatin1Char('|')).toStdString();
        EXPECT_TRUE(layout.figureTitles.last().contains(QStringLiteral("run #%1").arg(s_heatmapRun)));
        EXPECT_EQ(layout.pages, 2);
        EXPECT_EQ(pdfPageCount(bytes), 2);
        // A4 landscape: 842 x 595 points.
        const QRegularExpressionMatch box
            = QRegularExpression(QStringLiteral("/MediaBox\\s*\\[\\s*0\\s+0\\s+([0-9.]+)\\s+([0-9.]+)"))
                  .match(QString::fromLatin1(bytes));
        ASSERT_TRUE(box.hasMatch());
        EXPECT_NEAR(box.captured(1).toDouble(), 841.9, 1.0);
        EXPECT_NEAR(box.captured(2).toDouble(), 595.3, 1.0);

        // An empty A4 page of the same writer, for scale: the report carries real drawing.
        const QString empty = out(QStringLiteral("empty.pdf"));
        {
            QPdfWriter writer(empty);
            writer.setPageSize(QPageSize(QPageSize::A4));
            QPainter painter(&writer);
        }
        const qint64 emptySize = QFileInfo(empty).size();
        ASSERT_GT(emptySize, 0);
        EXPECT_GT(bytes.size(), 4 * emptySize) << bytes.size() << " vs empty " << emptySize;
        EXPECT_EQ(entries(m_out.path()), QStringList({ QStringLiteral("empty.pdf"), QStringLiteral("report.pdf") }));

        // Without a heatmap the run has three figures, still on one figure page, and no raster image at all: the
        // curves and text are vector drawing (the heatmap's colour map is the only image a report embeds).
        ASSERT_TRUE(ReportRenderer::render(s_db, QStringLiteral("scratch"), pdf, &error, &layout))
            << error.toStdString();
        EXPECT_EQ(layout.figureTitles.size(), 3);
        const QByteArray scratch = readAll(pdf);
        EXPECT_EQ(pdfPageCount(scratch), 2);
        EXPECT_FALSE(scratch.contains("/Subtype /Image"));
        EXPECT_TRUE(bytes.contains("/Subtype /Image"));
        EXPECT_GT(scratch.size(), 4 * emptySize);
    }

    TEST_F(Report, PngDrawsEveryPlotWhereTheLayoutSays)
    {
        const QString png = out(QStringLiteral("report.png"));
        QString error;
        ReportLayout layout;
        ASSERT_TRUE(ReportRenderer::render(s_db, kDr2Name, png, &error, &layout)) << error.toStdString();
        const QImage image(png);
        ASSERT_FALSE(image.isNull());
        EXPECT_EQ(image.width(), 1800);
        EXPECT_EQ(image.size(), layout.imageSize);
        ASSERT_EQ(layout.figureRects.size(), 4);
        for (int i = 0; i < layout.figureRects.size(); ++i) {
            const QRect rect = layout.figureRects[i];
            ASSERT_TRUE(image.rect().contains(rect)) << i;
            // Antialiased curves, text and (for the heatmap) the colour map; a blank plot has one colour.
            EXPECT_GT(distinctColours(image, rect), 100) << layout.figureTitles[i].toStdString();
            EXPECT_GT(dataPixels(image, rect), 1500) << layout.figureTitles[i].toStdString();
        }
        // The header above the plots is not empty either.
        EXPECT_GT(distinctColours(image, QRect(0, 0, 1800, layout.figureRects.first().top())), 20);

        // The heatmap run has no scalar series: its curve plots stay without data, its own heatmap is drawn.
        ASSERT_TRUE(ReportRenderer::render(s_db, QStringLiteral("heatmap-pretrained"), png, &error, &layout))
            << error.toStdString();
        const QImage heatmapOnly(png);
        ASSERT_EQ(layout.figureRects.size(), 4);
        EXPECT_LT(dataPixels(heatmapOnly, layout.figureRects[0]), 1000);
        EXPECT_GT(dataPixels(heatmapOnly, layout.figureRects[3]), 50000); // the colour map fills the axis rect
    }

    TEST_F(Report, HtmlIsOneSelfContainedFileWithEscapedNames)
    {
        const QString html = out(QStringLiteral("report.html"));
        QString error;
        ReportLayout layout;
        ASSERT_TRUE(ReportRenderer::render(s_db, QString::number(s_dr2Run), html, &error, &layout))
            << error.toStdString();
        const QString text = QString::fromUtf8(readAll(html));
        EXPECT_TRUE(text.startsWith(QStringLiteral("<!DOCTYPE html>")));
        EXPECT_TRUE(text.trimmed().endsWith(QStringLiteral("</html>")));
        EXPECT_TRUE(text.contains(kDr2NameEscaped));
        EXPECT_FALSE(text.contains(QStringLiteral("<b>\"fine\"")));
        EXPECT_FALSE(text.contains(QStringLiteral("http:"), Qt::CaseInsensitive));
        EXPECT_FALSE(text.contains(QStringLiteral("https:"), Qt::CaseInsensitive));
        EXPECT_FALSE(text.contains(QStringLiteral("src=\"//")));
        EXPECT_FALSE(text.contains(QStringLiteral("<link")));
        EXPECT_FALSE(text.contains(QStringLiteral("<script")));
        EXPECT_TRUE(text.contains(QStringLiteral("Conventional")) || text.contains(QStringLiteral("conventional")));

        const QString prefix = QStringLiteral("src=\"data:image/png;base64,");
        int images = 0;
        for (int at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
            const int start = at + prefix.size();
            const int end = text.indexOf(QLatin1Char('"'), start);
            ASSERT_GT(end, start);
            const QImage image
                = QImage::fromData(QByteArray::fromBase64(text.mid(start, end - start).toLatin1()), "PNG");
            ASSERT_FALSE(image.isNull()) << "image " << images;
            EXPECT_EQ(image.size(), QSize(900, 520));
            EXPECT_GT(dataPixels(image, image.rect()), 1500) << "image " << images;
            ++images;
        }
        EXPECT_EQ(images, 4);
        EXPECT_EQ(layout.embeddedImages, 4);
        EXPECT_EQ(text.count(QStringLiteral("<img")), 4);
    }

    TEST_F(Report, ComparisonShowsEveryRunAndTable2)
    {
        QString error;
        ReportLayout layout;
        const QString html = out(QStringLiteral("compare.html"));
        ASSERT_TRUE(ReportRenderer::renderComparison(
            s_db, { QString::number(s_dr2Run), QStringLiteral("conventional-baseline") }, html, &error, &layout))
            << error.toStdString();
        const QString text = QString::fromUtf8(readAll(html));
        EXPECT_TRUE(text.contains(kDr2NameEscaped));
        EXPECT_TRUE(text.contains(QStringLiteral("conventional-baseline (#%1)").arg(s_conventionalRun)));
        EXPECT_TRUE(text.contains(QStringLiteral("Table 2")));
        EXPECT_TRUE(text.contains(QStringLiteral("Dr²Net (dynamic α/β)")));
        EXPECT_TRUE(text.contains(QStringLiteral("Conventional finetuning")));
        // dr2 peaks at 1.5 × 41 MB, conventional at twice that: 50.0 % of conventional.
        EXPECT_TRUE(text.contains(QStringLiteral("50.0 %"))) << "Table 2 memory ratio";
        EXPECT_EQ(layout.embeddedImages, 5);
        EXPECT_EQ(text.count(QStringLiteral("data:image/png;base64,")), 5);
        // The config diff lists only the keys that differ (the strategy does), then parallel coordinates.
        EXPECT_TRUE(text.contains(QStringLiteral("Config diff (only the keys whose values differ)")));
        EXPECT_TRUE(text.contains(QStringLiteral("<td>strategy</td>"))) << "config diff row";
        EXPECT_EQ(layout.figureTitles.last(), QStringLiteral("Parallel coordinates: config → final metric, peak memory"));

        const QString pdf = out(QStringLiteral("compare.pdf"));
        ASSERT_TRUE(ReportRenderer::renderComparison(s_db,
            { QString::number(s_dr2Run), QString::number(s_conventionalRun), QStringLiteral("scratch") }, pdf, &error,
            &layout))
            << error.toStdString();
        EXPECT_TRUE(readAll(pdf).startsWith("%PDF-"));
        EXPECT_EQ(layout.pages, 3); // tables, then 2×2 figures per page: five figures
        EXPECT_EQ(pdfPageCount(readAll(pdf)), 3);

        const QString png = out(QStringLiteral("compare.png"));
        ASSERT_TRUE(ReportRenderer::renderComparison(
            s_db, { QString::number(s_dr2Run), QString::number(s_conventionalRun) }, png, &error, &layout))
            << error.toStdString();
        const QImage image(png);
        ASSERT_EQ(layout.figureRects.size(), 5);
        for (int i = 0; i < 5; ++i)
            EXPECT_GT(dataPixels(image, layout.figureRects[i]), 1500) << layout.figureTitles[i].toStdString();
        // Each run has its own colour in the loss plot: Tableau blue and orange.
        auto hasColour = [&](const QRect& rect, QColor colour) {
            for (int y = rect.top(); y <= rect.bottom(); ++y)
                for (int x = rect.left(); x <= rect.right(); ++x) {
                    const QColor c = image.pixelColor(x, y);
                    if (std::abs(c.red() - colour.red()) + std::abs(c.green() - colour.green())
                            + std::abs(c.blue() - colour.blue())
                        < 12)
                        return true;
                }
            return false;
        };
        EXPECT_TRUE(hasColour(layout.figureRects[0], QColor(31, 119, 180)));
        EXPECT_TRUE(hasColour(layout.figureRects[0], QColor(255, 127, 14)));
    }

    TEST_F(Report, LongTablesContinueOnTheNextPdfPage)
    {
        // 60 runs: the runs table is longer than an A4 landscape page.
        QTemporaryDir dir;
        ASSERT_TRUE(dir.isValid());
        const QString db = dir.filePath(QStringLiteral("many.sqlite"));
        QStringList runs;
        {
            RunStore store(db.toStdString());
            for (int i = 0; i < 60; ++i) {
                const QString name = QStringLiteral("many-%1").arg(i, 2, 10, QLatin1Char('0'));
                const int64_t id = store.createRun(runRecord(name, i % 2 ? "dr2net" : "conventional", ""));
                store.finishRun(id, RunStatus::Finished, R"({"final_top1": 0.5, "best_top1": 0.6})", 1000000 + i);
                runs << name;
            }
        }
        QString error;
        ReportLayout layout;
        const QString pdf = out(QStringLiteral("many.pdf"));
        ASSERT_TRUE(ReportRenderer::renderComparison(db, runs, pdf, &error, &layout)) << error.toStdString();
        EXPECT_GE(layout.pages, 3); // at least two pages of tables and one of figures
        EXPECT_EQ(pdfPageCount(readAll(pdf)), layout.pages);
        const QString html = out(QStringLiteral("many.html"));
        ASSERT_TRUE(ReportRenderer::renderComparison(db, runs, html, &error, &layout)) << error.toStdString();
        const QString text = QString::fromUtf8(readAll(html));
        for (const QString& name : runs)
            EXPECT_TRUE(text.contains(name + QStringLiteral(" (#"))) << name.toStdString();
    }

    TEST_F(Report, ErrorsAreOneLineAndLeaveNoFile)
    {
        QString error;
        const QString pdf = out(QStringLiteral("r.pdf"));
        auto expectFailure = [&](bool ok, const QString& mention) {
            EXPECT_FALSE(ok);
            EXPECT_TRUE(error.contains(mention)) << error.toStdString();
            EXPECT_FALSE(error.contains(QLatin1Char('\n'))) << error.toStdString();
            EXPECT_TRUE(entries(m_out.path()).isEmpty()) << entries(m_out.path()).join(QLatin1Char(' ')).toStdString();
        };
        expectFailure(
            ReportRenderer::render(s_db, QStringLiteral("no-such-run"), pdf, &error), QStringLiteral("no-such-run"));
        expectFailure(ReportRenderer::render(s_db, QString::number(s_dr2Run), out(QStringLiteral("r.jpg")), &error),
            QStringLiteral(".pdf, .png or .html"));
        expectFailure(ReportRenderer::render(s_db, QString::number(s_dr2Run), out(QStringLiteral("r")), &error),
            QStringLiteral("no suffix"));
        const QString missingDb = m_out.filePath(QStringLiteral("missing/runs.sqlite"));
        expectFailure(ReportRenderer::render(missingDb, QStringLiteral("1"), pdf, &error), missingDb);
        const QString noFolder = m_out.filePath(QStringLiteral("no/such/folder/r.html"));
        expectFailure(ReportRenderer::render(s_db, QString::number(s_dr2Run), noFolder, &error),
            QStringLiteral("does not exist"));
        expectFailure(ReportRenderer::renderComparison(s_db, { QString::number(s_dr2Run) }, pdf, &error),
            QStringLiteral("at least 2 runs"));
        expectFailure(ReportRenderer::renderComparison(s_db, { QString::number(s_dr2Run), kDr2Name }, pdf, &error),
            QStringLiteral("already listed"));
        expectFailure(
            ReportRenderer::renderComparison(s_db, { QString::number(s_dr2Run), QStringLiteral("nope") }, pdf, &error),
            QStringLiteral("nope"));

        // A folder that is not writable (a file standing where the folder should be; chmod does not stop root).
        QFile blocker(m_out.filePath(QStringLiteral("blocker")));
        ASSERT_TRUE(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        EXPECT_FALSE(ReportRenderer::render(
            s_db, QString::number(s_dr2Run), blocker.fileName() + QStringLiteral("/r.pdf"), &error));
        EXPECT_TRUE(error.contains(QStringLiteral("not a folder"))) << error.toStdString();
        EXPECT_EQ(entries(m_out.path()), QStringList { QStringLiteral("blocker") });

        // An existing report survives a failed render.
        QFile previous(pdf);
        ASSERT_TRUE(previous.open(QIODevice::WriteOnly));
        previous.write("previous");
        previous.close();
        EXPECT_FALSE(ReportRenderer::render(s_db, QStringLiteral("no-such-run"), pdf, &error));
        EXPECT_EQ(readAll(pdf), QByteArray("previous"));
    }

    TEST_F(Report, TheDr2netBinaryRendersHeadlessAndFailsWithOneLine)
    {
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        // No display and no platform chosen: dr2net must pick the offscreen platform itself.
        environment.remove(QStringLiteral("DISPLAY"));
        environment.remove(QStringLiteral("WAYLAND_DISPLAY"));
        environment.remove(QStringLiteral("QT_QPA_PLATFORM"));
        auto run = [&](const QStringList& arguments, QString* output, QString* errors) {
            QProcess process;
            process.setProcessEnvironment(environment);
            process.start(QStringLiteral(DR2NET_PATH), arguments);
            EXPECT_TRUE(process.waitForFinished(120000)) << arguments.join(QLatin1Char(' ')).toStdString();
            *output = QString::fromUtf8(process.readAllStandardOutput());
            *errors = QString::fromUtf8(process.readAllStandardError());
            return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
        };
        QString output, errors;
        const QString pdf = out(QStringLiteral("cli.pdf"));
        ASSERT_EQ(run({ QStringLiteral("--report"), QString::number(s_dr2Run), QStringLiteral("--db"), s_db,
                          QStringLiteral("--out"), pdf },
                      &output, &errors),
            0)
            << errors.toStdString();
        EXPECT_EQ(output.trimmed(), pdf);
        EXPECT_TRUE(readAll(pdf).startsWith("%PDF-"));
        EXPECT_EQ(pdfPageCount(readAll(pdf)), 2);

        // Runs after --compare, by id and by name.
        const QString html = out(QStringLiteral("cli.html"));
        ASSERT_EQ(
            run({ QStringLiteral("--db"), s_db, QStringLiteral("--compare"), QString::number(s_dr2Run),
                    QStringLiteral("conventional-baseline"), QStringLiteral("scratch"), QStringLiteral("--out"), html },
                &output, &errors),
            0)
            << errors.toStdString();
        const QString text = QString::fromUtf8(readAll(html));
        EXPECT_TRUE(text.contains(QStringLiteral("conventional-baseline"))
            && text.contains(QStringLiteral("scratch (#")) && text.contains(kDr2NameEscaped));

        const QString missing = out(QStringLiteral("cli-missing.png"));
        EXPECT_EQ(run({ QStringLiteral("--report"), QStringLiteral("no-such-run"), QStringLiteral("--db"), s_db,
                          QStringLiteral("--out"), missing },
                      &output, &errors),
            1);
        EXPECT_TRUE(errors.startsWith(QStringLiteral("dr2net: error: "))) << errors.toStdString();
        EXPECT_TRUE(errors.contains(QStringLiteral("no-such-run"))) << errors.toStdString();
        EXPECT_EQ(errors.trimmed().count(QLatin1Char('\n')), 0) << errors.toStdString();
        EXPECT_FALSE(QFileInfo::exists(missing));

        EXPECT_EQ(run({ QStringLiteral("--compare"), QString::number(s_dr2Run), QStringLiteral("--db"), s_db,
                          QStringLiteral("--out"), missing },
                      &output, &errors),
            1);
        EXPECT_TRUE(errors.contains(QStringLiteral("at least 2 runs"))) << errors.toStdString();
        EXPECT_EQ(run({ QStringLiteral("--help") }, &output, &errors), 0);
        EXPECT_TRUE(output.contains(QStringLiteral("--compare"))) << output.toStdString();

        // --screenshot: the window on the runs page, every run selected, at the default size; the user's
        // settings file is not touched (HOME points at an empty folder that must stay empty).
        const QString home = out(QStringLiteral("home"));
        ASSERT_TRUE(QDir().mkpath(home));
        environment.insert(QStringLiteral("HOME"), home);
        environment.remove(QStringLiteral("XDG_CONFIG_HOME"));
        const QString shot = out(QStringLiteral("runs.png"));
        ASSERT_EQ(run({ QStringLiteral("--db"), s_db, QStringLiteral("--screenshot"), shot }, &output, &errors), 0)
            << errors.toStdString();
        const QImage image(shot);
        EXPECT_EQ(image.size(), QSize(1600, 1000));
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 4)
            for (int x = 0; x < image.width(); x += 4)
                colours.insert(image.pixel(x, y));
        EXPECT_GT(colours.size(), 50); // a drawn window (table, plot, selection), not a blank image
        EXPECT_TRUE(QDir(home).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden).isEmpty())
            << QDir(home)
                   .entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden)
                   .join(QLatin1Char(' '))
                   .toStdString();
        EXPECT_EQ(run({ QStringLiteral("--db"), s_db, QStringLiteral("--screenshot"), shot, QStringLiteral("--page"),
                          QStringLiteral("plots") },
                      &output, &errors),
            1);
        EXPECT_TRUE(errors.contains(QStringLiteral("--page 'plots'"))) << errors.toStdString();
    }

} // namespace
} // namespace dr2
