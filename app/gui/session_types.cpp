#include "app/gui/session_types.h"

#include "app/recording/run_preview.h"

namespace dr2 {

PreviewImages previewImagesOf(const RunPreview& preview)
{
    PreviewImages images;
    images.iteration = preview.iteration;
    images.epoch = preview.epoch;
    images.width = int(preview.width);
    images.height = int(preview.height);
    images.channels = int(preview.channels);
    for (const std::string& name : preview.classNames)
        images.classNames << QString::fromStdString(name);
    auto bytes = [](const std::vector<uint8_t>& pixels) {
        return QByteArray(reinterpret_cast<const char*>(pixels.data()), qsizetype(pixels.size()));
    };
    images.samples.reserve(qsizetype(preview.samples.size()));
    for (const RunPreview::Sample& sample : preview.samples)
        images.samples.push_back({ bytes(sample.image), bytes(sample.truth), bytes(sample.prediction) });
    return images;
}

void registerSessionTypes()
{
    qRegisterMetaType<RunStartedInfo>();
    qRegisterMetaType<RunProgress>();
    qRegisterMetaType<EvaluationInfo>();
    qRegisterMetaType<ProbeInfo>();
    qRegisterMetaType<SegmentInfo>();
    qRegisterMetaType<RunFinishedInfo>();
    qRegisterMetaType<SweepResult>();
    qRegisterMetaType<PreviewImages>();
}

} // namespace dr2
