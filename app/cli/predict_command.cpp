// dr2net-cli predict: a segmentation checkpoint's masks for a folder of images, as index PNGs.
#include "app/cli/checkpoint_args.h"
#include "app/cli/commands.h"

#include "storage/atomic_file.h"
#include "training/image_dataset.h"
#include "training/task.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

// Static, so no other translation unit's copy of stb_image_write (a test's) can collide with this one.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>

namespace dr2::cli {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
    CheckpointArgs checkpoint;
    std::string input;
    std::string out;
    int64_t batch = 8;
};

/// Images in `dir` (PNG, JPEG, BMP), sorted by name.
std::vector<fs::path> imagesIn(const std::string& dir)
{
    std::error_code error;
    if (!fs::is_directory(dir, error))
        throw std::invalid_argument("--input '" + dir + "': not a folder of images");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::string ext = entry.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (entry.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp"))
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
        throw std::invalid_argument("--input '" + dir + "': no PNG, JPEG or BMP images there");
    return files;
}

/// An 8-bit grey PNG of class indices [H, W], written atomically (a killed run leaves no half-written mask).
void writeIndexPng(const fs::path& path, const torch::Tensor& mask)
{
    const torch::Tensor bytes = mask.to(torch::kUInt8).contiguous();
    std::string encoded;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
    };
    const int width = static_cast<int>(bytes.size(1));
    if (!stbi_write_png_to_func(append, &encoded, width, static_cast<int>(bytes.size(0)), 1, bytes.data_ptr<uint8_t>(), width))
        throw std::runtime_error(path.string() + ": cannot encode the mask as PNG");
    writeFileAtomically(path.string(), encoded);
}

void runPredict(const PredictArgs& args)
{
    if (args.batch <= 0)
        throw std::invalid_argument("--batch: expected > 0, found " + std::to_string(args.batch));
    const std::vector<fs::path> files = imagesIn(args.input);
    CheckpointNetwork loaded
        = loadCheckpointNetwork(readCheckpoint(args.checkpoint.path), args.checkpoint, loadOptionsFrom(args.checkpoint));
    printLoadWarnings(loaded.report);
    if (loaded.network.is_empty() || !loaded.network->task().predictsPixels())
        throw std::invalid_argument(args.checkpoint.path + ": not a segmentation checkpoint (metadata dr2net.task is '"
            + (loaded.network.is_empty() ? std::string("none") : loaded.network->task().name())
            + "'); predict writes masks from a segmentation run's export");
    NetworkImpl& network = *loaded.network;
    network.eval();
    const InputShape shape = network.backbone().inputShape();
    const std::vector<std::string> classes = network.task().classNames();
    fs::create_directories(args.out);

    // Pixels per class over every mask written, for the summary line.
    std::vector<int64_t> counts(classes.size(), 0);
    torch::NoGradGuard noGrad;
    for (size_t begin = 0; begin < files.size(); begin += static_cast<size_t>(args.batch)) {
        const size_t end = std::min(files.size(), begin + static_cast<size_t>(args.batch));
        std::vector<torch::Tensor> inputs;
        std::vector<std::pair<int64_t, int64_t>> sizes;
        for (size_t i = begin; i < end; ++i) {
            const torch::Tensor image = decodeImageFile(files[i].string(), shape.channels);
            sizes.emplace_back(image.size(1), image.size(2));
            inputs.push_back(resizeBilinear(image, shape.height, shape.width));
        }
        // As training normalises: x ← (x/255 − 0.5)/0.5 (TransformOptions' defaults).
        const torch::Tensor batch = torch::stack(inputs).to(torch::kFloat32).div(255.0).sub(0.5).div(0.5);
        const torch::Tensor predicted = network.forward(batch).argmax(1);
        for (size_t i = begin; i < end; ++i) {
            const auto [height, width] = sizes[i - begin];
            // Back to the image's own size by nearest neighbour, as masks are resized on load.
            const torch::Tensor mask = resizeNearest(predicted[static_cast<int64_t>(i - begin)], height, width);
            const torch::Tensor perClass = torch::bincount(mask.flatten(), {}, static_cast<int64_t>(classes.size()));
            for (size_t c = 0; c < classes.size(); ++c)
                counts[c] += perClass[static_cast<int64_t>(c)].item<int64_t>();
            writeIndexPng(fs::path(args.out) / (files[i].stem().string() + ".png"), mask);
        }
    }
    // classes.txt beside the masks: the folder is then a masks/ folder loadMaskFolder reads back.
    std::string names;
    for (const auto& name : classes)
        names += name + "\n";
    writeFileAtomically((fs::path(args.out) / "classes.txt").string(), names);

    int64_t total = 0;
    for (int64_t n : counts)
        total += n;
    std::cout << "wrote " << files.size() << " masks to " << args.out << " (" << classes.size()
              << " classes, index PNGs, classes.txt); pixels per class:";
    for (size_t c = 0; c < classes.size(); ++c)
        if (counts[c] > 0)
            std::cout << " " << classes[c] << " " << std::fixed << std::setprecision(1)
                      << 100.0 * static_cast<double>(counts[c]) / static_cast<double>(std::max<int64_t>(total, 1)) << "%";
    std::cout << std::endl;
}

} // namespace

void addPredictCommand(CLI::App& app)
{
    auto args = std::make_shared<PredictArgs>();
    CLI::App* command = app.add_subcommand("predict",
        "Write a segmentation checkpoint's masks for a folder of images (index PNGs: pixel = class, plus classes.txt)");
    addCheckpointOptions(*command, args->checkpoint);
    command->add_option("--input", args->input, "folder of PNG/JPEG/BMP images")->required();
    command->add_option("--out", args->out, "folder to write <image stem>.png masks into (created if missing)")->required();
    command->add_option("--batch", args->batch, "images per forward pass")->capture_default_str();
    command->callback([args] { runPredict(*args); });
}

} // namespace dr2::cli
