// The heatmap maps widget positions to the right (α, β, value) cell, and hovering reports it.
#include "tests/widgets/test_support.h"
#include "widgets/heatmap_view.h"

#include <QApplication>
#include <QMouseEvent>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include <cmath>

using namespace dr2;

namespace {

struct Sweep {
    std::vector<double> alphas, betas, values;
};

// α = 0, 0.1, ..., 1 and β = 0.1, 0.2, ..., 1 with a distinct value per cell, shaped like Fig. 3
// (error grows with α and with 1/β).
Sweep makeSweep()
{
    Sweep s;
    for (int i = 0; i <= 10; ++i)
        s.alphas.push_back(i / 10.0);
    for (int j = 1; j <= 10; ++j)
        s.betas.push_back(j / 10.0);
    for (size_t i = 0; i < s.alphas.size(); ++i)
        for (size_t j = 0; j < s.betas.size(); ++j)
            s.values.push_back(
                std::pow(10.0, -12.0 + 10.0 * s.alphas[i] * (1.1 - s.betas[j])) * (1.0 + 0.01 * double(j)));
    return s;
}

QPoint cellCentre(HeatmapView& view, double i, double j)
{
    QCustomPlot* plot = view.plot();
    const QPointF inPlot(plot->xAxis->coordToPixel(i), plot->yAxis->coordToPixel(j));
    return plot->mapTo(&view, inPlot.toPoint());
}

} // namespace

TEST(HeatmapView, PositionsMapToTheRightCell)
{
    const Sweep s = makeSweep();
    HeatmapView view;
    ASSERT_TRUE(view.setMatrix(s.alphas, s.betas, s.values));
    test::showAt(view, 800, 560);
    EXPECT_EQ(view.matrixSize(), QSize(11, 10));
    for (const auto& [i, j] : std::vector<std::pair<int, int>> { { 0, 0 }, { 3, 6 }, { 10, 9 }, { 7, 2 }, { 10, 0 } }) {
        const HeatmapCell cell = view.cellAt(cellCentre(view, i, j));
        ASSERT_TRUE(cell.valid) << i << "," << j;
        EXPECT_EQ(cell.alphaIndex, i);
        EXPECT_EQ(cell.betaIndex, j);
        EXPECT_DOUBLE_EQ(cell.alpha, s.alphas[size_t(i)]);
        EXPECT_DOUBLE_EQ(cell.beta, s.betas[size_t(j)]);
        EXPECT_DOUBLE_EQ(cell.value, s.values[size_t(i) * s.betas.size() + size_t(j)]);
    }
    // Near the edge of a cell: 0.35 of a cell to the right is still the same cell, 0.65 the next one.
    EXPECT_EQ(view.cellAt(cellCentre(view, 4.35, 5.0)).alphaIndex, 4);
    EXPECT_EQ(view.cellAt(cellCentre(view, 4.65, 5.0)).alphaIndex, 5);
    EXPECT_EQ(view.cellAt(cellCentre(view, 4.0, 5.65)).betaIndex, 6);
    // Outside the axis rect (on the colour bar, the margins) nothing is reported.
    EXPECT_FALSE(view.cellAt(QPoint(2, 2)).valid);
    EXPECT_FALSE(view.cellAt(QPoint(view.width() - 5, view.height() / 2)).valid);
}

TEST(HeatmapView, HoverShowsAlphaBetaAndError)
{
    const Sweep s = makeSweep();
    HeatmapView view;
    ASSERT_TRUE(view.setMatrix(s.alphas, s.betas, s.values));
    test::showAt(view, 800, 560);
    HeatmapCell hovered;
    QObject::connect(&view, &HeatmapView::cellHovered, &view, [&hovered](const HeatmapCell& c) { hovered = c; });
    const QPointF inPlot(view.plot()->xAxis->coordToPixel(3), view.plot()->yAxis->coordToPixel(6));
    QMouseEvent move(
        QEvent::MouseMove, inPlot, view.plot()->mapToGlobal(inPlot), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
    QApplication::sendEvent(view.plot(), &move);
    ASSERT_TRUE(hovered.valid);
    EXPECT_EQ(hovered.alphaIndex, 3);
    EXPECT_EQ(hovered.betaIndex, 6);
    const QString expectedValue = QString::number(s.values[3 * 10 + 6], 'e', 3);
    EXPECT_EQ(view.hoverText(), QStringLiteral("α = 0.3, β = 0.7, error = %1").arg(expectedValue));
}

TEST(HeatmapView, PathAndProbeAndColourBar)
{
    const Sweep s = makeSweep();
    HeatmapView view;
    view.setTitle(QStringLiteral("gradient error, reversible vs stored (random 12-branch ViT)"));
    ASSERT_TRUE(view.setMatrix(s.alphas, s.betas, s.values));
    // A Dr²Net schedule from (1, 0.1) to (0.3, 0.7), probed along the way.
    std::vector<double> pathA, pathB;
    for (int k = 0; k <= 10; ++k) {
        pathA.push_back(1.0 - 0.07 * k);
        pathB.push_back(0.1 + 0.06 * k);
    }
    view.setPath(pathA, pathB);
    view.setLatestProbe(0.58, 0.46);
    test::showAt(view, 820, 560);
    // The colour bar spans the data on a log scale.
    EXPECT_EQ(view.colorScale()->dataScaleType(), QCPAxis::stLogarithmic);
    const QCPRange range = view.colorScale()->dataRange();
    EXPECT_NEAR(std::log10(range.lower), -12.0, 0.01);
    EXPECT_GT(range.upper, 1e-4);
    test::saveScreenshot(view, QStringLiteral("heatmap_view"));
}

TEST(HeatmapView, AddedPathsOfAStudyEachGetALegendEntryAndTheirOwnColour)
{
    const Sweep s = makeSweep();
    HeatmapView view;
    EXPECT_FALSE(view.addPath(QStringLiteral("dr2net"), 0, { 1.0 }, { 0.1 })) << "no matrix to draw over yet";
    ASSERT_TRUE(view.setMatrix(s.alphas, s.betas, s.values));
    EXPECT_FALSE(view.addPath(QStringLiteral("empty"), 0, {}, {}));
    // A schedule (α down, β up) and a fixed point (vanilla), as a study's report draws them.
    ASSERT_TRUE(view.addPath(QStringLiteral("dr2net"), 0, { 1.0, 0.65, 0.3 }, { 0.1, 0.4, 0.7 }));
    ASSERT_TRUE(view.addPath(QStringLiteral("vanilla"), 1, { 1.0 }, { 0.1 }));
    EXPECT_EQ(view.addedPathCount(), 2);
    test::showAt(view, 820, 560);

    QCustomPlot* plot = view.plot();
    QStringList legend;
    for (int i = 0; i < plot->legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot->legend->item(i)))
            legend << item->plottable()->name();
    EXPECT_EQ(legend, (QStringList { QStringLiteral("dr2net"), QStringLiteral("vanilla") }))
        << "the single run's path and probe are not shown, so they have no entry";

    std::vector<QCPCurve*> curves;
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* curve = qobject_cast<QCPCurve*>(plot->plottable(i)); curve && curve->name() == QStringLiteral("dr2net"))
            curves.push_back(curve);
    ASSERT_EQ(curves.size(), 1u);
    // α/β land on the grid's index coordinates: α = 0.3 is column 3, β = 0.7 is row 6 (β starts at 0.1).
    const QCPCurveData last = *(curves[0]->data()->constEnd() - 1);
    EXPECT_NEAR(last.key, 3.0, 1e-9);
    EXPECT_NEAR(last.value, 6.0, 1e-9);
    QColor colours[2];
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* curve = qobject_cast<QCPCurve*>(plot->plottable(i))) {
            if (curve->name() == QStringLiteral("dr2net"))
                colours[0] = curve->pen().color();
            if (curve->name() == QStringLiteral("vanilla"))
                colours[1] = curve->pen().color();
        }
    EXPECT_NE(colours[0], colours[1]);
    test::saveScreenshot(view, QStringLiteral("heatmap_view_study_paths"));

    const int plottables = plot->plottableCount();
    view.clearData();
    EXPECT_EQ(view.addedPathCount(), 0);
    EXPECT_EQ(plot->plottableCount(), plottables - 2);
}

TEST(HeatmapView, RejectsMismatchedInputWithAMessage)
{
    HeatmapView view;
    QString error;
    EXPECT_FALSE(view.setMatrix({ 0.0, 0.5 }, { 0.5, 1.0 }, { 1, 2, 3 }, &error));
    EXPECT_EQ(error, QStringLiteral("heatmap: expected 2 × 2 = 4 values (row-major over α then β), found 3"));
    EXPECT_FALSE(view.setMatrix({ 0.5, 0.0 }, { 1.0 }, { 1, 2 }, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("strictly increasing"))) << error.toStdString();
    EXPECT_EQ(view.matrixSize(), QSize(0, 0)); // the previous (empty) matrix is kept
}

TEST(HeatmapView, SingleBetaAndDivergedCells)
{
    HeatmapView view;
    ASSERT_TRUE(view.setMatrix({ 0.0, 0.5, 1.0 }, { 0.5 }, { 0.0, 1e-6, std::nan("") }));
    test::showAt(view, 600, 400);
    const HeatmapCell diverged = view.cellAt(cellCentre(view, 2, 0));
    ASSERT_TRUE(diverged.valid);
    EXPECT_TRUE(std::isnan(diverged.value));
    EXPECT_TRUE(HeatmapView::describe(diverged).contains(QStringLiteral("diverged")));
    EXPECT_DOUBLE_EQ(view.cellAt(cellCentre(view, 0, 0.3)).value, 0.0);
}

TEST(HeatmapView, EmptyHeatmapSaysNoSweepYetUntilAMatrixArrives)
{
    HeatmapView view;
    view.setEmptyText(QStringLiteral("no sweep yet — Run heatmap sweep"));
    test::showAt(view, 700, 450);
    EXPECT_TRUE(view.showsEmptyText());
    EXPECT_FALSE(view.plot()->xAxis->tickLabels()); // no axis of one made-up cell
    EXPECT_FALSE(view.colorScale()->visible());
    test::saveScreenshot(view, QStringLiteral("heatmap_view_empty"));

    const Sweep sweep = makeSweep();
    ASSERT_TRUE(view.setMatrix(sweep.alphas, sweep.betas, sweep.values));
    test::settle();
    EXPECT_FALSE(view.showsEmptyText());
    EXPECT_TRUE(view.colorScale()->visible());
    EXPECT_TRUE(view.plot()->xAxis->tickLabels());
    // The legend (path, latest probe) sits under the matrix, never over its cells.
    view.plot()->replot();
    EXPECT_FALSE(view.plot()->legend->outerRect().intersects(view.plot()->axisRect()->rect()));

    view.clearData();
    EXPECT_TRUE(view.showsEmptyText());
}

TEST(HeatmapView, SharedColorRangeCoversBothMapsAndColoursAlike)
{
    // A float32-like map (tiny errors) and a bf16-like one (larger errors) on one grid.
    const std::vector<double> alphas { 0.0, 1.0 };
    const std::vector<double> betas { 0.5, 1.0 };
    const std::vector<double> low { 1e-12, 1e-11, 1e-9, 1e-10 };
    const std::vector<double> high { 1e-6, 0.0, 1e-3, std::numeric_limits<double>::infinity() };
    HeatmapView a;
    HeatmapView b;
    ASSERT_TRUE(a.setMatrix(alphas, betas, low));
    ASSERT_TRUE(b.setMatrix(alphas, betas, high));
    // Each alone colours over its own values.
    EXPECT_DOUBLE_EQ(a.colorRange().low, 1e-12);
    EXPECT_DOUBLE_EQ(a.colorRange().high, 1e-9);
    EXPECT_DOUBLE_EQ(b.colorRange().low, 1e-6);

    test::showAt(a, 500, 400);
    const HeatmapRange shared = HeatmapView::shareColorRange({ &a, &b });
    ASSERT_TRUE(shared.isValid());
    test::settle();
    test::saveScreenshot(a, QStringLiteral("heatmap_view_shared_range"));
    EXPECT_DOUBLE_EQ(shared.low, 1e-12); // the smallest positive finite value of either map
    EXPECT_DOUBLE_EQ(shared.high, 1e-3); // the largest finite one (Inf is drawn grey, not stretched to)
    for (HeatmapView* view : { &a, &b }) {
        EXPECT_DOUBLE_EQ(view->colorRange().low, shared.low);
        EXPECT_DOUBLE_EQ(view->colorRange().high, shared.high);
        EXPECT_DOUBLE_EQ(view->colorScale()->dataRange().lower, shared.low);
    }
    // One value gets one colour on both: b's lowest cell (1e-6) is not the bottom colour any more, and b's zero
    // cell sits at the shared bottom, like a's 1e-12 cell.
    QCPColorGradient gradient = a.colorScale()->gradient(); // colorize() is not const
    auto colourOf = [&](double value) {
        QRgb rgb = 0;
        gradient.colorize(&value, QCPRange(shared.low, shared.high), &rgb, 1, 1, /*logarithmic=*/true);
        return rgb;
    };
    EXPECT_NE(colourOf(1e-6), colourOf(1e-12));
    auto colorMapOf = [](HeatmapView& view) -> QCPColorMap* {
        for (int i = 0; i < view.plot()->plottableCount(); ++i)
            if (auto* map = qobject_cast<QCPColorMap*>(view.plot()->plottable(i)))
                return map;
        return nullptr;
    };
    QCPColorMap* mapA = colorMapOf(a);
    QCPColorMap* mapB = colorMapOf(b);
    ASSERT_TRUE(mapA && mapB);
    EXPECT_DOUBLE_EQ(mapB->data()->cell(0, 1), shared.low); // b's zero, clamped to the shared bottom
    EXPECT_DOUBLE_EQ(mapB->data()->cell(0, 0), 1e-6); // b's own lowest value stays above it
    EXPECT_DOUBLE_EQ(mapA->data()->cell(0, 0), 1e-12);
    EXPECT_DOUBLE_EQ(mapA->dataRange().lower, mapB->dataRange().lower);
    EXPECT_DOUBLE_EQ(mapA->dataRange().upper, mapB->dataRange().upper);

    // A new matrix returns to its own range; invalid ranges and empty views are refused.
    ASSERT_TRUE(b.setMatrix(alphas, betas, high));
    EXPECT_DOUBLE_EQ(b.colorRange().low, 1e-6);
    EXPECT_FALSE(b.setColorRange({ 1.0, 0.5 }));
    EXPECT_FALSE(b.setColorRange({ 0.0, 1.0 }));
    HeatmapView empty;
    EXPECT_FALSE(empty.setColorRange({ 1e-9, 1.0 }));
    EXPECT_FALSE(empty.colorRange().isValid());
    // Sharing with an empty view leaves the empty one empty.
    const HeatmapRange again = HeatmapView::shareColorRange({ &a, &empty });
    EXPECT_DOUBLE_EQ(again.low, 1e-12);
    EXPECT_DOUBLE_EQ(again.high, 1e-9);
    EXPECT_EQ(empty.matrixSize(), QSize(0, 0));
}
