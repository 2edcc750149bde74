#include "app/gui/checkpoint_inspection.h"

#include "core/backbone_registry.h"

#include <QStringList>

namespace dr2 {

CheckpointInspection inspectCheckpoint(const QString& path, int heads)
{
    CheckpointInspection result;
    result.path = path;
    try {
        const LoadedCheckpoint checkpoint = readCheckpoint(path.toStdString());
        BackboneLoadOptions options;
        if (heads > 0)
            options.heads = heads;
        options.numClasses = 0; // the file's classifier is reported, not built
        options.allowMissing = true; // like inspect: show the gaps instead of refusing
        BackboneLoadReport report;
        const BackbonePtr backbone = loadBackbone(checkpoint, options, &report);
        const BackboneDescription description = backbone->describe();
        const InputShape input = backbone->inputShape();
        auto add = [&](const QString& key, const QString& value) { result.rows.push_back({ key, value }); };
        auto num = [](int64_t v) { return QString::number(v); };
        auto text = [](const std::string& s) { return QString::fromStdString(s); };
        auto list = [](const std::vector<std::string>& items) {
            QStringList out;
            for (const auto& item : items)
                out << QString::fromStdString(item);
            return out.join(QStringLiteral(", "));
        };
        add(QStringLiteral("format"), text(toString(checkpoint.format)));
        add(QStringLiteral("naming"), text(report.naming));
        add(QStringLiteral("family"),
            text(description.family)
                + (report.video && description.family.rfind("video", 0) != 0 ? QStringLiteral(" (video)") : QString()));
        add(QStringLiteral("summary"), text(description.summary));
        // The family's hyperparameters under the keys `inspect --json` uses ("embed dim" → "embed_dim").
        for (const auto& [key, value] : description.details)
            add(text(key).replace(QLatin1Char(' '), QLatin1Char('_')), text(value));
        if (description.stages.size() > 1)
            for (const auto& stage : description.stages)
                add(text(stage.name),
                    QStringLiteral("%1 branches, width %2, stride %3")
                        .arg(stage.branches)
                        .arg(stage.width)
                        .arg(stage.stride));
        add(QStringLiteral("branches"), num(description.branches()));
        add(QStringLiteral("num_classes"), num(report.checkpointNumClasses));
        add(QStringLiteral("tensors"), num(int64_t(checkpoint.tensors.size())));
        add(QStringLiteral("file_parameters"), num(report.fileParameters));
        add(QStringLiteral("backbone_parameters"), num(description.parameters));
        if (!report.missingKeys.empty())
            add(QStringLiteral("missing_keys"), list(report.missingKeys));
        if (!report.unexpectedKeys.empty())
            add(QStringLiteral("unexpected_keys"), list(report.unexpectedKeys));
        if (!report.nanTensors.empty())
            add(QStringLiteral("nan_tensors"), list(report.nanTensors));
        if (!report.notes.empty())
            add(QStringLiteral("notes"), list(report.notes));
        result.family = text(description.family);
        result.summary = text(description.summary);
        result.imageSize = input.height;
        result.inChannels = input.channels;
        result.frames = input.frames;
        for (const auto& stage : description.stages)
            result.branchesPerStage.push_back(stage.branches);
        result.ok = true;
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = QString::fromUtf8(e.what());
        result.rows.clear();
    }
    return result;
}

} // namespace dr2
