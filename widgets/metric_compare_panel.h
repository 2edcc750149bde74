#pragma once

#include "widgets/metric_compare_view.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QSlider;

namespace dr2 {

/// The runs page's metric comparison: a metric picker (any recorded series of the selected runs), the x-axis
/// choice (iteration, epoch, wall time), the smoothing choice with a strength slider, and the plot below.
/// The app fills the picker with setMetrics() and, on metricChanged()/axisChanged(), reads the curves and hands
/// them to view()->setCurves(); smoothing is applied here, without reading anything again.
class MetricComparePanel : public QWidget {
    Q_OBJECT
public:
    /// Creates the panel with an empty picker and the plot's empty state.
    explicit MetricComparePanel(QWidget* parent = nullptr);

    /// The plot.
    MetricCompareView* view() const { return m_view; }
    /// Offers `metrics`; keeps the current choice when it is among them, else picks `preferred` (or the first).
    /// Emits metricChanged() when the choice changed.
    void setMetrics(const QStringList& metrics, const QString& preferred);
    /// The metrics offered.
    QStringList metrics() const;
    /// The metric picked (empty when none is offered).
    QString metric() const;
    /// Picks `metric` (when offered).
    void setMetric(const QString& metric);
    /// The x axis picked.
    MetricXAxis xAxis() const;
    /// Picks the x axis.
    void setXAxis(MetricXAxis axis);
    /// Picks the smoothing and its strength in [0, 1) (the slider shows it in hundredths).
    void setSmoothing(Smoothing kind, double strength);
    /// The smoothing combo box (tests).
    QComboBox* smoothingBox() const { return m_smoothing; }
    /// The strength slider (0..99 hundredths; tests).
    QSlider* strengthSlider() const { return m_strength; }
    /// The label of the x axis, for people ("iteration", "epoch", "wall time (s)").
    static QString axisLabel(MetricXAxis axis);

signals:
    /// The user (or setMetrics()) picked another metric.
    void metricChanged(const QString& metric);
    /// The user picked another x axis.
    void axisChanged(MetricXAxis axis);

private:
    void applySmoothing();
    void updateAxisLabels();

    QComboBox* m_metric = nullptr;
    QComboBox* m_axis = nullptr;
    QComboBox* m_smoothing = nullptr;
    QSlider* m_strength = nullptr;
    QLabel* m_strengthLabel = nullptr;
    MetricCompareView* m_view = nullptr;
    bool m_filling = false;
};

} // namespace dr2
