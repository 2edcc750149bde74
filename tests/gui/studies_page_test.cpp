// The Studies page end to end on the offscreen platform: a real `dr2net-cli study` of the tiny spec run through
// the page (progress, table, summary, a rerun that starts nothing), "Compare in Runs", and the study report as PDF
// and HTML (the page's "Save report…" and `dr2net --study-report`).
#include "tests/gui/gui_test_support.h"

#include "app/gui/main_window.h"
#include "app/gui/report_document.h"
#include "app/gui/report_renderer.h"
#include "app/gui/runs_page.h"
#include "app/gui/studies_page.h"
#include "storage/run_store.h"
#include "widgets/run_table_view.h"

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBrowser>

#include <gtest/gtest.h>

#include <algorithm>

namespace dr2 {
namespace {

const QString kTinySpec = QStringLiteral(DR2_STUDY_FIXTURES "/tiny-resume.json");

QString cell(const QTableWidget* table, int row, int column)
{
    const QTableWidgetItem* item = table->item(row, column);
    return item ? item->text() : QString();
}

/// The page's table after a read newer than `since` (a count of statusesLoaded()).
bool waitForRead(QSignalSpy& loaded, int since, int timeoutMs = 30000)
{
    return test::waitUntil([&] { return loaded.count() > since; }, timeoutMs);
}

TEST(Workbench, StudiesPageRunsAStudyToTheEnd)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    qputenv("DR2_CLI", DR2_CLI_PATH);
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    MainWindow window(database);
    window.resize(1500, 950);
    window.show();
    StudiesPage* page = window.studiesPage();
    ASSERT_NE(page, nullptr);
    EXPECT_EQ(StudiesPage::cliPath(), QStringLiteral(DR2_CLI_PATH));
    window.tabs()->setCurrentWidget(page);

    QSignalSpy loaded(page, &StudiesPage::statusesLoaded);
    page->setSpecFile(kTinySpec);
    ASSERT_TRUE(waitForRead(loaded, 0));
    ASSERT_TRUE(page->errorText().isEmpty()) << page->errorText().toStdString();
    QTableWidget* table = page->runTable();
    ASSERT_EQ(table->rowCount(), 6); // 3 strategies × 2 seeds
    for (int r = 0; r < table->rowCount(); ++r)
        EXPECT_EQ(cell(table, r, 2), QStringLiteral("pending")) << r;
    EXPECT_TRUE(cell(table, 0, 0).startsWith(QStringLiteral("strategy "))) << cell(table, 0, 0).toStdString();
    EXPECT_EQ(page->studyDirectory(), dir.filePath(QStringLiteral("studies/tiny-resume")));

    // The whole study: a pretraining and six finetunes of a few seconds each.
    QSignalSpy finished(page, &StudiesPage::studyFinished);
    QString error;
    ASSERT_TRUE(page->start(&error)) << error.toStdString();
    EXPECT_TRUE(page->isRunning());
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty(); }, 400000))
        << "the study did not end; status: " << page->statusText().toStdString();
    ASSERT_EQ(finished.first().first().toInt(), 0) << page->statusText().toStdString();
    EXPECT_GE(page->runsStarted(), 6);
    ASSERT_EQ(table->rowCount(), 6);
    for (int r = 0; r < table->rowCount(); ++r) {
        EXPECT_EQ(cell(table, r, 2), QStringLiteral("finished")) << r;
        EXPECT_GT(cell(table, r, 3).toLongLong(), 0) << r;
        EXPECT_NE(cell(table, r, 4), QStringLiteral("–")) << r;
    }
    EXPECT_EQ(page->progressBar()->value(), page->progressBar()->maximum());
    const QString summary = page->summaryView()->toPlainText();
    EXPECT_TRUE(summary.contains(QStringLiteral("held"))) << summary.toStdString();
    for (const char* strategy : { "conventional", "dr2net", "vanilla" })
        EXPECT_TRUE(summary.contains(QLatin1String(strategy))) << strategy << "\n" << summary.toStdString();
    EXPECT_TRUE(summary.contains(QStringLiteral("Dr2Net saves step memory"))) << summary.toStdString();
    ASSERT_EQ(page->finishedRunIds().size(), 6);
    test::saveScreenshot(&window, QStringLiteral("studies_page"));

    // "Compare in Runs": the Runs tab with exactly the study's finished runs selected.
    QSignalSpy compare(page, &StudiesPage::compareRequested);
    auto* compareButton = page->findChild<QPushButton*>(QStringLiteral("compareButton"));
    ASSERT_NE(compareButton, nullptr);
    ASSERT_TRUE(compareButton->isEnabled());
    compareButton->click();
    ASSERT_EQ(compare.count(), 1);
    EXPECT_EQ(window.tabs()->currentWidget(), window.runsPage());
    QVector<qint64> selected = window.runsPage()->runTable()->selectedRunIds();
    QVector<qint64> expected = page->finishedRunIds();
    std::sort(selected.begin(), selected.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(selected, expected);

    // Run again: everything is recorded, so nothing starts and the study ends at once.
    window.tabs()->setCurrentWidget(page);
    finished.clear();
    ASSERT_TRUE(page->start(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty(); }, 60000));
    EXPECT_EQ(finished.first().first().toInt(), 0) << page->statusText().toStdString();
    EXPECT_EQ(page->runsStarted(), 0);
    EXPECT_EQ(page->progressBar()->value(), page->progressBar()->maximum());

    // The study report: the page's "Save report…" (PDF) and `dr2net --study-report` (HTML).
    const QString pdf = dir.filePath(QStringLiteral("report/study.pdf"));
    QDir().mkpath(QFileInfo(pdf).absolutePath());
    ASSERT_TRUE(page->saveReport(pdf, &error)) << error.toStdString();
    EXPECT_GT(QFileInfo(pdf).size(), 20 * 1024);
    ReportLayout layout;
    const QString html = dir.filePath(QStringLiteral("report/study.html"));
    ASSERT_TRUE(ReportRenderer::renderStudy(database, kTinySpec, /*quick=*/false, html, &error, &layout))
        << error.toStdString();
    // The scatter, the α/β paths over the pretrained network's map (the study swept it after the pretraining),
    // the gradient error over training and per branch, and the four comparison plots.
    EXPECT_GE(layout.embeddedImages, 8);
    const std::string titles = layout.figureTitles.join(QStringLiteral(" | ")).toStdString();
    EXPECT_TRUE(layout.figureTitles.first().contains(QStringLiteral("peak step memory"))) << titles;
    for (const char* figure : { "strategy: α/β paths over the pretrained network's gradient error",
             "strategy: gradient error (rel_l2) over training", "strategy: gradient error (rel_l2) per branch, last probe" })
        EXPECT_TRUE(layout.figureTitles.filter(QString::fromUtf8(figure)).size() == 1) << figure << "\n" << titles;
    QFile file(html);
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(file.readAll());
    EXPECT_GT(text.size(), 20 * 1024);
    for (const char* expectedText : { "tiny-resume", "Dr2Net about conventional", "Dr2Net saves step memory", "held",
             "The paper", "vanilla" })
        EXPECT_TRUE(text.contains(QLatin1String(expectedText))) << expectedText;

    QProcess dr2net;
    const QString cliHtml = dir.filePath(QStringLiteral("report/cli.html"));
    dr2net.start(QStringLiteral(DR2NET_PATH),
        { QStringLiteral("--db"), database, QStringLiteral("--study-report"), kTinySpec, QStringLiteral("--out"), cliHtml });
    ASSERT_TRUE(dr2net.waitForFinished(120000));
    EXPECT_EQ(dr2net.exitCode(), 0) << dr2net.readAllStandardError().toStdString();
    EXPECT_GT(QFileInfo(cliHtml).size(), 20 * 1024);
}

TEST(Workbench, StudiesPageStopInterruptsAndRunResumes)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    qputenv("DR2_CLI", DR2_CLI_PATH);
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    MainWindow window(database);
    window.show();
    StudiesPage* page = window.studiesPage();
    QSignalSpy loaded(page, &StudiesPage::statusesLoaded);
    page->setSpecFile(kTinySpec);
    ASSERT_TRUE(waitForRead(loaded, 0));
    QTableWidget* table = page->runTable();
    auto rowsIn = [&](const QString& state) {
        int n = 0;
        for (int r = 0; r < table->rowCount(); ++r)
            n += cell(table, r, 2) == state;
        return n;
    };

    // Stop once one finetune has finished: SIGINT, every run going saves a checkpoint, the study exits with 3.
    QSignalSpy finished(page, &StudiesPage::studyFinished);
    QString error;
    ASSERT_TRUE(page->start(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return rowsIn(QStringLiteral("finished")) >= 1 || !finished.isEmpty(); }, 300000));
    ASSERT_TRUE(finished.isEmpty()) << "the study ended before Stop: " << page->statusText().toStdString();
    page->stop();
    EXPECT_TRUE(page->statusText().startsWith(QStringLiteral("stopping: runs save a checkpoint")))
        << page->statusText().toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty(); }, 120000));
    ASSERT_EQ(finished.first().first().toInt(), 3) << page->statusText().toStdString();
    EXPECT_TRUE(page->statusText().contains(QStringLiteral("interrupted, resumable"))) << page->statusText().toStdString();
    EXPECT_LT(rowsIn(QStringLiteral("finished")), 6);
    EXPECT_LT(page->progressBar()->value(), page->progressBar()->maximum());

    // Run again: the rest trains (the interrupted run resumes from its checkpoint) and the study finishes.
    finished.clear();
    ASSERT_TRUE(page->start(&error)) << error.toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return !finished.isEmpty(); }, 400000));
    EXPECT_EQ(finished.first().first().toInt(), 0) << page->statusText().toStdString();
    EXPECT_GE(page->runsStarted(), 1);
    EXPECT_EQ(rowsIn(QStringLiteral("finished")), 6);
    EXPECT_EQ(page->progressBar()->value(), page->progressBar()->maximum());
}

TEST(StudyReport, RefusesAStudyWithoutAFinishedRunAndWritesNothing)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString database = dir.filePath(QStringLiteral("runs.sqlite"));
    {
        RunStore store(database.toStdString()); // an empty database
    }
    for (const char* name : { "empty.pdf", "empty.html" }) {
        const QString out = dir.filePath(QLatin1String(name));
        QString error;
        EXPECT_FALSE(ReportRenderer::renderStudy(database, kTinySpec, /*quick=*/false, out, &error));
        EXPECT_TRUE(error.contains(QStringLiteral("study tiny-resume: no finished run"))) << error.toStdString();
        EXPECT_FALSE(QFileInfo::exists(out)) << name;
    }
    // A spec that does not exist names the problem.
    QString error;
    EXPECT_FALSE(ReportRenderer::renderStudy(
        database, QStringLiteral("no-such-study"), false, dir.filePath(QStringLiteral("x.pdf")), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("no-such-study"))) << error.toStdString();
    EXPECT_FALSE(QFileInfo::exists(dir.filePath(QStringLiteral("x.pdf"))));

    QProcess dr2net;
    dr2net.start(QStringLiteral(DR2NET_PATH), { QStringLiteral("--db"), database, QStringLiteral("--study-report"),
                                                  kTinySpec, QStringLiteral("--out"), dir.filePath(QStringLiteral("cli.pdf")) });
    ASSERT_TRUE(dr2net.waitForFinished(60000));
    EXPECT_EQ(dr2net.exitCode(), 1);
    EXPECT_TRUE(QString::fromUtf8(dr2net.readAllStandardError()).contains(QStringLiteral("no finished run")));
    EXPECT_FALSE(QFileInfo::exists(dir.filePath(QStringLiteral("cli.pdf"))));
}

} // namespace
} // namespace dr2
