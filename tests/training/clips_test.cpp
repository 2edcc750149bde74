// Video clips: a folder of frame sequences per class, loaded and trained with the video ViT.
#include "training/data_loader.h"
#include "training/image_dataset.h"
#include "training/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <filesystem>
#include <numeric>
#include <random>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// Writes `perClass` clips of `frames` PNG frames (16×16 grey) for two classes: a bright square moving
/// right ("right") or left ("left") over a background that fades in ("right") or out ("left"). Both
/// classes show the same set of frames; only their order tells the classes apart.
fs::path writeClips(int perClass, int frames)
{
    fs::path root = fs::temp_directory_path() / ("dr2_clips_" + std::to_string(::getpid()));
    fs::remove_all(root);
    std::mt19937 rng(5);
    for (const std::string direction : { "left", "right" }) {
        for (int clip = 0; clip < perClass; ++clip) {
            const fs::path dir = root / direction / ("clip" + std::to_string(clip));
            fs::create_directories(dir);
            const int row = static_cast<int>(rng() % 12);
            for (int t = 0; t < frames; ++t) {
                const int step = direction == "right" ? t : frames - 1 - t;
                std::vector<unsigned char> pixels(size_t { 16 } * 16);
                for (auto& p : pixels)
                    p = static_cast<unsigned char>(20 + 30 * step + static_cast<int>(rng() % 20));
                const int col = step * 12 / std::max(1, frames - 1);
                for (int y = row; y < row + 4; ++y)
                    for (int x = col; x < col + 4; ++x)
                        pixels[static_cast<size_t>(y) * 16 + static_cast<size_t>(x)] = 230;
                const std::string file = (dir / ("frame" + std::to_string(t) + ".png")).string();
                stbi_write_png(file.c_str(), 16, 16, 1, pixels.data(), 16);
            }
        }
    }
    return root;
}

TEST(Clips, LoadsFramesInOrderAndTransformsFramesAlike)
{
    const fs::path root = writeClips(/*perClass=*/3, /*frames=*/6);
    const ImageDataset clips = loadClipFolder(root.string(), /*size=*/16, /*channels=*/1, /*frames=*/4);
    EXPECT_EQ(clips.images.sizes(), (std::vector<int64_t> { 6, 1, 4, 16, 16 }));
    EXPECT_EQ(clips.classNames, (std::vector<std::string> { "left", "right" }));
    // "right" clips: the bright square's column grows from the first to the last frame.
    const torch::Tensor first = clips.images[3][0][0].to(torch::kFloat32);
    const torch::Tensor last = clips.images[3][0][3].to(torch::kFloat32);
    const auto column = [](const torch::Tensor& frame) { return frame.sum(0).argmax().item<int64_t>(); };
    EXPECT_LT(column(first), column(last));

    // The same crop and flip for every frame of a clip: a clip of identical frames stays identical.
    const torch::Tensor still = clips.images.narrow(0, 0, 2).narrow(2, 0, 1).expand({ -1, -1, 4, -1, -1 }).contiguous();
    TransformOptions options { 32, 3, true, true };
    const torch::Tensor out = transformImages(still, options, /*seed=*/9);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t> { 2, 3, 4, 32, 32 }));
    for (int64_t t = 1; t < 4; ++t)
        EXPECT_TRUE(out.select(2, t).equal(out.select(2, 0))) << "frame " << t;

    EXPECT_THROW(loadClipFolder(root.string(), 16, 1, /*frames=*/7), std::runtime_error); // clips have 6
    fs::remove_all(root);
}

/// Trains `config` (model fields set by the caller) on clip folders whose class is the direction of motion, reversible
/// at (0, 1) from random weights, and checks that it learns.
void expectLearnsDirectionOfMotion(TrainConfig config)
{
    const fs::path root = writeClips(/*perClass=*/40, /*frames=*/4);
    config.name = "clips";
    config.strategy = Strategy::HardFinetune; // reversible at (0, 1), random weights (no checkpoint)
    config.seed = 1;
    config.model.imageSize = 16;
    config.model.patchSize = 4;
    config.model.inChannels = 1;
    config.model.numFrames = 4;
    config.model.tubeletSize = 2;
    config.model.dropPath = 0.0;
    config.data.dataset = "clips";
    config.data.root = root.string();
    config.data.randomCrop = false;
    config.data.flip = false;
    config.data.valFraction = 0.2;
    config.optim.epochs = 12;
    config.optim.batchSize = 16;
    config.optim.lr = 3e-3;
    config.optim.warmupIterations = 5;
    config.optim.labelSmoothing = 0.0;
    Trainer trainer(config);
    struct : TrainObserver {
        std::vector<double> losses;
        std::vector<EvaluationEvent> evaluations;
        void onIteration(const IterationEvent& e) override { losses.push_back(e.loss); }
        void onEvaluation(const EvaluationEvent& e) override { evaluations.push_back(e); }
    } observer;
    trainer.addObserver(&observer);
    const auto result = trainer.run();
    ASSERT_EQ(toString(result.outcome), "finished") << result.message;
    ASSERT_GE(observer.losses.size(), 40u);
    const size_t n = observer.losses.size();
    const double early = std::accumulate(observer.losses.begin(), observer.losses.begin() + 8, 0.0) / 8.0;
    const double late = std::accumulate(observer.losses.begin() + static_cast<std::ptrdiff_t>(n - 8), observer.losses.end(), 0.0) / 8.0;
    EXPECT_LT(late, 0.5 * early) << "loss did not fall: " << early << " → " << late;
    EXPECT_GE(observer.evaluations.back().metrics.at("top1"), 0.8) << "direction of motion is learnable";
    fs::remove_all(root);
}

TEST(Clips, VideoViTTrainsOnClipsWithReversibleBackprop)
{
    TrainConfig config;
    config.model.preset = "vit-ti";
    config.model.embedDim = 64;
    config.model.depth = 2;
    config.model.heads = 4;
    expectLearnsDirectionOfMotion(config);
}

TEST(Clips, VideoSwinTrainsOnClipsWithReversibleBackpropPerStage)
{
    // Four stages of one block each (4×4, 2×2, 1×1, 1×1 tokens over 2 time steps): the temporal window shrinks to
    // the clip, as the Video Swin release does.
    TrainConfig config;
    config.model.preset = "video-swin-t";
    config.model.embedDim = 16;
    config.model.depth = 4;
    config.model.heads = 1;
    config.model.windowSize = 2;
    expectLearnsDirectionOfMotion(config);
}

} // namespace
} // namespace dr2
