#pragma once

#include <QColor>
#include <QPalette>

class QCustomPlot;

namespace dr2 {

/// Colours of the plots derived from a widget palette, so the views follow the system's light or dark theme:
/// background, text and grid come from the palette; the series colours are a fixed categorical set that is
/// lightened on dark backgrounds so they keep their contrast.
class PlotStyle {
public:
    /// Style for `palette` (usually the view's palette()).
    explicit PlotStyle(const QPalette& palette);

    /// True when the palette's base colour is dark.
    bool dark() const { return m_dark; }
    /// Plot background (the palette's Base).
    QColor background() const { return m_background; }
    /// Axes, tick labels and titles (the palette's Text).
    QColor text() const { return m_text; }
    /// Major grid lines.
    QColor grid() const { return m_grid; }
    /// The `index`-th categorical series colour (cycles).
    QColor series(int index) const;
    /// Colour of reference lines such as "conventional peak".
    QColor reference() const;
    /// Colour that stands out on top of a colour map (path and markers on the heatmap).
    QColor overlay() const;

    /// Applies background, axis, grid, legend and text colours to every element of `plot`.
    void apply(QCustomPlot* plot) const;

private:
    bool m_dark = false;
    QColor m_background;
    QColor m_text;
    QColor m_grid;
};

} // namespace dr2
