#pragma once

#include "widgets/plot_view.h"

#include <limits>

class QCPColorMap;
class QCPColorScale;
class QCPCurve;
class QCPItemRect;
class QLabel;

namespace dr2 {

/// One cell of the heatmap (what hovering reports).
struct HeatmapCell {
    bool valid = false; ///< false when the position is outside the matrix
    int alphaIndex = -1; ///< index into the α values given to setMatrix()
    int betaIndex = -1; ///< index into the β values given to setMatrix()
    double alpha = std::numeric_limits<double>::quiet_NaN(); ///< α of the cell
    double beta = std::numeric_limits<double>::quiet_NaN(); ///< β of the cell
    double value = std::numeric_limits<double>::quiet_NaN(); ///< the matrix value (NaN/Inf when diverged)
};

/// A range of the log colour scale: the values coloured from the lowest to the highest colour.
struct HeatmapRange {
    double low = std::numeric_limits<double>::quiet_NaN(); ///< lowest colour (> 0 when valid)
    double high = std::numeric_limits<double>::quiet_NaN(); ///< highest colour (> low when valid)
    /// True when the range can be drawn on a log scale (0 < low < high, both finite).
    bool isValid() const;
    /// The smallest and largest positive finite value of `values` (invalid when there is none).
    static HeatmapRange of(const std::vector<double>& values);
    /// The smallest range covering both (either one when the other is invalid).
    HeatmapRange united(const HeatmapRange& other) const;
};

/// The gradient-error matrix over α×β (the paper's Fig. 3): α on the x axis, β on the y axis, one cell per
/// probed pair, coloured on a log10 scale with a colour bar. The run's α/β path is drawn over it and the
/// latest probe is highlighted. Hovering shows α, β and the value in a label and a tooltip.
/// Axis coordinates are grid indices (labelled with the α/β values), so uneven grids work too.
class HeatmapView : public PlotView {
    Q_OBJECT
public:
    /// Creates an empty view.
    explicit HeatmapView(QWidget* parent = nullptr);

    /// Shows `values` (row-major over alphas then betas, as sweepGradientError() returns them). α and β
    /// must each be strictly increasing and finite, and values.size() == alphas.size() * betas.size().
    /// Non-positive values are drawn in the lowest colour, non-finite ones in grey. Returns false with a
    /// message in `error` (and keeps the previous matrix) when the input does not fit.
    bool setMatrix(const std::vector<double>& alphas, const std::vector<double>& betas,
        const std::vector<double>& values, QString* error = nullptr);
    /// Draws the run's α/β path over the matrix (same lengths; shorter vectors are truncated).
    void setPath(const std::vector<double>& alphas, const std::vector<double>& betas);
    /// Draws one more α/β path, named `name` in the legend and coloured by `colour` (an index into the palette's
    /// series colours): a study's runs over one map. Returns false (and draws nothing) when no matrix is shown or
    /// the path is empty. clearData() removes these paths.
    bool addPath(const QString& name, int colour, const std::vector<double>& alphas, const std::vector<double>& betas);
    /// Number of paths added with addPath().
    int addedPathCount() const { return static_cast<int>(m_addedPaths.size()); }
    /// Highlights the latest probe at (α, β); NaN hides the highlight.
    void setLatestProbe(double alpha, double beta);
    /// Label of the colour bar (default "gradient error (MSE)").
    void setValueLabel(const QString& label);
    /// Colours the matrix over `range` instead of its own values' range (so maps set side by side are comparable);
    /// values below the range get the lowest colour, above it the highest. The next setMatrix() returns to the
    /// matrix's own range. False (and no change) for an invalid range or when no matrix is shown.
    bool setColorRange(const HeatmapRange& range);
    /// The range the colour scale covers now (invalid when no matrix is shown).
    HeatmapRange colorRange() const;
    /// Sets every view that shows a matrix to the range covering all their values (HeatmapRange::of, united), so
    /// one colour means one value in all of them. Returns that range (invalid when none holds a positive value).
    static HeatmapRange shareColorRange(const QList<HeatmapView*>& views);

    /// The cell under `position` (in this widget's coordinates); invalid outside the matrix.
    HeatmapCell cellAt(const QPoint& position) const;
    /// The text shown for `cell` in the hover label and tooltip.
    static QString describe(const HeatmapCell& cell);
    /// The text of the hover label now.
    QString hoverText() const;
    /// The colour bar.
    QCPColorScale* colorScale() const { return m_scale; }
    /// Number of α values and β values shown.
    QSize matrixSize() const;
    void clearData() override;

signals:
    /// The mouse moved over `cell` (invalid when it left the matrix).
    void cellHovered(const dr2::HeatmapCell& cell);

protected:
    bool hasData() const override;
    void rescaleToData() override;
    void restyle(const PlotStyle& style) override;
    void writeCsv(QTextStream& out, CsvRange range) const override;

private:
    void onMouseMove(QMouseEvent* event);
    void updateTicks();
    void fillCells(double low);
    static double indexCoordinate(const std::vector<double>& grid, double value);

    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPCurve* m_path = nullptr;
    struct AddedPath {
        QCPCurve* curve = nullptr;
        int colour = 0;
    };
    std::vector<AddedPath> m_addedPaths;
    QCPCurve* m_probe = nullptr;
    QCPItemRect* m_probeCell = nullptr;
    QLabel* m_hoverLabel = nullptr;
    std::vector<double> m_alphas;
    std::vector<double> m_betas;
    std::vector<double> m_values;
};

} // namespace dr2
