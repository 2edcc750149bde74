#include "app/gui/report_renderer.h"

#include "app/gui/run_history.h"
#include "storage/run_store.h"
#include "widgets/coefficient_view.h"
#include "widgets/file_export.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <QFileInfo>
#include <QGridLayout>
#include <QImage>
#include <QLabel>
#include <QWidget>

namespace dr2 {

bool ReportRenderer::render(const QString& databasePath, const QString& run, const QString& outPath, QString* error)
{
    auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return false;
    };
    if (fileSuffix(outPath) != QLatin1String("png"))
        return fail(QStringLiteral("--out '%1': expected a .png file name").arg(outPath));
    if (!QFileInfo::exists(databasePath))
        return fail(QStringLiteral("database '%1': no such file").arg(databasePath));
    RunRecord record;
    SeriesBatch series;
    try {
        RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
        record = store.resolveRun(run.toStdString());
        series = RunHistory::series(store, record.id);
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    QWidget page;
    auto* title = new QLabel(QStringLiteral("<b>%1</b> (#%2) — %3, %4, %5")
                                 .arg(QString::fromStdString(record.name).toHtmlEscaped())
                                 .arg(record.id)
                                 .arg(QString::fromStdString(record.strategy),
                                     QString::fromStdString(toString(record.status)),
                                     QString::fromStdString(record.modelSummary).toHtmlEscaped()),
        &page);
    auto* loss = new LossView(&page);
    loss->setTitle(QStringLiteral("Loss, top-1 and learning rate"));
    auto* memory = new MemoryView(&page);
    memory->setTitle(QStringLiteral("Tensor memory"));
    auto* coefficients = new CoefficientView(&page);
    coefficients->setTitle(QStringLiteral("α and β"));
    for (const auto& [name, samples] : series) {
        loss->appendSamples(name, samples);
        memory->appendSamples(name, samples);
        coefficients->appendSamples(name, samples);
    }
    auto* layout = new QGridLayout(&page);
    layout->addWidget(title, 0, 0, 1, 3);
    layout->addWidget(loss, 1, 0);
    layout->addWidget(memory, 1, 1);
    layout->addWidget(coefficients, 1, 2);
    page.resize(1800, 560);
    page.show(); // offscreen: lays out and paints without a display
    for (PlotView* view : { static_cast<PlotView*>(loss), static_cast<PlotView*>(memory),
             static_cast<PlotView*>(coefficients) }) {
        view->refresh();
        view->resetView();
    }
    const QImage image = page.grab().toImage();
    return writeFileAtomically(
        outPath,
        [&image](const QString& tempPath, QString* writeError) {
            if (!image.save(tempPath, "PNG")) {
                if (writeError)
                    *writeError = QStringLiteral("cannot encode PNG");
                return false;
            }
            return true;
        },
        error);
}

} // namespace dr2
