// The segmentation task: its head on ViT and Swin features, the loss and metrics it reports, reversible gradients
// through a dense head, a segmentation checkpoint's round trip, and a short training run on the built-in scenes.
#include "training/model_factory.h"
#include "training/segmentation_data.h"
#include "training/tasks/segmentation/segmentation_task.h"
#include "training/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

TrainConfig segmentationConfig(const std::string& preset)
{
    TrainConfig c;
    c.task = "segmentation";
    c.strategy = Strategy::Conventional;
    c.seed = 4;
    c.model.preset = preset;
    c.model.inChannels = 1;
    c.model.dropPath = 0.0;
    c.model.headDim = 16;
    if (preset == "vit-ti") {
        c.model.embedDim = 32;
        c.model.depth = 2;
        c.model.heads = 2;
        c.model.imageSize = 64;
        c.model.patchSize = 16; // stride 16: the head upsamples progressively to stride 4
    } else {
        c.model.embedDim = 16;
        c.model.depth = 0;
        c.model.heads = 1;
        c.model.imageSize = 56;
        c.model.patchSize = 2;
        c.model.windowSize = 7;
    }
    c.data.dataset = "scenes";
    return c;
}

std::vector<std::string> sceneClasses()
{
    return { "background", "trouser", "bag" };
}

TEST(SegmentationTask, HeadPredictsEveryPixelOnViTAndSwinFeatures)
{
    for (const std::string preset : { "vit-ti", "swin-t" }) {
        SCOPED_TRACE(preset);
        const TrainConfig config = segmentationConfig(preset);
        BuiltNetwork built = buildNetwork(config, 3, sceneClasses());
        const int64_t size = config.model.imageSize;
        const torch::Tensor input = torch::randn({ 2, 1, size, size });
        const torch::Tensor logits = built.network->forward(input);
        EXPECT_EQ(logits.sizes(), (std::vector<int64_t> { 2, 3, size, size }));
        // Every pixel's gradient reaches the backbone's first layer: the head reads the stages end to end.
        logits.select(1, 1).mean().backward();
        int checked = 0;
        for (const auto& p : built.network->backbone().named_parameters())
            if (p.key().rfind("patch_embed", 0) == 0) {
                EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
                ++checked;
            }
        EXPECT_GT(checked, 0) << "the patch embedding's parameters are named patch_embed.*";
    }
}

TEST(SegmentationTask, LossIgnoresUnlabelledPixelsAndSurvivesABatchWithoutLabels)
{
    SegmentationTask task(sceneClasses(), 16);
    torch::manual_seed(0);
    const torch::Tensor logits = torch::randn({ 2, 3, 4, 4 }, torch::requires_grad());
    torch::Tensor masks = torch::randint(3, { 2, 4, 4 }, torch::kLong);
    masks.index_put_({ 0, 0 }, kIgnoreLabel);
    const torch::Tensor base = task.loss(logits, { masks, {} });
    // Changing the scores of an ignored pixel changes nothing; changing a labelled one does.
    torch::Tensor changed = logits.detach().clone();
    changed.index_put_({ 0, torch::indexing::Slice(), 0, 0 }, 50.0);
    EXPECT_NEAR(task.loss(changed, { masks, {} }).item<double>(), base.item<double>(), 1e-6);
    changed.index_put_({ 1, torch::indexing::Slice(), 1, 1 }, torch::tensor({ 50.0, -50.0, -50.0 }));
    EXPECT_GT(std::abs(task.loss(changed, { masks, {} }).item<double>() - base.item<double>()), 1e-3);
    // The mean over the labelled pixels is PyTorch's ignore_index cross-entropy.
    const torch::Tensor keep = masks.ne(kIgnoreLabel);
    const torch::Tensor perPixel = -torch::log_softmax(logits, 1).gather(1, masks.clamp_max(2).unsqueeze(1)).squeeze(1);
    EXPECT_NEAR(base.item<double>(), perPixel.masked_select(keep).mean().item<double>(), 1e-5);
    // A batch whose every pixel is ignored gives zero loss and zero gradients, not 0/0.
    const torch::Tensor none = torch::full({ 2, 4, 4 }, kIgnoreLabel, torch::kLong);
    const torch::Tensor empty = task.loss(logits, { none, {} });
    EXPECT_EQ(empty.item<double>(), 0.0);
    empty.backward();
    EXPECT_EQ(logits.grad().abs().sum().item<double>(), 0.0);
}

TEST(SegmentationTask, MetricsFollowTheConfusionMatrixOverTheWholeSet)
{
    SegmentationTask task(sceneClasses(), 16);
    auto evaluation = task.startEvaluation();
    // Two batches of one 1×4 image. Truth / prediction per pixel:
    //   batch 1: truth 0 0 1 1, prediction 0 1 1 1;  batch 2: truth 2 2 255 0, prediction 2 0 1 0.
    auto logitsFor = [](std::vector<int64_t> predicted) {
        torch::Tensor logits = torch::zeros({ 1, 3, 1, 4 });
        for (int64_t i = 0; i < 4; ++i)
            logits.index_put_({ 0, predicted[static_cast<size_t>(i)], 0, i }, 10.0);
        return logits;
    };
    evaluation->add(logitsFor({ 0, 1, 1, 1 }), { torch::tensor({ 0, 0, 1, 1 }, torch::kLong).view({ 1, 1, 4 }), {} });
    evaluation->add(logitsFor({ 2, 0, 1, 0 }),
        { torch::tensor({ 2, 2, static_cast<int>(kIgnoreLabel), 0 }, torch::kLong).view({ 1, 1, 4 }), {} });
    const MetricMap m = evaluation->result();
    // Labelled pixels 7, correct 5 (the ignored pixel's prediction counts for nothing).
    EXPECT_NEAR(m.at("pixel_acc"), 5.0 / 7.0, 1e-12);
    // background: TP 2 (pixels 1 and 8), FP 1 (pixel 6), FN 1 (pixel 2) → 2/4; trouser: TP 2, FP 1 → 2/3;
    // bag: TP 1, FN 1 → 1/2.
    EXPECT_NEAR(m.at(classIouKey("background")), 0.5, 1e-12);
    EXPECT_NEAR(m.at(classIouKey("trouser")), 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(m.at(classIouKey("bag")), 0.5, 1e-12);
    EXPECT_NEAR(m.at("miou"), (0.5 + 2.0 / 3.0 + 0.5) / 3.0, 1e-12);
    EXPECT_EQ(evaluation->samples(), 2);
    EXPECT_EQ(task.primaryMetric().name, "miou");
    EXPECT_EQ(classIouKey("T-shirt/top"), "iou/T-shirt_top");
}

TEST(SegmentationTask, ReversibleGradientsThroughTheDenseHeadMatchStoredOnes)
{
    // The head is ordinary autograd; the backbone's reversible backward must hand it (and take from it) exactly
    // what the stored backward does, stage by stage on Swin.
    TrainConfig config = segmentationConfig("swin-t");
    BuiltNetwork built = buildNetwork(config, 3, sceneClasses());
    NetworkImpl& network = *built.network;
    Backbone& backbone = network.backbone();
    network.to(torch::kDouble);
    torch::manual_seed(1);
    const torch::Tensor input = torch::randn({ 2, 1, 56, 56 }, torch::kDouble);
    const torch::Tensor masks = torch::randint(3, { 2, 56, 56 }, torch::kLong);
    backbone.setCoefficients(0.2, 0.8);
    auto gradients = [&](ExecMode mode) {
        backbone.setMode(mode);
        network.zero_grad();
        network.task().loss(network.forward(input), { masks, {} }).backward();
        std::vector<torch::Tensor> grads;
        for (const auto& p : network.parameters())
            grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        return grads;
    };
    const auto stored = gradients(ExecMode::Stored);
    const auto reversible = gradients(ExecMode::Reversible);
    double worst = 0.0;
    for (size_t i = 0; i < stored.size(); ++i) {
        const double scale = stored[i].norm().item<double>();
        if (scale > 0)
            worst = std::max(worst, (reversible[i] - stored[i]).norm().item<double>() / scale);
    }
    EXPECT_LT(worst, 1e-8) << "float64, so reconstruction error is far below this";
}

TEST(SegmentationTask, ASegmentationCheckpointBringsItsHeadBack)
{
    const fs::path dir = fs::temp_directory_path() / ("dr2_segmentation_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string path = (dir / "segmentation.safetensors").string();
    TrainConfig config = segmentationConfig("vit-ti");
    BuiltNetwork source = buildNetwork(config, 3, sceneClasses());
    {
        torch::NoGradGuard noGrad;
        for (auto& p : source.network->task().head()->parameters())
            p.add_(0.1); // off its initialisation, as training would move it
    }
    saveNativeCheckpoint(path, *source.network);
    TrainConfig reload = config;
    reload.model.checkpoint = path;
    reload.model.resetHead = false;
    reload.seed = 99; // a fresh head would differ
    BuiltNetwork loaded = buildNetwork(reload, 3, sceneClasses());
    const torch::Tensor input = torch::randn({ 1, 1, 64, 64 });
    source.network->eval();
    loaded.network->eval();
    EXPECT_TRUE(torch::allclose(source.network->forward(input), loaded.network->forward(input), 1e-5, 1e-6));
    EXPECT_TRUE(std::any_of(loaded.notes.begin(), loaded.notes.end(),
        [](const std::string& n) { return n.find("segmentation head kept") != std::string::npos; }));
    // Another class count cannot reuse it: the head starts fresh and the log says so.
    BuiltNetwork other = buildNetwork(reload, 4, {});
    EXPECT_TRUE(std::any_of(other.notes.begin(), other.notes.end(),
        [](const std::string& n) { return n.find("segmentation head built fresh") != std::string::npos; }));
    fs::remove_all(dir);
}

/// Collects what a segmentation run reports.
class SegmentationRecorder : public TrainObserver {
public:
    std::vector<EvaluationEvent> evaluations;
    std::vector<PredictionPreviewEvent> previews;
    RunStartedEvent started;
    void onStarted(const RunStartedEvent& e) override { started = e; }
    void onEvaluation(const EvaluationEvent& e) override { evaluations.push_back(e); }
    void onPreview(const PredictionPreviewEvent& e) override { previews.push_back(e); }
};

/// Scenes of 56² with one to three items of two classes on black; a 2-layer ViT at patch 4 trained from scratch.
TrainConfig sceneRunConfig(Strategy strategy)
{
    TrainConfig c;
    c.name = "scenes-" + toString(strategy);
    c.task = "segmentation";
    c.strategy = strategy;
    c.seed = 5;
    c.model.embedDim = 64;
    c.model.depth = 4;
    c.model.heads = 4;
    c.model.imageSize = 56;
    c.model.patchSize = 4;
    c.model.inChannels = 1;
    c.model.dropPath = 0.0;
    c.model.headDim = 16;
    c.data.dataset = "scenes";
    c.data.classes = { 1, 8 }; // trouser, bag: shapes a patch-level head can tell apart
    c.data.scenes.train = 384;
    c.data.scenes.val = 96;
    c.data.scenes.minItems = 1;
    c.data.scenes.maxItems = 3;
    c.data.scenes.minScale = 0.75;
    c.data.scenes.maxScale = 1.5;
    c.data.flip = true;
    c.data.randomCrop = false;
    c.optim.epochs = 3;
    c.optim.batchSize = 16;
    c.optim.lr = 2e-3;
    c.optim.warmupIterations = 8;
    c.optim.labelSmoothing = 0.0;
    return c;
}

TEST(SegmentationTraining, ScenesTrainWellAboveTheAllBackgroundBaseline)
{
    SegmentationRecorder recorder;
    Trainer trainer(sceneRunConfig(Strategy::Conventional));
    trainer.addObserver(&recorder);
    const RunFinishedEvent finished = trainer.run();
    ASSERT_EQ(finished.outcome, RunOutcome::Finished) << finished.message;
    ASSERT_EQ(recorder.evaluations.size(), 3U);
    EXPECT_EQ(recorder.started.task, "segmentation");
    EXPECT_EQ(recorder.started.metrics.front().name, "miou");
    const MetricMap& last = recorder.evaluations.back().metrics;
    // Predicting background everywhere scores pixel accuracy = the background share of the validation scenes and
    // mIoU = that share over the three classes present: the baseline a model that finds the items must beat.
    const TrainConfig config = sceneRunConfig(Strategy::Conventional);
    SceneOptions options { config.model.imageSize, config.data.scenes.val, config.data.scenes.minItems,
        config.data.scenes.maxItems, config.data.scenes.minScale, config.data.scenes.maxScale, config.data.classes,
        config.seed + 1 };
    const ImageDataset val = makeFashionScenes(loadFashionMnist(config.data.root, /*train=*/false), options);
    const double background = val.masks.eq(0).to(torch::kDouble).mean().item<double>();
    const double baseline = background / 3.0;
    for (const auto& e : recorder.evaluations)
        std::cout << "epoch " << e.epoch + 1 << ": mIoU " << e.metrics.at("miou") << std::endl;
    std::cout << "scenes: mIoU " << last.at("miou") << " (all-background baseline " << baseline << "), pixel accuracy "
              << last.at("pixel_acc") << " (background share " << background << "), IoU trouser "
              << last.at(classIouKey("Trouser")) << ", bag " << last.at(classIouKey("Bag")) << std::endl;
    // Measured (seed 5): mIoU 0.55 against a baseline of 0.25, IoU bag 0.59, trouser 0.12 (thin shapes the
    // 3-epoch model finds last). The bounds leave room for platform differences, not for a model that learns nothing.
    EXPECT_GT(last.at("miou"), baseline + 0.2);
    EXPECT_GT(last.at("pixel_acc"), background + 0.02);
    EXPECT_GT(last.at(classIouKey("Bag")), 0.4);
    EXPECT_GT(last.at(classIouKey("Trouser")), 0.05);
    double best = 0.0;
    for (const auto& evaluation : recorder.evaluations)
        best = std::max(best, evaluation.metrics.at("miou"));
    EXPECT_DOUBLE_EQ(finished.bestPrimary, best);

    // A preview after every evaluation: the first validation scenes, their truth and the prediction.
    ASSERT_EQ(recorder.previews.size(), 3U);
    const PredictionPreviewEvent& preview = recorder.previews.back();
    EXPECT_EQ(preview.classNames, (std::vector<std::string> { "background", "Trouser", "Bag" }));
    ASSERT_EQ(preview.samples.size(), 4U);
    EXPECT_EQ(preview.height, 56);
    EXPECT_EQ(preview.channels, 1);
    int64_t agree = 0;
    int64_t labelled = 0;
    for (const auto& sample : preview.samples) {
        ASSERT_EQ(sample.image.size(), 56U * 56U);
        ASSERT_EQ(sample.truth.size(), 56U * 56U);
        for (size_t i = 0; i < sample.truth.size(); ++i) {
            // Scenes are black where no item lies: the un-normalised input shows it.
            if (sample.truth[i] == 0) {
                EXPECT_LE(sample.image[i], kSceneItemThreshold) << "pixel " << i;
            }
            labelled += sample.truth[i] != kIgnoreLabel;
            agree += sample.truth[i] == sample.prediction[i];
        }
    }
    EXPECT_GT(static_cast<double>(agree) / static_cast<double>(labelled), 0.8);
}

TEST(SegmentationTraining, TaskAndDatasetMustGoTogether)
{
    TrainConfig config = sceneRunConfig(Strategy::Conventional);
    config.data.dataset = "fashion-mnist";
    try {
        Trainer(config).run();
        FAIL() << "segmentation on a classification dataset must be refused";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("data.dataset"), std::string::npos) << e.what();
    }
    config = sceneRunConfig(Strategy::Conventional);
    config.task = "classification";
    EXPECT_THROW(Trainer(config).run(), std::invalid_argument);
}

} // namespace
} // namespace dr2
