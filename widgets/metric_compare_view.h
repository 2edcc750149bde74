#pragma once

#include "widgets/plot_view.h"
#include "widgets/series_math.h"

#include <QString>
#include <QVector>

#include <vector>

namespace dr2 {

/// One run's curve of one metric for the comparison plot: keys on the chosen x axis, raw values.
struct MetricCurve {
    QString name; ///< legend entry, e.g. "baseline (#3)"
    std::vector<double> xs; ///< keys (iteration, epoch or seconds), ascending
    std::vector<double> ys; ///< raw values
};

/// Where the comparison plot puts its keys.
enum class MetricXAxis {
    Iteration, ///< the training iteration
    Epoch, ///< fractional epochs
    WallTime ///< seconds of training
};

/// The runs page's metric plot: one curve per selected run of a metric the user picked, smoothed (none,
/// debiased EMA, running average or Gaussian, see smoothValues()) with the raw curve drawn faintly behind in
/// the same colour. The legend, under the plot so it never covers data, names the runs. Each curve is kept at
/// full resolution and drawn decimated by PlotView; CSV holds the raw and the smoothed values.
class MetricCompareView : public PlotView {
    Q_OBJECT
public:
    /// Suffix of the CSV series of a run's raw values when smoothing is on.
    static inline const QString kRawSuffix = QStringLiteral(" · raw");
    /// The legend lists at most this many runs (a long list would crowd out the plot).
    static constexpr int kMaxLegendEntries = 20;

    /// Creates an empty view; its empty text (PlotView::setEmptyText()) says "Select runs to compare".
    explicit MetricCompareView(QWidget* parent = nullptr);

    /// Replaces every curve (an empty list shows the empty state).
    void setCurves(const QVector<MetricCurve>& curves);
    /// Chooses the smoothing and its strength in [0, 1); the smoothed curves are recomputed at full resolution.
    void setSmoothing(Smoothing kind, double strength);
    /// The smoothing in use.
    Smoothing smoothing() const { return m_kind; }
    /// The smoothing strength in use.
    double smoothingStrength() const { return m_strength; }
    /// Labels the axes (the x axis' quantity and the metric).
    void setAxisLabels(const QString& x, const QString& y);
    /// The runs shown, in legend order (one entry per run, not per raw/smoothed curve).
    QStringList overlayNames() const override;
    /// Runs listed in the legend.
    int legendEntryCount() const;
    /// Points drawn in all curves after decimation (bounded by the width, not by the series lengths).
    int plottedPointCount() const;

protected:
    void restyle(const PlotStyle& style) override;

private:
    void rebuild();
    void applyPens(const PlotStyle& style);

    QVector<MetricCurve> m_curves;
    Smoothing m_kind = Smoothing::Ema;
    double m_strength = 0.6;
};

} // namespace dr2
