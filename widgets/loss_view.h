#pragma once

#include "widgets/plot_view.h"
#include "widgets/series_math.h"

class QCPAxis;
class QCPGraph;

namespace dr2 {

/// Training loss per iteration, raw (faint) with its debiased EMA on top, top-1 accuracy per evaluation on
/// the right axis (in percent), and the learning rate on a second right axis.
class LossView : public PlotView {
    Q_OBJECT
public:
    /// Series of the training loss per iteration.
    static inline const QString kSeriesLoss = QStringLiteral("loss");
    /// Series of the task's primary metric per evaluation (top-1 accuracy for classification, a fraction in
    /// [0, 1] shown in percent; see setPrimaryMetric for other tasks).
    static inline const QString kSeriesTop1 = QStringLiteral("top1");
    /// Series of the learning rate per iteration.
    static inline const QString kSeriesLearningRate = QStringLiteral("lr");
    /// Series name of the smoothed loss (computed here, exported to CSV).
    static inline const QString kSeriesLossSmoothed = QStringLiteral("loss.smoothed");

    /// Creates an empty view.
    explicit LossView(QWidget* parent = nullptr);

    bool appendSamples(const QString& series, const std::vector<SeriesSample>& samples) override;
    void clearData() override;
    /// EMA weight in [0, 1) (0 = raw); the smoothed curve is recomputed from the full-resolution loss.
    void setSmoothing(double weight);
    /// The EMA weight in use.
    double smoothing() const { return m_ema.weight(); }
    /// Names the right axis and the evaluation trace after the task's primary metric; a fraction is shown in percent.
    void setPrimaryMetric(const QString& label, bool fraction);
    /// The axis of the learning rate.
    QCPAxis* learningRateAxis() const { return m_lrAxis; }

protected:
    void restyle(const PlotStyle& style) override;

private:
    void recomputeSmoothed();

    QCPAxis* m_lrAxis = nullptr;
    int m_raw = -1;
    int m_smoothed = -1;
    int m_top1 = -1;
    QCPGraph* m_top1Graph = nullptr;
    int m_lr = -1;
    DebiasedEma m_ema { 0.9 };
};

} // namespace dr2
