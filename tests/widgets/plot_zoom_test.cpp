// A zoom the user chose is kept when new data arrives, until "reset view".
#include "tests/widgets/test_support.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <QAction>
#include <QApplication>
#include <QWheelEvent>
#include <gtest/gtest.h>
#include <qcustomplot.h>

using namespace dr2;

namespace {

void appendLoss(LossView& view, int from, int to)
{
    std::vector<SeriesSample> samples;
    for (int k = from; k < to; ++k)
        samples.push_back({ double(k), 1.0 / (1.0 + k) });
    view.appendSamples(LossView::kSeriesLoss, samples);
    view.refresh();
    test::settle();
}

void wheelZoomIn(QCustomPlot* plot)
{
    const QPointF center = plot->axisRect()->rect().center();
    QWheelEvent event(center, plot->mapToGlobal(center), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
        Qt::NoScrollPhase, false);
    QApplication::sendEvent(plot, &event);
    test::settle();
}

} // namespace

TEST(PlotZoom, FollowsDataUntilTheUserZoomsThenKeepsTheZoom)
{
    LossView view;
    test::showAt(view, 800, 400);
    appendLoss(view, 0, 100);
    QCustomPlot* plot = view.plot();
    EXPECT_FALSE(view.userZoomed());
    EXPECT_DOUBLE_EQ(plot->xAxis->range().lower, 0.0);
    EXPECT_DOUBLE_EQ(plot->xAxis->range().upper, 99.0);

    appendLoss(view, 100, 200); // auto-rescale follows new data
    EXPECT_DOUBLE_EQ(plot->xAxis->range().upper, 199.0);
    EXPECT_FALSE(view.userZoomed());
    EXPECT_FALSE(view.resetViewAction()->isEnabled());

    wheelZoomIn(plot); // a real wheel event on the plot
    ASSERT_TRUE(view.userZoomed());
    EXPECT_TRUE(view.resetViewAction()->isEnabled());
    const QCPRange zoomedX = plot->xAxis->range();
    const QCPRange zoomedY = plot->yAxis->range();
    EXPECT_LT(zoomedX.size(), 199.0 * 0.9);

    appendLoss(view, 200, 400); // new data must not undo the user's zoom
    EXPECT_DOUBLE_EQ(plot->xAxis->range().lower, zoomedX.lower);
    EXPECT_DOUBLE_EQ(plot->xAxis->range().upper, zoomedX.upper);
    EXPECT_DOUBLE_EQ(plot->yAxis->range().lower, zoomedY.lower);
    EXPECT_DOUBLE_EQ(plot->yAxis->range().upper, zoomedY.upper);
    EXPECT_EQ(view.seriesSamples(LossView::kSeriesLoss).size(), 400u);

    view.resetViewAction()->trigger();
    test::settle();
    EXPECT_FALSE(view.userZoomed());
    EXPECT_DOUBLE_EQ(plot->xAxis->range().lower, 0.0);
    EXPECT_DOUBLE_EQ(plot->xAxis->range().upper, 399.0);
    appendLoss(view, 400, 500);
    EXPECT_DOUBLE_EQ(plot->xAxis->range().upper, 499.0);
}

TEST(PlotZoom, ZoomedViewShowsFullResolutionInsideTheVisibleRange)
{
    LossView view;
    test::showAt(view, 600, 300);
    appendLoss(view, 0, 100000);
    EXPECT_LE(view.displayedPointCount(LossView::kSeriesLoss), 2 * 600 + 2);
    view.plot()->xAxis->setRange(1000, 1100); // what a drag/zoom does
    view.refresh();
    test::settle();
    EXPECT_TRUE(view.userZoomed());
    // 101 samples in range plus one neighbour on each side, undecimated.
    EXPECT_EQ(view.displayedPointCount(LossView::kSeriesLoss), 103);
}

TEST(PlotZoom, MemoryUnitChangeKeepsTheZoomedBytes)
{
    MemoryView view;
    test::showAt(view, 600, 300);
    view.appendSamples(MemoryView::kSeriesCurrent, { { 0, 100.0 * 1024 * 1024 }, { 1, 200.0 * 1024 * 1024 } });
    view.refresh();
    test::settle();
    EXPECT_EQ(view.unitName(), QStringLiteral("MiB"));
    view.plot()->yAxis->setRange(50, 150); // user zoom, in MiB
    view.appendSamples(MemoryView::kSeriesCurrent, { { 2, 4.0 * 1024 * 1024 * 1024 } });
    view.refresh();
    test::settle();
    EXPECT_EQ(view.unitName(), QStringLiteral("GiB"));
    EXPECT_NEAR(view.plot()->yAxis->range().lower, 50.0 / 1024.0, 1e-12);
    EXPECT_NEAR(view.plot()->yAxis->range().upper, 150.0 / 1024.0, 1e-12);
}
