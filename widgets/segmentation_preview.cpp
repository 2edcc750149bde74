#include "widgets/segmentation_preview.h"

#include "widgets/widget_picture.h"

#include <QFontMetricsF>
#include <QPainter>

#include <algorithm>
#include <array>
#include <cmath>

namespace dr2 {

namespace {

    constexpr int kMargin = 8;
    constexpr int kPanelGap = 4; // between the three panels of a scene
    constexpr int kSceneGap = 14; // between scenes side by side
    constexpr int kRowGap = 8; // between rows of scenes
    constexpr int kPanels = 3;

    // tab10 without its grey (a grey class blended over a grey scene is invisible) and with a yellow instead, then
    // lighter tones of the same hues: distinguishable, printable, and stable per class index.
    constexpr std::array<QRgb, 20> kPalette = {
        0xff1f77b4, 0xffff7f0e, 0xff2ca02c, 0xffd62728, 0xff9467bd, 0xff8c564b, 0xffe377c2, 0xffbcbd22, 0xff17becf,
        0xffffd92f, 0xffaec7e8, 0xffffbb78, 0xff98df8a, 0xffff9896, 0xffc5b0d5, 0xffc49c94, 0xfff7b6d2, 0xffdbdb8d,
        0xff9edae5, 0xff393b79,
    };
    constexpr QRgb kIgnore = 0xff303030;

    int panelIndex(int sample, SegmentationPreview::Panel panel)
    {
        return sample * kPanels + static_cast<int>(panel);
    }

    QString panelName(int panel)
    {
        switch (panel) {
        case 0:
            return QObject::tr("input");
        case 1:
            return QObject::tr("ground truth");
        default:
            return QObject::tr("prediction");
        }
    }

} // namespace

struct SegmentationPreview::Layout {
    QRectF title;
    QRectF caption;
    QRectF legend;
    qreal lineHeight = 0;
    int panelTitleHeight = 0;
    std::vector<std::array<QRect, kPanels>> panels; // per sample; empty when nothing fits
};

SegmentationPreview::SegmentationPreview(QWidget* parent)
    : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

SegmentationPreview::~SegmentationPreview() = default;

QString SegmentationPreview::emptyText()
{
    return tr("No preview yet — it appears after the first evaluation of a segmentation run");
}

QColor SegmentationPreview::classColour(int index)
{
    // Class 1 (the first object class when 0 is the background) takes the first colour.
    const int slot = ((index - 1) % int(kPalette.size()) + int(kPalette.size())) % int(kPalette.size());
    return QColor::fromRgb(kPalette[size_t(slot)]);
}

QColor SegmentationPreview::ignoreColour()
{
    return QColor::fromRgb(kIgnore);
}

bool SegmentationPreview::isTransparent(int index) const
{
    return index == 0 && !m_preview.classNames.isEmpty()
        && m_preview.classNames.front().compare(QLatin1String("background"), Qt::CaseInsensitive) == 0;
}

QColor SegmentationPreview::overlay(int label, QColor input) const
{
    if (label == PreviewImages::kIgnoreLabel)
        return ignoreColour();
    if (isTransparent(label))
        return input;
    const QColor c = classColour(label);
    return QColor((c.red() + input.red() + 1) / 2, (c.green() + input.green() + 1) / 2,
        (c.blue() + input.blue() + 1) / 2);
}

QString SegmentationPreview::className(int index) const
{
    if (index >= 0 && index < m_preview.classNames.size() && !m_preview.classNames[index].isEmpty())
        return m_preview.classNames[index];
    return tr("class %1").arg(index);
}

bool SegmentationPreview::setPreview(const PreviewImages& preview, QString* error)
{
    const QString problem = preview.problem();
    if (!problem.isEmpty()) {
        if (error)
            *error = problem;
        return false;
    }
    m_preview = preview;
    rebuildPanels();
    update();
    return true;
}

void SegmentationPreview::clear()
{
    m_preview = PreviewImages();
    rebuildPanels();
    update();
}

void SegmentationPreview::setTitle(const QString& title)
{
    m_title = title;
    update();
}

QString SegmentationPreview::caption() const
{
    if (!hasPreview())
        return {};
    return tr("iteration %1 · epoch %2").arg(m_preview.iteration).arg(m_preview.epoch);
}

void SegmentationPreview::rebuildPanels()
{
    m_panels.clear();
    m_scaled.clear();
    m_scaledSize = QSize();
    m_legend.clear();
    m_hasIgnored = false;
    if (!hasPreview())
        return;
    const int w = m_preview.width;
    const int h = m_preview.height;
    const int channels = m_preview.channels;
    // One blend table per label instead of per-pixel colour arithmetic: scenes can be 1024² and there are a few.
    std::array<QRgb, 256> classRgb {};
    std::array<bool, 256> transparent {};
    std::array<bool, 256> present {};
    for (int label = 0; label < 256; ++label) {
        classRgb[size_t(label)] = classColour(label).rgb();
        transparent[size_t(label)] = isTransparent(label);
    }
    auto blend = [&](uchar label, QRgb input) -> QRgb {
        if (label == PreviewImages::kIgnoreLabel)
            return kIgnore;
        if (transparent[label])
            return input;
        const QRgb c = classRgb[label];
        return qRgb((qRed(c) + qRed(input) + 1) / 2, (qGreen(c) + qGreen(input) + 1) / 2,
            (qBlue(c) + qBlue(input) + 1) / 2);
    };
    for (const PreviewImages::Sample& sample : m_preview.samples) {
        QImage input(w, h, QImage::Format_RGB32);
        QImage truth(w, h, QImage::Format_RGB32);
        QImage prediction(w, h, QImage::Format_RGB32);
        const auto* pixels = reinterpret_cast<const uchar*>(sample.image.constData());
        const auto* truthLabels = reinterpret_cast<const uchar*>(sample.truth.constData());
        const auto* predictedLabels = reinterpret_cast<const uchar*>(sample.prediction.constData());
        for (int y = 0; y < h; ++y) {
            auto* in = reinterpret_cast<QRgb*>(input.scanLine(y));
            auto* gt = reinterpret_cast<QRgb*>(truth.scanLine(y));
            auto* pr = reinterpret_cast<QRgb*>(prediction.scanLine(y));
            for (int x = 0; x < w; ++x) {
                const qsizetype i = qsizetype(y) * w + x;
                const uchar* p = pixels + i * channels;
                const QRgb rgb = channels == 3 ? qRgb(p[0], p[1], p[2]) : qRgb(p[0], p[0], p[0]);
                in[x] = rgb;
                gt[x] = blend(truthLabels[i], rgb);
                pr[x] = blend(predictedLabels[i], rgb);
                present[truthLabels[i]] = true;
                present[predictedLabels[i]] = true;
                m_hasIgnored = m_hasIgnored || truthLabels[i] == PreviewImages::kIgnoreLabel;
            }
        }
        m_panels.push_back(std::move(input));
        m_panels.push_back(std::move(truth));
        m_panels.push_back(std::move(prediction));
    }
    for (int label = 0; label < 256; ++label)
        if (present[size_t(label)] && label != PreviewImages::kIgnoreLabel && !transparent[size_t(label)])
            m_legend.push_back(label);
}

std::vector<int> SegmentationPreview::legendClasses() const
{
    return m_legend;
}

QImage SegmentationPreview::panelImage(int sample, Panel panel) const
{
    if (sample < 0 || sample >= m_preview.samples.size())
        return {};
    return m_panels[size_t(panelIndex(sample, panel))];
}

SegmentationPreview::Layout SegmentationPreview::layoutFor(const QRect& area) const
{
    Layout layout;
    const QFontMetricsF metrics(font());
    QFont bold = font();
    bold.setBold(true);
    const QFontMetricsF boldMetrics(bold);
    layout.lineHeight = std::ceil(metrics.height());
    const qreal left = area.left() + kMargin;
    const qreal width = std::max(0, area.width() - 2 * kMargin);
    qreal y = area.top() + kMargin;
    if (!m_title.isEmpty()) {
        layout.title = QRectF(left, y, width, std::ceil(boldMetrics.height()));
        y += layout.title.height() + 2;
    }
    if (!hasPreview())
        return layout;
    layout.caption = QRectF(left, y, width, layout.lineHeight);
    y += layout.lineHeight + 6;

    // The legend wraps at the area's width; its height is known before the scenes are placed above it.
    const qreal swatch = layout.lineHeight * 0.8;
    int lines = 1;
    qreal x = 0;
    QStringList names;
    for (int label : m_legend)
        names << className(label);
    if (m_hasIgnored)
        names << tr("no ground truth (ignored)");
    for (const QString& name : names) {
        const qreal entry = swatch + 4 + metrics.horizontalAdvance(name) + 14;
        if (x > 0 && x + entry > width) {
            ++lines;
            x = 0;
        }
        x += entry;
    }
    const qreal legendHeight = names.isEmpty() ? 0 : lines * (layout.lineHeight + 3);
    layout.legend = QRectF(left, area.bottom() + 1 - kMargin - legendHeight, width, legendHeight);

    const QRectF grid(left, y, width, layout.legend.top() - 6 - y);
    layout.panelTitleHeight = int(layout.lineHeight) + 2;
    const int count = int(m_preview.samples.size());
    const double sceneW = m_preview.width;
    const double sceneH = m_preview.height;
    // Scenes side by side or in rows, whichever arrangement gives the largest panels for this area.
    double best = 0.0;
    int perRow = 1;
    for (int columns = 1; columns <= count; ++columns) {
        const int rows = (count + columns - 1) / columns;
        const double panelW
            = (grid.width() - (columns - 1) * kSceneGap - columns * (kPanels - 1) * kPanelGap) / (kPanels * columns);
        const double panelH = (grid.height() - rows * layout.panelTitleHeight - (rows - 1) * kRowGap) / rows;
        const double scale = std::min(panelW / sceneW, panelH / sceneH);
        if (scale > best) {
            best = scale;
            perRow = columns;
        }
    }
    if (!(best > 0.0) || sceneW * best < 1.0 || sceneH * best < 1.0)
        return layout; // too small to show anything
    // A whole zoom factor gives every scene pixel the same square; take it when it costs little of the size.
    const double whole = std::floor(best);
    const double scale = whole >= 1.0 && whole >= 0.85 * best ? whole : best;
    const int panelW = std::max(1, int(std::floor(sceneW * scale)));
    const int panelH = std::max(1, int(std::floor(sceneH * scale)));
    const int blockW = kPanels * panelW + (kPanels - 1) * kPanelGap;
    const int totalW = perRow * blockW + (perRow - 1) * kSceneGap;
    const int originX = int(std::round(grid.left() + (grid.width() - totalW) / 2.0));
    for (int s = 0; s < count; ++s) {
        const int row = s / perRow;
        const int column = s % perRow;
        const int bx = originX + column * (blockW + kSceneGap);
        const int by = int(grid.top()) + row * (layout.panelTitleHeight + panelH + kRowGap) + layout.panelTitleHeight;
        std::array<QRect, kPanels> rects;
        for (int k = 0; k < kPanels; ++k)
            rects[size_t(k)] = QRect(bx + k * (panelW + kPanelGap), by, panelW, panelH);
        layout.panels.push_back(rects);
    }
    // The legend goes right under the scenes rather than at the bottom of a tall area.
    layout.legend.moveTop(layout.panels.back()[0].bottom() + 1 + 8);
    return layout;
}

QRect SegmentationPreview::panelRect(int sample, Panel panel, const QRect& area) const
{
    const Layout layout = layoutFor(area);
    if (sample < 0 || size_t(sample) >= layout.panels.size())
        return {};
    return layout.panels[size_t(sample)][size_t(panel)];
}

void SegmentationPreview::render(QPainter& painter, const QRect& area) const
{
    painter.save();
    painter.setClipRect(area);
    painter.fillRect(area, palette().color(QPalette::Base));
    painter.setFont(font());
    const QColor text = palette().color(QPalette::Text);
    const Layout layout = layoutFor(area);
    if (!m_title.isEmpty()) {
        QFont bold = font();
        bold.setBold(true);
        painter.setFont(bold);
        painter.setPen(text);
        painter.drawText(layout.title, Qt::AlignLeft | Qt::AlignVCenter, m_title);
        painter.setFont(font());
    }
    if (!hasPreview()) {
        const qreal top = layout.title.isNull() ? area.top() : layout.title.bottom();
        const QRectF rest(area.left() + kMargin, top, area.width() - 2 * kMargin, area.bottom() - top);
        QColor muted = text;
        muted.setAlphaF(0.7F);
        painter.setPen(muted);
        painter.drawText(rest, Qt::AlignCenter | Qt::TextWordWrap, emptyText());
        painter.restore();
        return;
    }
    painter.setPen(text);
    painter.drawText(layout.caption, Qt::AlignLeft | Qt::AlignVCenter, caption());

    const QFontMetricsF metrics(font());
    QColor frame = text;
    frame.setAlphaF(0.35F);
    const QSize panelSize = layout.panels.empty() ? QSize() : layout.panels.front()[0].size();
    if (panelSize != m_scaledSize || m_scaled.size() != m_panels.size()) {
        // Scaled here (not by the painter) so that every device, PDF and SVG included, gets nearest-neighbour pixels
        // when a scene is enlarged; shrinking averages instead, so thin objects do not flicker away. Kept for the
        // next paint: smoothing a dozen 1024² panels on every expose would stall the GUI thread.
        m_scaled.clear();
        for (const QImage& source : m_panels) {
            const bool enlarge = panelSize.width() >= source.width();
            m_scaled.push_back(source.scaled(panelSize, Qt::IgnoreAspectRatio,
                enlarge ? Qt::FastTransformation : Qt::SmoothTransformation));
        }
        m_scaledSize = panelSize;
    }
    for (size_t s = 0; s < layout.panels.size(); ++s) {
        for (int k = 0; k < kPanels; ++k) {
            const QRect& target = layout.panels[s][size_t(k)];
            painter.drawImage(target.topLeft(), m_scaled[s * kPanels + size_t(k)]);
            // Aliased one-pixel outline just outside the panel, so the frame never covers a scene pixel.
            painter.setPen(QPen(frame, 1));
            painter.drawRect(target.adjusted(-1, -1, 0, 0));
            painter.setPen(text);
            const QRectF label(target.left(), target.top() - layout.panelTitleHeight, target.width(),
                layout.panelTitleHeight - 2);
            painter.drawText(label, Qt::AlignLeft | Qt::AlignBottom,
                metrics.elidedText(panelName(k), Qt::ElideRight, label.width()));
        }
    }

    // Legend: a swatch and the name of each class present, then the ignore colour when ground truth has holes.
    const qreal swatch = layout.lineHeight * 0.8;
    qreal x = layout.legend.left();
    qreal y = layout.legend.top();
    auto entry = [&](const QColor& colour, const QString& name) {
        const qreal width = swatch + 4 + metrics.horizontalAdvance(name) + 14;
        if (x > layout.legend.left() && x + width > layout.legend.right()) {
            x = layout.legend.left();
            y += layout.lineHeight + 3;
        }
        const QRectF box(x, y + (layout.lineHeight - swatch) / 2, swatch, swatch);
        painter.fillRect(box, colour);
        painter.setPen(QPen(frame, 1));
        painter.drawRect(box);
        painter.setPen(text);
        painter.drawText(QRectF(box.right() + 4, y, width - swatch - 4, layout.lineHeight),
            Qt::AlignLeft | Qt::AlignVCenter, name);
        x += width;
    };
    for (int label : m_legend)
        entry(classColour(label), className(label));
    if (m_hasIgnored)
        entry(ignoreColour(), tr("no ground truth (ignored)"));
    painter.restore();
}

QImage SegmentationPreview::toImage(const QSize& size) const
{
    QImage image(size, QImage::Format_ARGB32_Premultiplied);
    if (image.isNull())
        return image;
    QPainter painter(&image);
    painter.setRenderHint(QPainter::TextAntialiasing);
    render(painter, image.rect());
    painter.end();
    return image;
}

void SegmentationPreview::paintEvent(QPaintEvent* /*event*/)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::TextAntialiasing);
    render(painter, rect());
}

QSize SegmentationPreview::sizeHint() const
{
    return { 640, 420 };
}

QSize SegmentationPreview::minimumSizeHint() const
{
    return { 240, 160 };
}

bool SegmentationPreview::exportImage(const QString& path, const QSize& size, QString* error) const
{
    // PNG, PDF and SVG as the plots export them; no CSV, since a preview is pictures rather than series (the
    // label maps themselves are recorded with the run).
    const QString documentTitle = m_title.isEmpty() ? QStringLiteral("Dr²Net Workbench prediction preview") : m_title;
    return exportPicture(
        path, size, documentTitle,
        [this](QPainter& painter, const QRect& target) {
            painter.setRenderHint(QPainter::TextAntialiasing);
            render(painter, target);
        },
        error);
}

} // namespace dr2
