// dr2net: the Dr²Net desktop workbench (Qt 6). `dr2net --report RUN --out FILE.png` renders a recorded run
// headless instead of opening the window.
#include "app/gui/main_window.h"
#include "app/gui/report_renderer.h"
#include "storage/run_store.h"

#include <QApplication>
#include <QCommandLineParser>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv)
{
    // The report needs no display: choose the offscreen platform before QApplication exists.
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--report") == 0 && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("dr2net"));
    QApplication::setApplicationName(QStringLiteral("dr2net"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Dr²Net Workbench: memory-efficient finetuning, desktop GUI"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption database(QStringLiteral("db"), QStringLiteral("Run database (default: $DR2_DB or ~/.local/share/dr2net/runs.sqlite)."), QStringLiteral("FILE"));
    QCommandLineOption report(QStringLiteral("report"), QStringLiteral("Render run RUN (id or name) to --out and exit."), QStringLiteral("RUN"));
    QCommandLineOption out(QStringLiteral("out"), QStringLiteral("PNG file written by --report."), QStringLiteral("FILE"));
    parser.addOptions({ database, report, out });
    parser.process(app);

    if (parser.isSet(report)) {
        if (!parser.isSet(out)) {
            std::fprintf(stderr, "dr2net: error: --report needs --out FILE.png\n");
            return 1;
        }
        const QString db = parser.isSet(database) ? parser.value(database)
                                                  : QString::fromStdString(dr2::RunStore::defaultPath());
        QString error;
        if (!dr2::ReportRenderer::render(db, parser.value(report), parser.value(out), &error)) {
            std::fprintf(stderr, "dr2net: error: %s\n", qPrintable(error));
            return 1;
        }
        std::printf("%s\n", qPrintable(parser.value(out)));
        return 0;
    }
    dr2::MainWindow window(parser.value(database));
    window.show();
    return app.exec();
}
