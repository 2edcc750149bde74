#pragma once

#include "widgets/plot_view.h"

class QCPItemText;

namespace dr2 {

/// α and β against the iteration: the schedule's planned path dashed, the values the run actually used
/// solid, and the schedule's end point (τ, α_end, β_end) marked.
class CoefficientView : public PlotView {
    Q_OBJECT
public:
    /// Series of α per iteration as used by the run.
    static inline const QString kSeriesAlpha = QStringLiteral("alpha");
    /// Series of β per iteration as used by the run.
    static inline const QString kSeriesBeta = QStringLiteral("beta");
    /// Series name of the planned α (set with setPlannedPath()).
    static inline const QString kSeriesAlphaPlanned = QStringLiteral("alpha.planned");
    /// Series name of the planned β (set with setPlannedPath()).
    static inline const QString kSeriesBetaPlanned = QStringLiteral("beta.planned");

    /// Creates an empty view.
    explicit CoefficientView(QWidget* parent = nullptr);

    /// The schedule's planned α and β at `iterations` (same lengths; shorter vectors are truncated).
    void setPlannedPath(
        const std::vector<double>& iterations, const std::vector<double>& alphas, const std::vector<double>& betas);
    /// Marks the schedule's end point: α and β reached at iteration τ (a negative τ hides the mark).
    void setEndPoint(double iteration, double alpha, double beta);
    void clearData() override;

protected:
    void restyle(const PlotStyle& style) override;

private:
    int m_alpha = -1;
    int m_beta = -1;
    int m_alphaPlanned = -1;
    int m_betaPlanned = -1;
    QCPGraph* m_endAlpha = nullptr;
    QCPGraph* m_endBeta = nullptr;
    QCPItemText* m_endText = nullptr;
};

} // namespace dr2
