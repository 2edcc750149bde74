#include "widgets/preview_images.h"

namespace dr2 {

QString PreviewImages::problem() const
{
    if (samples.isEmpty())
        return {};
    if (width <= 0 || height <= 0)
        return QStringLiteral("prediction preview: expected a positive scene size, found %1 × %2").arg(width).arg(height);
    if (channels != 1 && channels != 3)
        return QStringLiteral("prediction preview: expected 1 (grey) or 3 (RGB) channels, found %1").arg(channels);
    // Scenes larger than this are not previews; the limit keeps the products below from overflowing an int.
    constexpr qint64 kMaxPixels = qint64(1) << 26;
    const qint64 pixels = qint64(width) * qint64(height);
    if (pixels > kMaxPixels)
        return QStringLiteral("prediction preview: expected at most %1 pixels per scene, found %2 × %3")
            .arg(kMaxPixels)
            .arg(width)
            .arg(height);
    for (int s = 0; s < samples.size(); ++s) {
        const Sample& sample = samples[s];
        auto check = [&](const QByteArray& bytes, const char* name, qint64 expected) {
            return qint64(bytes.size()) == expected
                ? QString()
                : QStringLiteral("prediction preview: sample %1 %2: expected %3 bytes (%4 × %5%6), found %7")
                      .arg(s)
                      .arg(QString::fromUtf8(name))
                      .arg(expected)
                      .arg(height)
                      .arg(width)
                      .arg(expected == pixels ? QString() : QStringLiteral(" × %1").arg(channels))
                      .arg(bytes.size());
        };
        for (const QString& found : { check(sample.image, "image", pixels * channels),
                 check(sample.truth, "truth", pixels), check(sample.prediction, "prediction", pixels) })
            if (!found.isEmpty())
                return found;
    }
    return {};
}

} // namespace dr2
