// dr2net: the Dr²Net desktop workbench (Qt 6). `dr2net --report RUN --out FILE`, `dr2net --compare RUN RUN ...
// --out FILE` and `dr2net --study-report SPEC --out FILE` render recorded runs or a study headless (PDF, PNG or
// HTML) instead of opening the window.
#include "app/gui/main_window.h"
#include "app/gui/report_renderer.h"
#include "app/gui/runs_page.h"
#include "core/host_runtime.h"
#include "storage/run_store.h"
#include "widgets/file_export.h"
#include "widgets/run_table_view.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QImage>
#include <QSettings>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>

#include <cstdio>
#include <cstring>

namespace {

/// True when the command line asks for a headless report, help or the version: nothing that needs a display
/// (checked before QApplication exists).
bool headless(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0)
            break;
        for (const char* option :
            { "--report", "--compare", "--study-report", "--screenshot", "--help", "--help-all", "-h", "--version", "-v" }) {
            const size_t length = std::strlen(option);
            if (std::strncmp(argv[i], option, length) == 0 && (argv[i][length] == '\0' || argv[i][length] == '='))
                return true;
        }
    }
    return false;
}

/// Headless runs print only their own lines: Qt's debug and warning chatter of the offscreen platform
/// ("This plugin does not support propagateSizeHints()", XDG_RUNTIME_DIR) is dropped unless DR2_QT_DEBUG is set.
void quietMessages(QtMsgType type, const QMessageLogContext&, const QString& message)
{
    if (type == QtDebugMsg || type == QtInfoMsg || type == QtWarningMsg)
        return;
    std::fprintf(stderr, "dr2net: qt: %s\n", qPrintable(message));
}

int reportError(const QString& message)
{
    std::fprintf(stderr, "dr2net: error: %s\n", qPrintable(message));
    return 1;
}

/// `--screenshot FILE.png [--page NAME]`: the window as it opens on the database (the runs page with every run
/// selected, so their curves are overlaid), saved without a display, for documentation and bug reports. The
/// user's settings are neither read nor written: the window has its default layout at 1600×1000.
int takeScreenshot(const QString& databasePath, const QString& page, const QString& outPath)
{
    const QStringList pages { QStringLiteral("checkpoint"), QStringLiteral("configure"), QStringLiteral("live"),
        QStringLiteral("runs"), QStringLiteral("studies") };
    const int pageIndex = int(pages.indexOf(page));
    if (pageIndex < 0)
        return reportError(
            QStringLiteral("--page '%1': expected one of %2").arg(page, pages.join(QStringLiteral(", "))));
    if (dr2::fileSuffix(outPath) != QLatin1String("png"))
        return reportError(QStringLiteral("--screenshot '%1': expected a .png file name").arg(outPath));
    QTemporaryDir settingsDir;
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir.path());

    dr2::MainWindow window(databasePath);
    window.resize(1600, 1000);
    window.show();
    window.tabs()->setCurrentIndex(pageIndex);
    if (page == QLatin1String("runs")) {
        if (!window.runsPage()->reload())
            return reportError(QStringLiteral("database '%1': %2").arg(databasePath, window.runsPage()->errorText()));
        window.runsPage()->runTable()->table()->selectAll();
    }
    for (int i = 0; i < 10; ++i) // let queued layout and replots run
        QApplication::processEvents();
    const QImage image = window.grab().toImage();
    QString error;
    const bool written = dr2::writeFileAtomically(
        outPath,
        [&image](const QString& tempPath, QString* writeError) {
            if (image.save(tempPath, "PNG"))
                return true;
            *writeError = QStringLiteral("cannot encode PNG");
            return false;
        },
        &error);
    if (!written)
        return reportError(error);
    std::printf("%s\n", qPrintable(outPath));
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    // Freed tensor memory stays in the heap for the next training step (before any thread exists).
    dr2::tuneHostAllocator();
    // A report needs no display and must look the same on every machine: always the offscreen platform.
    if (headless(argc, argv)) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
        if (qEnvironmentVariableIsEmpty("DR2_QT_DEBUG"))
            qInstallMessageHandler(quietMessages);
    }
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("dr2net"));
    QApplication::setApplicationName(QStringLiteral("dr2net"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Dr²Net Workbench: memory-efficient finetuning, desktop GUI.\n\n"
        "Headless reports (no window, no display needed; the format follows the --out suffix: .pdf vector A4 "
        "landscape, .png image, .html one self-contained file):\n"
        "  dr2net --report RUN --out FILE.pdf|.png|.html\n"
        "  dr2net --compare RUN RUN [RUN...] --out FILE.pdf|.png|.html\n"
        "  dr2net --study-report SPEC [--quick] --out FILE.pdf|.png|.html\n"
        "RUN is a run id or a unique run name (see `dr2net-cli runs list`). The runs to compare follow --compare "
        "(`--compare 3 4 5`) or repeat it (`--compare 3 --compare 4`)."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption database(QStringLiteral("db"),
        QStringLiteral("Run database (default: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else "
                       "~/.local/share/dr2net/runs.sqlite)."),
        QStringLiteral("FILE"));
    QCommandLineOption report(QStringLiteral("report"),
        QStringLiteral("Render run RUN (metadata, loss/primary metric/lr, memory, α/β, gradient-error heatmap with "
                       "the α/β path, and a segmentation run's last prediction preview) to --out and exit."),
        QStringLiteral("RUN"));
    QCommandLineOption compare(QStringLiteral("compare"),
        QStringLiteral("Render the comparison of RUN and the runs listed after it (at least two in all): a runs "
                       "table, Table 2, loss, the primary metric (top-1, mIoU), memory and α/β overlaid. "
                       "Repeatable."),
        QStringLiteral("RUN"));
    QCommandLineOption studyReport(QStringLiteral("study-report"),
        QStringLiteral("Render study SPEC (a spec file or a built-in name, see `dr2net-cli study --help`) of the "
                       "database to --out and exit: its per-level tables, the paper claims' verdicts, best primary "
                       "metric vs peak step memory, and its finished runs compared."),
        QStringLiteral("SPEC"));
    QCommandLineOption quick(
        QStringLiteral("quick"), QStringLiteral("With --study-report: the spec's quick profile (another study)."));
    QCommandLineOption out(QStringLiteral("out"),
        QStringLiteral("File written by --report, --compare or --study-report: .pdf, .png or .html (written atomically)."),
        QStringLiteral("FILE"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("Save the window as it opens on the database to FILE.png and exit (no display needed; "
                       "default layout, the user's settings untouched)."),
        QStringLiteral("FILE"));
    QCommandLineOption page(QStringLiteral("page"),
        QStringLiteral("With --screenshot: the page shown, checkpoint|configure|live|runs|studies (default: runs, with "
                       "every run selected)."),
        QStringLiteral("NAME"), QStringLiteral("runs"));
    parser.addOptions({ database, report, compare, studyReport, quick, out, screenshot, page });
    parser.addPositionalArgument(
        QStringLiteral("runs"), QStringLiteral("With --compare: more runs to compare."), QStringLiteral("[RUN...]"));
    parser.process(app);

    const QString db
        = parser.isSet(database) ? parser.value(database) : QString::fromStdString(dr2::RunStore::defaultPath());
    const QStringList positional = parser.positionalArguments();
    if (parser.isSet(report) && parser.isSet(compare))
        return reportError(QStringLiteral("--report and --compare exclude each other: choose one"));
    if (!parser.isSet(compare) && !positional.isEmpty())
        return reportError(QStringLiteral("unexpected argument '%1' (runs to compare follow --compare; see --help)")
                               .arg(positional.first()));
    if (parser.isSet(studyReport) && (parser.isSet(report) || parser.isSet(compare)))
        return reportError(QStringLiteral("--study-report excludes --report and --compare: choose one"));
    if (parser.isSet(quick) && !parser.isSet(studyReport))
        return reportError(QStringLiteral("--quick is only used with --study-report"));
    if (parser.isSet(studyReport)) {
        if (parser.values(out).size() != 1 || parser.values(studyReport).size() != 1)
            return reportError(QStringLiteral("--study-report needs one SPEC and one --out FILE.pdf, FILE.png or "
                                              "FILE.html, found %1 and %2")
                                   .arg(parser.values(studyReport).size())
                                   .arg(parser.values(out).size()));
        QString error;
        if (!dr2::ReportRenderer::renderStudy(
                db, parser.value(studyReport), parser.isSet(quick), parser.value(out), &error))
            return reportError(error);
        std::printf("%s\n", qPrintable(parser.value(out)));
        return 0;
    }
    if (parser.isSet(report) || parser.isSet(compare)) {
        if (parser.values(out).size() != 1)
            return reportError(QStringLiteral("%1 needs one --out FILE.pdf, FILE.png or FILE.html, found %2")
                                   .arg(parser.isSet(report) ? QStringLiteral("--report") : QStringLiteral("--compare"))
                                   .arg(parser.values(out).size()));
        if (parser.values(report).size() > 1)
            return reportError(QStringLiteral("--report takes one run, found %1 (use --compare for several)")
                                   .arg(parser.values(report).size()));
        QString error;
        dr2::ReportLayout layout;
        const bool ok = parser.isSet(report)
            ? dr2::ReportRenderer::render(db, parser.value(report), parser.value(out), &error, &layout)
            : dr2::ReportRenderer::renderComparison(
                db, parser.values(compare) + positional, parser.value(out), &error, &layout);
        if (!ok)
            return reportError(error);
        std::printf("%s\n", qPrintable(parser.value(out)));
        return 0;
    }
    if (parser.isSet(out))
        return reportError(QStringLiteral("--out is only used with --report, --compare or --study-report"));
    if (parser.isSet(screenshot))
        return takeScreenshot(db, parser.value(page), parser.value(screenshot));
    dr2::MainWindow window(parser.value(database));
    window.show();
    return app.exec();
}
