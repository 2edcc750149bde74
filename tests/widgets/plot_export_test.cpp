// Export writes real PNG, PDF, SVG and CSV files, atomically, with one clear error on bad input.
#include "tests/widgets/test_support.h"
#include "widgets/heatmap_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QSet>
#include <gtest/gtest.h>
#include <qcustomplot.h>

using namespace dr2;

namespace {

QByteArray readAll(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

void fill(LossView& view, int n)
{
    std::vector<SeriesSample> loss, lr;
    for (int k = 0; k < n; ++k) {
        loss.push_back({ double(k), 2.0 / (1.0 + 0.01 * k) });
        lr.push_back({ double(k), 1e-3 });
    }
    view.appendSamples(LossView::kSeriesLoss, loss);
    view.appendSamples(LossView::kSeriesLearningRate, lr);
    const int middle = n / 2;
    view.appendSamples(LossView::kSeriesTop1, { { double(middle), 0.5 }, { double(n - 1), 0.75 } });
    view.refresh();
    test::settle();
}

} // namespace

TEST(PlotExport, WritesPngPdfAndSvgAtTheChosenSize)
{
    const QString dir = test::scratchDir(QStringLiteral("export_images"));
    LossView view;
    view.setTitle(QStringLiteral("export test"));
    test::showAt(view, 700, 400);
    fill(view, 5000);

    QString error;
    const QString png = dir + QStringLiteral("/loss.png");
    ASSERT_TRUE(view.exportImage(png, QSize(1200, 500), &error)) << error.toStdString();
    const QImage image(png);
    ASSERT_FALSE(image.isNull());
    EXPECT_EQ(image.size(), QSize(1200, 500));
    QSet<QRgb> colours;
    for (int x = 0; x < image.width(); x += 7)
        colours.insert(image.pixel(x, image.height() / 2));
    EXPECT_GT(colours.size(), 3) << "the image looks blank";

    const QString pdf = dir + QStringLiteral("/loss.pdf");
    ASSERT_TRUE(view.exportImage(pdf, QSize(800, 400), &error)) << error.toStdString();
    const QByteArray pdfBytes = readAll(pdf);
    EXPECT_TRUE(pdfBytes.startsWith("%PDF"));
    EXPECT_GT(pdfBytes.size(), 1000);

    const QString svg = dir + QStringLiteral("/loss.svg");
    ASSERT_TRUE(view.exportImage(svg, QSize(800, 400), &error)) << error.toStdString();
    const QByteArray svgBytes = readAll(svg);
    EXPECT_TRUE(svgBytes.contains("<svg"));
    EXPECT_TRUE(svgBytes.contains("viewBox=\"0 0 800 400\""));
    EXPECT_TRUE(svgBytes.contains("training loss")) << "axis title missing from the SVG";
    EXPECT_TRUE(svgBytes.contains("<polyline") || svgBytes.contains("<path")) << "no curve in the SVG";

    // Only the three files: no temporary leftovers.
    EXPECT_EQ(QDir(dir).entryList(QDir::Files | QDir::Hidden).size(), 3);
    // The view goes back to its own decimation after the export.
    test::settle();
    EXPECT_LE(view.displayedPointCount(LossView::kSeriesLoss), 2 * view.plot()->width() + 2);
}

TEST(PlotExport, CsvFullAndVisibleRange)
{
    const QString dir = test::scratchDir(QStringLiteral("export_csv"));
    LossView view;
    test::showAt(view, 700, 400);
    fill(view, 100);
    QString error;
    const QString full = dir + QStringLiteral("/full.csv");
    ASSERT_TRUE(view.exportCsv(full, PlotView::CsvRange::Full, &error)) << error.toStdString();
    const QStringList lines = QString::fromUtf8(readAll(full)).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    ASSERT_FALSE(lines.isEmpty());
    EXPECT_EQ(lines[0], QStringLiteral("series,iteration,value"));
    // 100 loss + 100 smoothed + 2 accuracy + 100 learning rate rows.
    EXPECT_EQ(lines.size(), 1 + 100 + 100 + 2 + 100);
    EXPECT_EQ(lines[1], QStringLiteral("loss,0,2"));
    EXPECT_TRUE(lines.contains(QStringLiteral("top1,99,0.75"))); // raw fraction, not the displayed percent
    EXPECT_EQ(lines.filter(QStringLiteral("loss.smoothed,")).size(), 100);

    view.plot()->xAxis->setRange(10, 19.5);
    const QString visible = dir + QStringLiteral("/visible.csv");
    ASSERT_TRUE(view.exportCsv(visible, PlotView::CsvRange::Visible, &error)) << error.toStdString();
    const QStringList visibleLines = QString::fromUtf8(readAll(visible)).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    EXPECT_EQ(visibleLines.size(), 1 + 10 + 10 + 0 + 10);
    EXPECT_TRUE(visibleLines.contains(QStringLiteral("loss,10,%1").arg(2.0 / 1.1, 0, 'g', 17)));
    EXPECT_FALSE(visibleLines.filter(QStringLiteral("loss,9,")).size() > 0);
}

TEST(PlotExport, MemoryCsvStaysInBytes)
{
    const QString dir = test::scratchDir(QStringLiteral("export_memory"));
    MemoryView view;
    view.appendSamples(MemoryView::kSeriesPeak, { { 0, 3221225472.0 } });
    QString error;
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/m.csv"), PlotView::CsvRange::Full, &error));
    EXPECT_TRUE(readAll(dir + QStringLiteral("/m.csv")).contains("memory.peak,0,3221225472"));
}

TEST(PlotExport, HeatmapCsvHasOneRowPerCell)
{
    const QString dir = test::scratchDir(QStringLiteral("export_heatmap"));
    HeatmapView view;
    ASSERT_TRUE(view.setMatrix({ 0.0, 0.5, 1.0 }, { 0.5, 1.0 }, { 1e-12, 2e-12, 1e-8, 2e-8, 1e-3, 2e-3 }));
    ASSERT_TRUE(view.exportCsv(dir + QStringLiteral("/h.csv"), PlotView::CsvRange::Full));
    const QString text = QString::fromUtf8(readAll(dir + QStringLiteral("/h.csv")));
    EXPECT_TRUE(text.startsWith(QStringLiteral("alpha,beta,value\n")));
    EXPECT_TRUE(text.contains(QStringLiteral("\n0.5,1,2e-08\n")));
    EXPECT_EQ(text.count(QLatin1Char('\n')), 7);
}

TEST(PlotExport, BadRequestsFailWithOneMessageAndLeaveNoFile)
{
    const QString dir = test::scratchDir(QStringLiteral("export_errors"));
    LossView view;
    fill(view, 10);
    QString error;
    EXPECT_FALSE(view.exportImage(dir + QStringLiteral("/plot.bmp"), QSize(400, 300), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("plot.bmp"))) << error.toStdString();
    EXPECT_TRUE(error.contains(QStringLiteral("expected a .png, .pdf or .svg"))) << error.toStdString();

    EXPECT_FALSE(view.exportImage(dir + QStringLiteral("/plot.png"), QSize(0, 300), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("found 0 x 300"))) << error.toStdString();

    EXPECT_FALSE(view.exportCsv(dir + QStringLiteral("/missing/sub/x.csv"), PlotView::CsvRange::Full, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("does not exist"))) << error.toStdString();

    // An existing file is replaced whole, never truncated on failure.
    const QString existing = dir + QStringLiteral("/keep.csv");
    ASSERT_TRUE(view.exportCsv(existing, PlotView::CsvRange::Full, &error));
    const QByteArray before = readAll(existing);
    EXPECT_FALSE(view.exportImage(dir + QStringLiteral("/keep.csv"), QSize(400, 300), &error));
    EXPECT_EQ(readAll(existing), before);
    EXPECT_EQ(QDir(dir).entryList(QDir::Files | QDir::Hidden), QStringList { QStringLiteral("keep.csv") });
}
