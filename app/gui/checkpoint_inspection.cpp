#include "app/gui/checkpoint_inspection.h"

#include "core/vit_loader.h"

#include <torch/torch.h>

namespace dr2 {

CheckpointInspection inspectCheckpoint(const QString& path, int heads)
{
    CheckpointInspection result;
    result.path = path;
    try {
        const LoadedCheckpoint checkpoint = readCheckpoint(path.toStdString());
        ViTLoadOptions options;
        if (heads > 0)
            options.overrides.heads = heads;
        options.allowMissing = true; // like inspect: show the gaps instead of refusing
        ViTLoadReport report;
        ViT model = loadViT(checkpoint, options, &report);
        const ViTOptions& o = model->options();
        int64_t modelParameters = 0;
        for (const auto& p : model->parameters())
            modelParameters += p.numel();
        auto add = [&](const char* key, const QString& value) { result.rows.push_back({ QLatin1String(key), value }); };
        auto num = [](int64_t v) { return QString::number(v); };
        auto list = [](const std::vector<std::string>& items) {
            QStringList out;
            for (const auto& item : items)
                out << QString::fromStdString(item);
            return out.join(QStringLiteral(", "));
        };
        add("format", QString::fromStdString(toString(checkpoint.format)));
        add("naming", QString::fromStdString(toString(report.info.scheme)));
        add("architecture", report.info.video ? QStringLiteral("video_vit") : QStringLiteral("vit"));
        add("embed_dim", num(o.embedDim));
        add("depth", num(o.depth));
        add("heads", QStringLiteral("%1 (%2)").arg(o.heads).arg(QString::fromStdString(report.info.headsSource)));
        add("patch_size", num(o.patchSize));
        add("image_size", num(o.imageSize));
        add("in_channels", num(o.inChannels));
        add("num_classes", num(o.numClasses));
        add("tensors", num(int64_t(checkpoint.tensors.size())));
        add("file_parameters", num(report.info.parameterCount));
        add("model_parameters", num(modelParameters));
        add("branches", num(model->stack().size()));
        if (!report.missingKeys.empty())
            add("missing_keys", list(report.missingKeys));
        if (!report.unexpectedKeys.empty())
            add("unexpected_keys", list(report.unexpectedKeys));
        if (!report.nanTensors.empty())
            add("nan_tensors", list(report.nanTensors));
        if (!report.notes.empty())
            add("notes", list(report.notes));
        result.imageSize = o.imageSize;
        result.patchSize = o.patchSize;
        result.inChannels = o.inChannels;
        result.heads = o.heads;
        result.ok = true;
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = QString::fromUtf8(e.what());
        result.rows.clear();
    }
    return result;
}

} // namespace dr2
