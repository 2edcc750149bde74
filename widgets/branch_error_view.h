#pragma once

#include "widgets/plot_view.h"

class QCPBars;
class QCPItemStraightLine;

namespace dr2 {

/// Gradient error per residual branch for the latest probe (bars on a log axis): where along the stack the
/// reconstruction error builds up.
class BranchErrorView : public PlotView {
    Q_OBJECT
public:
    /// Creates an empty view.
    explicit BranchErrorView(QWidget* parent = nullptr);

    /// Shows one bar per branch (branch 1 is the first of the stack); `caption` says which probe
    /// (e.g. "iteration 1200, α = 0.6, β = 0.4"). Non-positive values are drawn at the bottom of the axis,
    /// non-finite ones as a full-height bar marked "diverged".
    void setBranchErrors(const std::vector<double>& errors, const QString& caption = QString());
    /// How the branches split into a backbone's stages (e.g. {4, 4, 12, 4} for Swin-T); stages after the first are
    /// marked by a dashed line before their first branch. Empty or one entry: no marks.
    void setStageLengths(const std::vector<int64_t>& lengths);
    /// Where the stage marks stand on the branch axis (between the last branch of a stage and the next).
    const std::vector<double>& stageBoundaries() const { return m_boundaries; }
    /// The errors shown, branch 1 first.
    const std::vector<double>& branchErrors() const { return m_errors; }
    void clearData() override;

protected:
    bool hasData() const override;
    void rescaleToData() override;
    void restyle(const PlotStyle& style) override;
    void writeCsv(QTextStream& out, CsvRange range) const override;

private:
    QCPBars* m_bars = nullptr;
    QCPBars* m_diverged = nullptr;
    std::vector<double> m_errors;
    std::vector<double> m_boundaries;
    std::vector<QCPItemStraightLine*> m_boundaryLines;
    double m_floor = 1e-12;
    double m_ceiling = 1.0;
};

} // namespace dr2
