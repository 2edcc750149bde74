#pragma once

#include <QByteArray>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

namespace dr2 {

/// A prediction preview of a dense task: a few fixed validation scenes with their ground truth and the model's
/// prediction, as SegmentationPreview shows them. A plain value (torch-free) that travels in queued signals; the
/// pixel buffers are implicitly shared QByteArrays, so passing a preview around copies no pixels.
struct PreviewImages {
    /// The label that marks a pixel without ground truth (the tasks' kIgnoreLabel).
    static constexpr int kIgnoreLabel = 255;

    /// One scene: its input and the two label maps, all at width × height.
    struct Sample {
        QByteArray image; ///< height × width × channels bytes, row-major, 0–255 (the un-normalised input)
        QByteArray truth; ///< height × width class indices; kIgnoreLabel where no label counts
        QByteArray prediction; ///< height × width class indices
    };

    qint64 iteration = 0; ///< iteration of the evaluation that made the preview
    qint64 epoch = 0; ///< its epoch
    int width = 0; ///< scene width in pixels
    int height = 0; ///< scene height in pixels
    int channels = 1; ///< 1 (grey) or 3 (RGB)
    QStringList classNames; ///< class index → name; "background" at index 0 is drawn without a colour
    QVector<Sample> samples; ///< the scenes, in a fixed order

    /// True when there is no scene to show.
    bool isEmpty() const { return samples.isEmpty(); }
    /// Empty when the sizes fit together; else one line naming the sample, the buffer, expected and found.
    QString problem() const;
};

} // namespace dr2

Q_DECLARE_METATYPE(dr2::PreviewImages)
