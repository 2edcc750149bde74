// Each view renders with its axis titles and legend (screenshots for a reviewer) and follows the palette.
#include "tests/widgets/test_support.h"
#include "widgets/branch_error_view.h"
#include "widgets/coefficient_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <QImage>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include <cmath>
#include <random>

using namespace dr2;

namespace {

// A plausible finetuning run: noisy decaying loss with one spike, cosine learning rate, accuracy per epoch.
void fillTraining(LossView& view, int n)
{
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0.0, 0.15);
    std::vector<SeriesSample> loss, lr, top1;
    for (int k = 0; k < n; ++k) {
        double value = 0.35 + 1.9 * std::exp(-k / 600.0) + noise(rng) * (0.4 + std::exp(-k / 900.0));
        if (k == 1700)
            value += 3.0;
        loss.push_back({ double(k), value });
        const double warm = std::min(1.0, k / 200.0);
        lr.push_back({ double(k), 1e-3 * warm * 0.5 * (1.0 + std::cos(M_PI * k / n)) });
        if (k % 500 == 499)
            top1.push_back({ double(k), 0.92 - 0.5 * std::exp(-k / 900.0) });
    }
    view.appendSamples(LossView::kSeriesLoss, loss);
    view.appendSamples(LossView::kSeriesLearningRate, lr);
    view.appendSamples(LossView::kSeriesTop1, top1);
    view.refresh();
}

bool near(QColor a, QColor b)
{
    return std::abs(a.red() - b.red()) <= 2 && std::abs(a.green() - b.green()) <= 2
        && std::abs(a.blue() - b.blue()) <= 2;
}

} // namespace

TEST(PlotViews, LossViewRendersRawSmoothedAccuracyAndLearningRate)
{
    LossView view;
    view.setTitle(QStringLiteral("training loss, top-1 and learning rate"));
    fillTraining(view, 4000);
    test::showAt(view, 900, 460);
    EXPECT_EQ(view.plot()->xAxis->label(), QStringLiteral("iteration"));
    EXPECT_EQ(view.plot()->yAxis2->label(), QStringLiteral("top-1 accuracy (%)"));
    // Accuracy is drawn in percent; its axis covers 0..100.
    EXPECT_LE(view.plot()->yAxis2->range().lower, 0.0);
    EXPECT_GE(view.plot()->yAxis2->range().upper, 100.0);
    // The raw spike is in the decimated display, the EMA damps it.
    double shownMax = 0.0;
    for (auto it = view.plot()->graph(0)->data()->constBegin(); it != view.plot()->graph(0)->data()->constEnd(); ++it)
        shownMax = std::max(shownMax, it->value);
    EXPECT_GT(shownMax, 3.0);
    const auto smoothed = view.seriesSamples(LossView::kSeriesLossSmoothed);
    EXPECT_LT(smoothed[1700].value, 2.0);
    test::saveScreenshot(view, QStringLiteral("loss_view"));
}

TEST(PlotViews, SmoothingChangeRecomputesFromFullResolution)
{
    LossView view;
    view.appendSamples(LossView::kSeriesLoss, { { 0, 1.0 }, { 1, 3.0 }, { 2, 5.0 } });
    view.setSmoothing(0.5);
    const auto s = view.seriesSamples(LossView::kSeriesLossSmoothed);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_NEAR(s[2].value, 27.0 / 7.0, 1e-12);
    view.appendSamples(LossView::kSeriesLoss, { { 3, 5.0 } });
    EXPECT_EQ(view.seriesSamples(LossView::kSeriesLossSmoothed).size(), 4u);
}

TEST(PlotViews, MemoryViewShowsBaselineAndConventionalReference)
{
    MemoryView view;
    view.setTitle(QStringLiteral("tensor memory (dr2net vs conventional)"));
    std::vector<SeriesSample> current, peak;
    const double held = 180.0 * 1024 * 1024;
    for (int k = 0; k < 3000; ++k) {
        current.push_back({ double(k), held + 4.0 * 1024 * 1024 * (k % 7) });
        // The error-bounded segments grow as β rises: peak memory falls along the schedule.
        const double segment = k < 1000 ? 1.0 : (k < 2000 ? 0.6 : 0.35);
        peak.push_back({ double(k), held + segment * 500.0 * 1024 * 1024 + 10.0 * 1024 * 1024 * std::sin(k * 0.05) });
    }
    view.appendSamples(MemoryView::kSeriesCurrent, current);
    view.appendSamples(MemoryView::kSeriesPeak, peak);
    view.setHeldBaseline(static_cast<qint64>(held));
    view.setReferencePeak(static_cast<qint64>(held + 1.4 * 1024 * 1024 * 1024));
    test::showAt(view, 900, 460);
    EXPECT_EQ(view.unitName(), QStringLiteral("MiB")); // largest value 1.58 GiB: GiB starts at 2 GiB
    EXPECT_EQ(view.plot()->yAxis->label(), QStringLiteral("memory (MiB)"));
    test::saveScreenshot(view, QStringLiteral("memory_view"));
}

TEST(PlotViews, CoefficientViewShowsPlannedActualAndEndPoint)
{
    CoefficientView view;
    view.setTitle(QStringLiteral("α and β: planned (dashed) and used (solid)"));
    std::vector<double> its, alphas, betas;
    const int tau = 3000, eta = 100;
    auto at = [&](int k) {
        const int updated = (k / eta) * eta; // α and β move every η iterations
        const double t = std::min(1.0, double(updated) / tau);
        return std::pair<double, double> { 1.0 - 0.7 * t, 0.1 + 0.6 * t };
    };
    for (int k = 0; k <= 4000; k += 10) {
        its.push_back(k);
        alphas.push_back(at(k).first);
        betas.push_back(at(k).second);
    }
    view.setPlannedPath(its, alphas, betas);
    view.setEndPoint(tau, 0.3, 0.7);
    std::vector<SeriesSample> a, b;
    for (int k = 0; k < 2200; ++k) {
        a.push_back({ double(k), at(k).first });
        b.push_back({ double(k), at(k).second });
    }
    view.appendSamples(CoefficientView::kSeriesAlpha, a);
    view.appendSamples(CoefficientView::kSeriesBeta, b);
    view.refresh();
    test::showAt(view, 900, 460);
    EXPECT_LE(view.plot()->yAxis->range().lower, 0.0);
    EXPECT_GE(view.plot()->yAxis->range().upper, 1.0);
    EXPECT_DOUBLE_EQ(view.plot()->xAxis->range().upper, 4000.0);
    test::saveScreenshot(view, QStringLiteral("coefficient_view"));
}

TEST(PlotViews, BranchErrorViewShowsOneBarPerBranch)
{
    BranchErrorView view;
    std::vector<double> errors;
    errors.reserve(12);
    for (int i = 0; i < 12; ++i)
        errors.push_back(1e-13 * std::pow(4.0, i));
    errors[11] = std::nan("");
    view.setBranchErrors(errors, QStringLiteral("iteration 1200, α = 0.6, β = 0.4"));
    test::showAt(view, 800, 400);
    EXPECT_EQ(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    EXPECT_LE(view.plot()->yAxis->range().lower, 1e-13);
    EXPECT_GE(view.plot()->yAxis->range().upper, 1e-13 * std::pow(4.0, 10));
    test::saveScreenshot(view, QStringLiteral("branch_error_view"));
}

TEST(PlotViews, BranchErrorViewMarksStageBoundaries)
{
    BranchErrorView view;
    view.setBranchErrors(std::vector<double>(24, 1e-8), QStringLiteral("four stages"));
    view.setStageLengths({ 4, 4, 12, 4 }); // Swin-T's branches per stage
    EXPECT_EQ(view.stageBoundaries(), (std::vector<double> { 4.5, 8.5, 20.5 }));
    EXPECT_EQ(view.plot()->itemCount(), 3);
    view.setStageLengths({ 24 }); // one stage: no marks, and the old ones are gone
    EXPECT_TRUE(view.stageBoundaries().empty());
    EXPECT_EQ(view.plot()->itemCount(), 0);
}

namespace {

/// True when the legend lies outside the axis rect (it can cover neither curves nor the items inside).
bool legendOutsideAxisRect(PlotView& view)
{
    view.plot()->replot();
    return !view.plot()->legend->outerRect().intersects(view.plot()->axisRect()->rect());
}

} // namespace

TEST(PlotViews, LegendsSitBelowTheAxisRect)
{
    CoefficientView coefficients;
    coefficients.setPlannedPath({ 0, 50, 100 }, { 1.0, 0.6, 0.3 }, { 0.1, 0.4, 0.7 });
    coefficients.setEndPoint(100, 0.3, 0.7);
    test::showAt(coefficients, 600, 300);
    EXPECT_TRUE(legendOutsideAxisRect(coefficients));
    LossView loss;
    fillTraining(loss, 200);
    test::showAt(loss, 600, 300);
    EXPECT_TRUE(legendOutsideAxisRect(loss));
    MemoryView memory;
    test::showAt(memory, 600, 300);
    EXPECT_TRUE(legendOutsideAxisRect(memory));
    test::saveScreenshot(coefficients, QStringLiteral("coefficient_view_legend_below"));
}

TEST(PlotViews, EmptyViewsSaySoInsteadOfShowingMadeUpAxes)
{
    BranchErrorView branches;
    EXPECT_FALSE(branches.showsEmptyText()); // nothing set: nothing said
    branches.setEmptyText(QStringLiteral("no probe yet"));
    test::showAt(branches, 600, 300);
    EXPECT_TRUE(branches.showsEmptyText());
    EXPECT_FALSE(branches.plot()->xAxis->tickLabels()); // no 0.5–1.5 axis of nothing
    test::saveScreenshot(branches, QStringLiteral("branch_error_view_empty"));
    branches.setBranchErrors({ 1e-9, 2e-9 }, QStringLiteral("probe"));
    test::settle();
    EXPECT_FALSE(branches.showsEmptyText());
    EXPECT_TRUE(branches.plot()->xAxis->tickLabels());

    MemoryView memory;
    memory.setEmptyText(QStringLiteral("no run yet"));
    EXPECT_TRUE(memory.showsEmptyText());
    EXPECT_TRUE(memory.appendSamples(MemoryView::kSeriesRss, { { 0.0, 300.0 * 1024 * 1024 } }));
    EXPECT_FALSE(memory.showsEmptyText());
    memory.clearData();
    EXPECT_TRUE(memory.showsEmptyText());
}

TEST(PlotViews, MemoryViewShowsProcessRssBesideTensorMemory)
{
    MemoryView view;
    std::vector<SeriesSample> current, rss;
    for (int k = 0; k < 100; ++k) {
        current.push_back({ double(k), 200.0 * 1024 * 1024 });
        rss.push_back({ double(k), 900.0 * 1024 * 1024 + 1024.0 * k });
    }
    view.appendSamples(MemoryView::kSeriesCurrent, current);
    ASSERT_TRUE(view.appendSamples(MemoryView::kSeriesRss, rss));
    view.refresh();
    test::showAt(view, 800, 400);
    EXPECT_EQ(view.seriesSamples(MemoryView::kSeriesRss).size(), 100u);
    EXPECT_GE(view.plot()->yAxis->range().upper, 900.0); // MiB: the RSS curve is inside the axis
    test::saveScreenshot(view, QStringLiteral("memory_view_rss"));
}

TEST(PlotViews, FollowsTheDarkPalette)
{
    LossView view;
    fillTraining(view, 2000);
    QPalette dark;
    dark.setColor(QPalette::Window, QColor(35, 35, 38));
    dark.setColor(QPalette::Base, QColor(25, 25, 28));
    dark.setColor(QPalette::Text, QColor(230, 230, 230));
    dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
    view.setPalette(dark);
    test::showAt(view, 900, 460);
    EXPECT_EQ(view.plot()->xAxis->labelColor(), QColor(230, 230, 230));
    const QImage image = view.grab().toImage();
    EXPECT_TRUE(near(image.pixelColor(3, 3), QColor(25, 25, 28))) << image.pixelColor(3, 3).name().toStdString();
    test::saveScreenshot(view, QStringLiteral("loss_view_dark"));

    QPalette light;
    light.setColor(QPalette::Base, QColor(255, 255, 255));
    light.setColor(QPalette::Text, QColor(0, 0, 0));
    view.setPalette(light);
    test::settle();
    EXPECT_EQ(view.plot()->xAxis->labelColor(), QColor(0, 0, 0));
    EXPECT_TRUE(near(view.grab().toImage().pixelColor(3, 3), QColor(255, 255, 255)));
}

TEST(PlotViews, OverlaysOfOtherRunsAreAddedReplacedAndCleared)
{
    MemoryView view;
    view.appendSamples(MemoryView::kSeriesPeak, { { 0, 3.0 * 1024 * 1024 * 1024 }, { 1, 3.0 * 1024 * 1024 * 1024 } });
    view.setOverlay(QStringLiteral("conventional run 7: peak"),
        { { 0, 4.0 * 1024 * 1024 * 1024 }, { 1, 4.5 * 1024 * 1024 * 1024 } });
    view.setOverlay(QStringLiteral("conventional run 7: peak"), { { 0, 5.0 * 1024 * 1024 * 1024 } }); // replaced
    view.setOverlay(MemoryView::kSeriesPeak, { { 0, 1.0 } }); // the view's own series is never replaced
    test::showAt(view, 700, 400);
    EXPECT_EQ(view.overlayNames(), QStringList { QStringLiteral("conventional run 7: peak") });
    EXPECT_EQ(view.seriesSamples(QStringLiteral("conventional run 7: peak")).size(), 1u);
    EXPECT_EQ(view.seriesSamples(MemoryView::kSeriesPeak).size(), 2u);
    // Drawn in the axis unit (GiB here) like the view's own series, and covered by the axis range.
    EXPECT_EQ(view.unitName(), QStringLiteral("GiB"));
    ASSERT_EQ(view.plot()->graphCount(), 4); // current, peak, process RSS, the overlay
    EXPECT_DOUBLE_EQ(view.plot()->graph(3)->data()->begin()->value, 5.0);
    EXPECT_GE(view.plot()->yAxis->range().upper, 5.0);
    view.clearOverlays();
    EXPECT_TRUE(view.overlayNames().isEmpty());
    EXPECT_EQ(view.plot()->graphCount(), 3);
}
