#pragma once

#include "widgets/preview_images.h"

#include <QColor>
#include <QImage>
#include <QRect>
#include <QWidget>

#include <vector>

class QPainter;

namespace dr2 {

/// The prediction preview of a segmentation run: for each fixed validation scene three panels side by side —
/// the input, the ground truth overlaid on it and the prediction overlaid on it — under a caption
/// "iteration N · epoch E", with a legend of the classes that occur (name and colour). Class colours are blended
/// half over the input; a class 0 named "background" gets no colour, pixels without ground truth are dark grey.
/// Scenes are scaled to the widget (nearest neighbour when enlarged, so small scenes stay crisp), and scenes are
/// arranged in as many rows as make the panels largest. Without a preview it says when one will appear.
///
/// render() draws the same picture into any painter and rectangle; paintEvent() and the exports use it.
class SegmentationPreview : public QWidget {
    Q_OBJECT
public:
    /// The three panels of a scene.
    enum class Panel {
        Input, ///< the scene as the model saw it (grey or RGB)
        Truth, ///< ground truth over the input
        Prediction, ///< prediction over the input
    };

    /// Creates an empty preview.
    explicit SegmentationPreview(QWidget* parent = nullptr);
    ~SegmentationPreview() override;

    /// Shows `preview` (an empty one clears the view). Returns false with one line in `error`, and keeps the
    /// preview shown before, when its buffers do not fit its sizes (PreviewImages::problem()).
    bool setPreview(const PreviewImages& preview, QString* error = nullptr);
    /// Shows nothing (the empty-state text) again.
    void clear();
    /// The preview shown (empty when none).
    const PreviewImages& preview() const { return m_preview; }
    /// True when a preview is shown.
    bool hasPreview() const { return !m_preview.isEmpty(); }
    /// Shows `title` in bold above the caption (empty removes it), like the plots' titles.
    void setTitle(const QString& title);
    /// The title.
    QString title() const { return m_title; }
    /// "iteration N · epoch E" for the preview shown, empty without one.
    QString caption() const;
    /// What an empty preview says.
    static QString emptyText();

    /// Draws the preview (or the empty-state text) into `area` of `painter`, on the palette's base colour.
    void render(QPainter& painter, const QRect& area) const;
    /// The preview drawn at `size` pixels.
    QImage toImage(const QSize& size) const;
    /// Where render() puts `panel` of scene `sample` inside `area`; empty without a preview or when it does not fit.
    QRect panelRect(int sample, Panel panel, const QRect& area) const;
    /// Scene `sample`'s `panel` at the scene's own resolution (one image pixel per scene pixel); null when out of range.
    QImage panelImage(int sample, Panel panel) const;
    /// Indices of the classes the legend lists (those occurring in any truth or prediction, without the
    /// uncoloured background), ascending.
    std::vector<int> legendClasses() const;

    /// Writes the preview as PNG, PDF or SVG (chosen by the suffix of `path`) at `size` pixels (points for PDF).
    /// There is no CSV: a preview is pictures, not series. Written under a temporary name and renamed; returns
    /// false with a message naming the file in `error` on failure; never throws. Without a preview the file shows
    /// the empty-state text, as an empty plot exports its empty axes.
    bool exportImage(const QString& path, const QSize& size, QString* error = nullptr) const;

    /// The colour of class `index`: a fixed categorical palette (tab10 without its grey, which vanishes on grey
    /// inputs, plus yellow; then lighter tones), cycling after 20 classes. The same index always gets the same colour.
    static QColor classColour(int index);
    /// The colour of pixels whose ground truth is ignored (PreviewImages::kIgnoreLabel).
    static QColor ignoreColour();
    /// The overlay of `label` over an input pixel `input`: the class colour blended half over it, the input
    /// itself for an uncoloured background, the ignore colour for kIgnoreLabel.
    QColor overlay(int label, QColor input) const;
    /// True when class `index` is drawn without a colour (class 0 named "background").
    bool isTransparent(int index) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    struct Layout;
    Layout layoutFor(const QRect& area) const;
    void rebuildPanels();
    QString className(int index) const;

    PreviewImages m_preview;
    QString m_title;
    std::vector<QImage> m_panels; // 3 per sample, at scene resolution
    mutable std::vector<QImage> m_scaled; // m_panels at the size render() last drew them
    mutable QSize m_scaledSize;
    std::vector<int> m_legend;
    bool m_hasIgnored = false;
};

} // namespace dr2
