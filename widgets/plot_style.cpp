#include "widgets/plot_style.h"

#include <qcustomplot.h>

namespace dr2 {

PlotStyle::PlotStyle(const QPalette& palette)
    : m_background(palette.color(QPalette::Base))
    , m_text(palette.color(QPalette::Text))
{
    m_dark = m_background.lightness() < 128;
    m_grid = m_text;
    m_grid.setAlpha(m_dark ? 60 : 45);
}

QColor PlotStyle::series(int index) const
{
    // Tableau-10, the categorical palette most plotting tools default to.
    static const QColor kColors[] = { QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
        QColor(214, 39, 40), QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127),
        QColor(188, 189, 34), QColor(23, 190, 207) };
    constexpr int kCount = static_cast<int>(sizeof(kColors) / sizeof(kColors[0]));
    const QColor color = kColors[((index % kCount) + kCount) % kCount];
    return m_dark ? color.lighter(135) : color;
}

QColor PlotStyle::reference() const
{
    return m_dark ? QColor(255, 110, 110) : QColor(200, 30, 30);
}

QColor PlotStyle::overlay() const
{
    return m_dark ? QColor(255, 255, 255) : QColor(0, 0, 0);
}

void PlotStyle::apply(QCustomPlot* plot) const
{
    plot->setBackground(QBrush(m_background));
    const QPen axisPen(m_text, 1);
    QColor subGrid = m_grid;
    subGrid.setAlpha(m_grid.alpha() / 2);
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(QBrush(m_background));
        for (QCPAxis* axis : rect->axes()) {
            axis->setBasePen(axisPen);
            axis->setTickPen(axisPen);
            axis->setSubTickPen(axisPen);
            axis->setLabelColor(m_text);
            axis->setTickLabelColor(m_text);
            axis->grid()->setPen(QPen(m_grid, 1, Qt::DotLine));
            axis->grid()->setSubGridPen(QPen(subGrid, 1, Qt::DotLine));
            axis->grid()->setZeroLinePen(Qt::NoPen);
        }
    }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
        QCPLayoutElement* element = plot->plotLayout()->elementAt(i);
        if (auto* title = qobject_cast<QCPTextElement*>(element))
            title->setTextColor(m_text);
        if (auto* scale = qobject_cast<QCPColorScale*>(element)) {
            QCPAxis* axis = scale->axis();
            axis->setBasePen(axisPen);
            axis->setTickPen(axisPen);
            axis->setSubTickPen(axisPen);
            axis->setLabelColor(m_text);
            axis->setTickLabelColor(m_text);
        }
    }
    if (plot->legend) {
        QColor legendBackground = m_background;
        legendBackground.setAlpha(220);
        plot->legend->setBrush(QBrush(legendBackground));
        plot->legend->setBorderPen(QPen(m_grid));
        plot->legend->setTextColor(m_text);
    }
}

} // namespace dr2
