// The prediction preview draws input, ground truth and prediction where it says it does, in the colours it
// says: class colours blended half over the input, no colour for the background, dark grey where the truth is
// ignored; it scales crisply, says when there is nothing to show, refuses buffers that do not fit, and exports.
#include "tests/widgets/test_support.h"
#include "widgets/segmentation_preview.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSet>
#include <gtest/gtest.h>

#include <cmath>

using namespace dr2;

namespace {

constexpr int kW = 8;
constexpr int kH = 6;
constexpr qsizetype kPixels = qsizetype(kW) * kH;

// A grey ramp (40 + 10·x) with a "shirt" (class 1) at x 1..3, y 1..2 and two ignored pixels in the bottom
// right corner; the prediction finds a "bag" (class 2) at x 4..6, y 3..4 and misses the shirt except (1, 1).
PreviewImages makeGreyPreview()
{
    PreviewImages preview;
    preview.iteration = 120;
    preview.epoch = 3;
    preview.width = kW;
    preview.height = kH;
    preview.channels = 1;
    preview.classNames = { QStringLiteral("background"), QStringLiteral("shirt"), QStringLiteral("bag") };
    PreviewImages::Sample sample;
    sample.image.resize(kPixels);
    sample.truth.fill(0, kPixels);
    sample.prediction.fill(0, kPixels);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x) {
            const int i = y * kW + x;
            sample.image[i] = char(40 + 10 * x);
            if (x >= 1 && x <= 3 && y >= 1 && y <= 2)
                sample.truth[i] = 1;
            if (x >= 4 && x <= 6 && y >= 3 && y <= 4)
                sample.prediction[i] = 2;
        }
    sample.truth[5 * kW + 7] = char(PreviewImages::kIgnoreLabel);
    sample.truth[5 * kW + 6] = char(PreviewImages::kIgnoreLabel);
    sample.prediction[1 * kW + 1] = 1;
    preview.samples = { sample };
    return preview;
}

int grey(int x)
{
    return 40 + 10 * x;
}

// The colour drawn at the centre of scene pixel (x, y) of `panel`.
QColor pixelAt(const SegmentationPreview& view, const QImage& image, int sample, SegmentationPreview::Panel panel,
    int x, int y)
{
    const QRect r = view.panelRect(sample, panel, image.rect());
    EXPECT_FALSE(r.isEmpty());
    const int px = r.left() + int((x + 0.5) * r.width() / view.preview().width);
    const int py = r.top() + int((y + 0.5) * r.height() / view.preview().height);
    return image.pixelColor(px, py);
}

// Half the class colour, half the input, per channel (±1 for rounding).
void expectBlend(const QColor& found, const QColor& classColour, const QColor& input, const char* where)
{
    EXPECT_NEAR(found.red(), (classColour.red() + input.red()) / 2.0, 1.0) << where;
    EXPECT_NEAR(found.green(), (classColour.green() + input.green()) / 2.0, 1.0) << where;
    EXPECT_NEAR(found.blue(), (classColour.blue() + input.blue()) / 2.0, 1.0) << where;
}

QByteArray readAll(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

TEST(SegmentationPreview, DrawsTruthAndPredictionBlendedOverTheInput)
{
    SegmentationPreview view;
    QString error;
    ASSERT_TRUE(view.setPreview(makeGreyPreview(), &error)) << error.toStdString();
    const QImage image = view.toImage(QSize(600, 400));
    using P = SegmentationPreview::Panel;

    // Input: the grey ramp, unchanged.
    EXPECT_EQ(pixelAt(view, image, 0, P::Input, 2, 1), QColor(grey(2), grey(2), grey(2)));
    EXPECT_EQ(pixelAt(view, image, 0, P::Input, 7, 5), QColor(grey(7), grey(7), grey(7)));

    // Ground truth: the shirt's colour blended half over the grey at a labelled pixel; the background shows the
    // input itself; ignored pixels are the ignore colour whatever is under them.
    const QColor shirt = SegmentationPreview::classColour(1);
    const QColor greyAt2(grey(2), grey(2), grey(2));
    const QColor truthShirt = pixelAt(view, image, 0, P::Truth, 2, 1);
    expectBlend(truthShirt, shirt, greyAt2, "truth at a shirt pixel");
    EXPECT_NE(truthShirt, shirt) << "blended, not painted over";
    EXPECT_NE(truthShirt, greyAt2) << "the class shows";
    EXPECT_EQ(pixelAt(view, image, 0, P::Truth, 0, 0), QColor(grey(0), grey(0), grey(0)));
    EXPECT_EQ(pixelAt(view, image, 0, P::Truth, 5, 4), QColor(grey(5), grey(5), grey(5)));
    EXPECT_EQ(pixelAt(view, image, 0, P::Truth, 7, 5), SegmentationPreview::ignoreColour());
    EXPECT_EQ(pixelAt(view, image, 0, P::Truth, 6, 5), SegmentationPreview::ignoreColour());

    // Prediction: the bag where it was predicted, the shirt only at (1, 1), the input elsewhere.
    expectBlend(pixelAt(view, image, 0, P::Prediction, 5, 3), SegmentationPreview::classColour(2),
        QColor(grey(5), grey(5), grey(5)), "prediction at a bag pixel");
    expectBlend(pixelAt(view, image, 0, P::Prediction, 1, 1), shirt, QColor(grey(1), grey(1), grey(1)),
        "prediction at the one shirt pixel it found");
    EXPECT_EQ(pixelAt(view, image, 0, P::Prediction, 2, 1), greyAt2);
    EXPECT_EQ(pixelAt(view, image, 0, P::Prediction, 7, 5), QColor(grey(7), grey(7), grey(7)));

    // The legend lists the classes present, without the uncoloured background.
    EXPECT_EQ(view.legendClasses(), (std::vector<int> { 1, 2 }));
    EXPECT_EQ(view.caption(), QStringLiteral("iteration 120 · epoch 3"));
}

TEST(SegmentationPreview, BlendsOverRgbInputsAndColoursAClassZeroThatIsNotBackground)
{
    PreviewImages preview = makeGreyPreview();
    preview.channels = 3;
    preview.classNames = { QStringLiteral("road"), QStringLiteral("car") };
    PreviewImages::Sample& sample = preview.samples.front();
    QByteArray rgb;
    for (qsizetype i = 0; i < kPixels; ++i)
        rgb.append(char(200)).append(char(30)).append(char(90));
    sample.image = rgb;
    SegmentationPreview view;
    QString error;
    ASSERT_TRUE(view.setPreview(preview, &error)) << error.toStdString();
    const QImage image = view.toImage(QSize(500, 300));
    using P = SegmentationPreview::Panel;
    const QColor input(200, 30, 90);
    EXPECT_EQ(pixelAt(view, image, 0, P::Input, 0, 0), input);
    // Class 0 is "road" here: a class like any other, coloured.
    EXPECT_FALSE(view.isTransparent(0));
    expectBlend(pixelAt(view, image, 0, P::Truth, 0, 0), SegmentationPreview::classColour(0), input, "road");
    expectBlend(pixelAt(view, image, 0, P::Truth, 2, 2), SegmentationPreview::classColour(1), input, "car");
    EXPECT_EQ(view.legendClasses(), (std::vector<int> { 0, 1, 2 }));
}

TEST(SegmentationPreview, PaletteIsDistinctAndFixedPerClass)
{
    QSet<QRgb> seen;
    for (int c = 1; c <= 20; ++c) {
        const QColor colour = SegmentationPreview::classColour(c);
        seen.insert(colour.rgb());
        // A grey class colour would vanish over a grey scene.
        EXPECT_GT(std::max({ colour.red(), colour.green(), colour.blue() })
                - std::min({ colour.red(), colour.green(), colour.blue() }),
            20)
            << "class " << c << " is nearly grey";
        EXPECT_NE(colour.rgb(), SegmentationPreview::ignoreColour().rgb());
    }
    EXPECT_EQ(seen.size(), 20);
    EXPECT_EQ(SegmentationPreview::classColour(3), SegmentationPreview::classColour(3));
    EXPECT_EQ(SegmentationPreview::classColour(21), SegmentationPreview::classColour(1)) << "cycles after 20";
}

TEST(SegmentationPreview, SaysWhenThereIsNothingToShow)
{
    SegmentationPreview view;
    EXPECT_FALSE(view.hasPreview());
    EXPECT_TRUE(view.caption().isEmpty());
    EXPECT_EQ(SegmentationPreview::emptyText(),
        QStringLiteral("No preview yet — it appears after the first evaluation of a segmentation run"));
    QPalette palette;
    palette.setColor(QPalette::Base, Qt::white);
    palette.setColor(QPalette::Text, Qt::black);
    view.setPalette(palette);
    // The empty state draws its text (dark pixels in the middle band), not a blank widget.
    auto darkPixelsInTheMiddle = [](const QImage& image) {
        int dark = 0;
        for (int y = image.height() / 3; y < 2 * image.height() / 3; ++y)
            for (int x = 0; x < image.width(); ++x)
                dark += qGray(image.pixel(x, y)) < 160 ? 1 : 0;
        return dark;
    };
    EXPECT_GT(darkPixelsInTheMiddle(view.toImage(QSize(700, 200))), 50);
    EXPECT_TRUE(view.panelRect(0, SegmentationPreview::Panel::Input, QRect(0, 0, 700, 200)).isEmpty());

    ASSERT_TRUE(view.setPreview(makeGreyPreview()));
    EXPECT_TRUE(view.hasPreview());
    view.clear();
    EXPECT_FALSE(view.hasPreview());
    EXPECT_TRUE(view.legendClasses().empty());
    test::showAt(view, 700, 200);
    test::saveScreenshot(view, QStringLiteral("segmentation_preview_empty"));
}

TEST(SegmentationPreview, RefusesBuffersThatDoNotFitAndKeepsWhatItShowed)
{
    SegmentationPreview view;
    ASSERT_TRUE(view.setPreview(makeGreyPreview()));
    PreviewImages broken = makeGreyPreview();
    broken.iteration = 999;
    broken.samples.front().truth.chop(1);
    QString error;
    EXPECT_FALSE(view.setPreview(broken, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("sample 0 truth"))) << error.toStdString();
    EXPECT_TRUE(error.contains(QStringLiteral("expected 48 bytes"))) << error.toStdString();
    EXPECT_EQ(view.preview().iteration, 120) << "the previous preview stays";

    broken = makeGreyPreview();
    broken.channels = 2;
    EXPECT_FALSE(view.setPreview(broken, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("channels"))) << error.toStdString();
}

TEST(SegmentationPreview, ArrangesScenesToTheAreaAndEnlargesCrisply)
{
    PreviewImages preview = makeGreyPreview();
    preview.samples.push_back(preview.samples.front());
    preview.samples.push_back(preview.samples.front());
    SegmentationPreview view;
    ASSERT_TRUE(view.setPreview(preview));
    using P = SegmentationPreview::Panel;
    // A wide area puts the three scenes side by side, a tall one under each other.
    const QRect wide(0, 0, 1800, 300);
    EXPECT_EQ(view.panelRect(1, P::Input, wide).top(), view.panelRect(0, P::Input, wide).top());
    EXPECT_GT(view.panelRect(1, P::Input, wide).left(), view.panelRect(0, P::Prediction, wide).right());
    const QRect tall(0, 0, 400, 1200);
    EXPECT_GT(view.panelRect(1, P::Input, tall).top(), view.panelRect(0, P::Input, tall).bottom());
    for (const QRect& area : { wide, tall }) {
        const QRect panel = view.panelRect(2, P::Truth, area);
        EXPECT_TRUE(area.contains(panel)) << "inside the area";
        EXPECT_NEAR(double(panel.width()) / panel.height(), double(kW) / kH, 0.05) << "aspect kept";
    }

    // Enlarged with nearest neighbour: every pixel of the truth panel is one of the scene's own colours.
    const QImage image = view.toImage(QSize(900, 500));
    const QImage scene = view.panelImage(0, P::Truth);
    ASSERT_EQ(scene.size(), QSize(kW, kH));
    QSet<QRgb> colours;
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x)
            colours.insert(scene.pixel(x, y) | 0xff000000U);
    const QRect panel = view.panelRect(0, P::Truth, image.rect());
    ASSERT_GT(panel.width(), 4 * kW);
    for (int y = panel.top(); y <= panel.bottom(); ++y)
        for (int x = panel.left(); x <= panel.right(); ++x)
            ASSERT_TRUE(colours.contains(image.pixel(x, y) | 0xff000000U)) << "blurred at " << x << "," << y;
}

TEST(SegmentationPreview, ExportsPngPdfAndSvgButNoCsv)
{
    SegmentationPreview view;
    view.setTitle(QStringLiteral("Prediction preview"));
    ASSERT_TRUE(view.setPreview(makeGreyPreview()));
    const QString dir = test::scratchDir(QStringLiteral("segmentation_preview"));
    QString error;
    ASSERT_TRUE(view.exportImage(dir + QStringLiteral("/preview.png"), QSize(640, 360), &error)) << error.toStdString();
    EXPECT_EQ(QImage(dir + QStringLiteral("/preview.png")).size(), QSize(640, 360));
    ASSERT_TRUE(view.exportImage(dir + QStringLiteral("/preview.pdf"), QSize(640, 360), &error)) << error.toStdString();
    EXPECT_TRUE(readAll(dir + QStringLiteral("/preview.pdf")).startsWith("%PDF"));
    ASSERT_TRUE(view.exportImage(dir + QStringLiteral("/preview.svg"), QSize(640, 360), &error)) << error.toStdString();
    EXPECT_TRUE(readAll(dir + QStringLiteral("/preview.svg")).contains("<svg"));

    EXPECT_FALSE(view.exportImage(dir + QStringLiteral("/preview.csv"), QSize(640, 360), &error));
    EXPECT_TRUE(error.contains(QStringLiteral(".png, .pdf or .svg"))) << error.toStdString();
    EXPECT_FALSE(QFileInfo::exists(dir + QStringLiteral("/preview.csv")));
    EXPECT_FALSE(view.exportImage(dir + QStringLiteral("/tiny.png"), QSize(8, 8), &error));
    EXPECT_FALSE(QFileInfo::exists(dir + QStringLiteral("/tiny.png")));
}

TEST(SegmentationPreview, ScreenshotOfScenesWithObjects)
{
    // Four 64² scenes with a few objects each, the prediction slightly off: what a reviewer sees.
    constexpr int kSide = 64;
    constexpr qsizetype kScenePixels = qsizetype(kSide) * kSide;
    PreviewImages preview;
    preview.iteration = 400;
    preview.epoch = 5;
    preview.width = kSide;
    preview.height = kSide;
    preview.classNames = { QStringLiteral("background"), QStringLiteral("t-shirt"), QStringLiteral("trouser"),
        QStringLiteral("pullover"), QStringLiteral("dress"), QStringLiteral("coat") };
    for (int s = 0; s < 4; ++s) {
        PreviewImages::Sample sample;
        sample.image.fill(char(20), kScenePixels);
        sample.truth.fill(0, kScenePixels);
        sample.prediction.fill(0, kScenePixels);
        for (int k = 0; k < 3; ++k) {
            const int cls = 1 + (s + 2 * k) % 5;
            const int cx = 12 + ((s * 17 + k * 23) % 40);
            const int cy = 12 + ((s * 29 + k * 13) % 40);
            const int r = 5 + (k + s) % 6;
            for (int y = 0; y < kSide; ++y)
                for (int x = 0; x < kSide; ++x) {
                    const int i = y * kSide + x;
                    const double d = std::hypot(x - cx, y - cy);
                    if (d <= r) {
                        sample.image[i] = char(120 + int(100 * (1.0 - d / r)));
                        sample.truth[i] = char(d > r - 1 ? PreviewImages::kIgnoreLabel : cls);
                    }
                    if (std::hypot(x - cx - 1, y - cy) <= r - 1)
                        sample.prediction[i] = char(k == 2 && s % 2 == 0 ? 1 + (cls % 5) : cls);
                }
        }
        preview.samples.push_back(sample);
    }
    SegmentationPreview view;
    view.setTitle(QStringLiteral("Prediction preview"));
    ASSERT_TRUE(view.setPreview(preview));
    test::showAt(view, 1000, 620);
    const QString path = test::saveScreenshot(view, QStringLiteral("segmentation_preview"));
    EXPECT_FALSE(QImage(path).isNull());
}
