#include "training/run_data.h"

#include "training/segmentation_data.h"

#include <filesystem>
#include <stdexcept>

namespace dr2 {

namespace {

bool isSegmentationData(const std::string& dataset)
{
    return dataset == "scenes" || dataset == "masks";
}

std::pair<ImageDataset, ImageDataset> segmentationSplits(const TrainConfig& config)
{
    const auto& d = config.data;
    const auto& m = config.model;
    if (d.dataset == "scenes") {
        SceneOptions scenes;
        scenes.size = m.imageSize;
        scenes.minItems = d.scenes.minItems;
        scenes.maxItems = d.scenes.maxItems;
        scenes.minScale = d.scenes.minScale;
        scenes.maxScale = d.scenes.maxScale;
        scenes.classes = d.classes;
        scenes.count = d.scenes.train;
        scenes.seed = config.seed;
        ImageDataset train = makeFashionScenes(loadFashionMnist(d.root, /*train=*/true), scenes);
        // Validation scenes come from the test items, with their own seed: no item or layout is shared.
        scenes.count = d.scenes.val;
        scenes.seed = config.seed + 1;
        ImageDataset val = makeFashionScenes(loadFashionMnist(d.root, /*train=*/false), scenes);
        return { std::move(train), std::move(val) };
    }
    const std::filesystem::path root(d.root);
    if (hasSplitFolders(d.root))
        return { loadMaskFolder((root / "train").string(), m.imageSize, m.inChannels),
            loadMaskFolder((root / "val").string(), m.imageSize, m.inChannels) };
    return splitValidation(
        loadMaskFolder(d.root, m.imageSize, m.inChannels), d.valFraction > 0 ? d.valFraction : 0.2, config.seed);
}

} // namespace

void checkTaskData(const TrainConfig& config)
{
    const bool dense = config.task == "segmentation";
    const std::string& dataset = config.data.dataset;
    if (dense && !isSegmentationData(dataset))
        throw std::invalid_argument("config data.dataset: task segmentation trains on scenes or masks, found \"" + dataset
            + "\" (set data.dataset=scenes for the built-in Fashion-MNIST scenes)");
    if (!dense && isSegmentationData(dataset))
        throw std::invalid_argument("config task: data.dataset \"" + dataset + "\" holds segmentation masks; expected "
            "task segmentation, found \"" + config.task + "\"");
    if (dataset == "masks" && !config.data.classes.empty())
        throw std::invalid_argument("config data.classes: a mask folder keeps every class its masks hold (classes.txt "
            "names them); expected an empty list, found " + std::to_string(config.data.classes.size()) + " classes");
    if (dense && config.model.numFrames > 0)
        throw std::invalid_argument("config model.num_frames: segmentation needs an image backbone (0), found "
            + std::to_string(config.model.numFrames));
}

RunData loadRunData(const TrainConfig& config)
{
    checkTaskData(config);
    const auto& d = config.data;
    const auto& m = config.model;
    RunData data;
    ImageDataset& train = data.train;
    ImageDataset& val = data.val;
    if (isSegmentationData(d.dataset)) {
        std::tie(train, val) = segmentationSplits(config);
    } else {
        if (d.dataset == "fashion-mnist") {
            train = loadFashionMnist(d.root, /*train=*/true);
            val = d.valFraction > 0 ? ImageDataset() : loadFashionMnist(d.root, /*train=*/false);
        } else if (d.dataset == "clips") {
            train = loadClipFolder(d.root, m.imageSize, m.inChannels, m.numFrames);
        } else {
            train = loadImageFolder(d.root, m.imageSize, m.inChannels);
        }
        if (d.dataset != "fashion-mnist" || d.valFraction > 0)
            std::tie(train, val) = splitValidation(train, d.valFraction > 0 ? d.valFraction : 0.2, config.seed);
        train = selectClasses(train, d.classes);
        val = selectClasses(val, d.classes);
    }
    train = takeSubset(train, d.trainLimit, config.seed);
    val = takeSubset(val, d.valLimit, config.seed + 1);
    // A mask folder without classes.txt counts classes from the labels it holds: take the split that saw more.
    data.classNames = train.classNames.size() >= val.classNames.size() ? train.classNames : val.classNames;
    return data;
}

} // namespace dr2
