#include "app/recording/run_preview.h"

#include "storage/atomic_file.h"
#include "storage/run_store.h"
#include "training/train_events.h"

#include <nlohmann/json.hpp>

// Our own static copies of stb: the encoder and decoder stay private to this file, whatever other parts of the
// program compile from the same headers.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dr2 {
namespace {

    constexpr const char* kFormat = "dr2net-prediction-preview";
    constexpr int kFormatVersion = 1;
    constexpr const char* kJsonName = "preview.json";
    // As image_dataset.cpp: larger is not a preview scene, and keeps every size product inside an int.
    constexpr int64_t kMaxPixels = int64_t(1) << 26;

    std::string pngOf(const std::vector<uint8_t>& pixels, int64_t width, int64_t height, int64_t channels)
    {
        std::string out;
        auto append = [](void* context, void* data, int size) {
            static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
        };
        if (!stbi_write_png_to_func(append, &out, int(width), int(height), int(channels), pixels.data(),
                int(width * channels)))
            throw std::runtime_error("cannot encode a PNG");
        return out;
    }

    std::vector<uint8_t> readPng(const fs::path& path, int64_t width, int64_t height, int64_t channels)
    {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw std::runtime_error("'" + path.string() + "': cannot open it (was the run's folder moved?)");
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        int w = 0;
        int h = 0;
        int n = 0;
        std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
            stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &w, &h, &n,
                int(channels)),
            &stbi_image_free);
        if (!pixels)
            throw std::runtime_error("'" + path.string() + "': not a readable PNG (" + stbi_failure_reason() + ")");
        if (w != width || h != height)
            throw std::runtime_error("'" + path.string() + "': expected " + std::to_string(width) + " × "
                + std::to_string(height) + " pixels, found " + std::to_string(w) + " × " + std::to_string(h));
        return { pixels.get(), pixels.get() + width * height * channels };
    }

    int64_t integerField(const json& document, const char* key, const std::string& path)
    {
        if (!document.contains(key) || !document[key].is_number_integer())
            throw std::runtime_error("'" + path + "': expected an integer \"" + key + "\"");
        return document[key].get<int64_t>();
    }

    std::string stringField(const json& object, const char* key, const std::string& path)
    {
        if (!object.contains(key) || !object[key].is_string())
            throw std::runtime_error("'" + path + "': expected a string \"" + key + "\"");
        return object[key].get<std::string>();
    }

    json readJson(const std::string& path)
    {
        std::ifstream in(path);
        if (!in)
            throw std::runtime_error("'" + path + "': cannot open it (was the run's folder moved?)");
        json document = json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (!document.is_object() || !document.contains("format") || document["format"] != kFormat)
            throw std::runtime_error("'" + path + "': not a prediction preview (expected a JSON object with format \""
                + kFormat + "\")");
        if (integerField(document, "format_version", path) > kFormatVersion)
            throw std::runtime_error("'" + path + "': preview format version "
                + std::to_string(document["format_version"].get<int64_t>()) + " is newer than this build reads ("
                + std::to_string(kFormatVersion) + ")");
        return document;
    }

} // namespace

bool RunPreview::Sample::operator==(const Sample& other) const
{
    return image == other.image && truth == other.truth && prediction == other.prediction;
}

bool RunPreview::operator==(const RunPreview& other) const
{
    return iteration == other.iteration && epoch == other.epoch && height == other.height && width == other.width
        && channels == other.channels && classNames == other.classNames && samples == other.samples;
}

RunPreview runPreviewOf(const PredictionPreviewEvent& event)
{
    RunPreview preview;
    preview.iteration = event.iteration;
    preview.epoch = event.epoch;
    preview.height = event.height;
    preview.width = event.width;
    preview.channels = event.channels;
    preview.classNames = event.classNames;
    preview.samples.reserve(event.samples.size());
    for (const PredictionPreviewEvent::Sample& sample : event.samples)
        preview.samples.push_back({ sample.image, sample.truth, sample.prediction });
    return preview;
}

void checkRunPreview(const RunPreview& preview)
{
    const std::string what = "prediction preview at iteration " + std::to_string(preview.iteration);
    if (preview.height <= 0 || preview.width <= 0 || preview.height * preview.width > kMaxPixels)
        throw std::invalid_argument(what + ": expected a scene of 1 to " + std::to_string(kMaxPixels)
            + " pixels, found " + std::to_string(preview.height) + " × " + std::to_string(preview.width));
    if (preview.channels != 1 && preview.channels != 3)
        throw std::invalid_argument(
            what + ": expected 1 (grey) or 3 (RGB) channels, found " + std::to_string(preview.channels));
    const size_t pixels = size_t(preview.height * preview.width);
    for (size_t s = 0; s < preview.samples.size(); ++s) {
        const RunPreview::Sample& sample = preview.samples[s];
        auto check = [&](const std::vector<uint8_t>& bytes, const char* name, size_t expected) {
            if (bytes.size() != expected)
                throw std::invalid_argument(what + ": sample " + std::to_string(s) + " " + name + ": expected "
                    + std::to_string(expected) + " bytes, found " + std::to_string(bytes.size()));
        };
        check(sample.image, "image", pixels * size_t(preview.channels));
        check(sample.truth, "truth", pixels);
        check(sample.prediction, "prediction", pixels);
    }
}

std::string runPreviewFolder(const std::string& runDirectory, int64_t iteration)
{
    char name[32];
    std::snprintf(name, sizeof name, "iter_%06lld", static_cast<long long>(iteration));
    return (fs::path(runDirectory) / "previews" / name).string();
}

std::string writeRunPreview(const std::string& folder, const RunPreview& preview)
{
    checkRunPreview(preview);
    std::error_code ignored;
    fs::create_directories(folder, ignored);
    if (!fs::is_directory(folder))
        throw std::runtime_error("prediction preview folder '" + folder + "': cannot create it");
    json samples = json::array();
    for (size_t s = 0; s < preview.samples.size(); ++s) {
        const RunPreview::Sample& sample = preview.samples[s];
        const std::string index = std::to_string(s);
        const json names
            = { { "image", "image_" + index + ".png" }, { "truth", "truth_" + index + ".png" },
                  { "prediction", "prediction_" + index + ".png" } };
        auto write = [&](const char* key, const std::vector<uint8_t>& pixels, int64_t channels) {
            const std::string path = (fs::path(folder) / names[key].get<std::string>()).string();
            std::string png;
            try {
                png = pngOf(pixels, preview.width, preview.height, channels);
            } catch (const std::exception& e) {
                throw std::runtime_error("prediction preview '" + path + "': " + e.what());
            }
            writeFileAtomically(path, png);
        };
        write("image", sample.image, preview.channels);
        write("truth", sample.truth, 1);
        write("prediction", sample.prediction, 1);
        samples.push_back(names);
    }
    const json document = {
        { "format", kFormat },
        { "format_version", kFormatVersion },
        { "iteration", preview.iteration },
        { "epoch", preview.epoch },
        { "height", preview.height },
        { "width", preview.width },
        { "channels", preview.channels },
        { "ignore_label", 255 },
        { "class_names", preview.classNames },
        { "samples", samples },
    };
    std::string path = (fs::path(folder) / kJsonName).string();
    writeFileAtomically(path, document.dump(2) + "\n");
    return path;
}

RunPreview readRunPreview(const std::string& jsonPath)
{
    const json document = readJson(jsonPath);
    RunPreview preview;
    preview.iteration = integerField(document, "iteration", jsonPath);
    preview.epoch = integerField(document, "epoch", jsonPath);
    preview.height = integerField(document, "height", jsonPath);
    preview.width = integerField(document, "width", jsonPath);
    preview.channels = integerField(document, "channels", jsonPath);
    if (!document.contains("class_names") || !document["class_names"].is_array())
        throw std::runtime_error("'" + jsonPath + "': expected an array \"class_names\"");
    for (const json& name : document["class_names"]) {
        if (!name.is_string())
            throw std::runtime_error("'" + jsonPath + "': expected class names as strings, found " + name.dump());
        preview.classNames.push_back(name.get<std::string>());
    }
    if (!document.contains("samples") || !document["samples"].is_array())
        throw std::runtime_error("'" + jsonPath + "': expected an array \"samples\"");
    try {
        checkRunPreview(preview); // the sizes, before any PNG is decoded at them
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error("'" + jsonPath + "': " + e.what());
    }
    const fs::path folder = fs::path(jsonPath).parent_path();
    for (const json& entry : document["samples"]) {
        if (!entry.is_object())
            throw std::runtime_error("'" + jsonPath + "': expected each sample as an object of file names");
        RunPreview::Sample sample;
        sample.image
            = readPng(folder / stringField(entry, "image", jsonPath), preview.width, preview.height, preview.channels);
        sample.truth = readPng(folder / stringField(entry, "truth", jsonPath), preview.width, preview.height, 1);
        sample.prediction
            = readPng(folder / stringField(entry, "prediction", jsonPath), preview.width, preview.height, 1);
        preview.samples.push_back(std::move(sample));
    }
    return preview;
}

std::optional<RunPreview> readLastRunPreview(RunStore& store, int64_t runId, std::string* problem)
{
    struct Candidate {
        int64_t iteration;
        size_t order;
        std::string path;
    };
    std::vector<Candidate> candidates;
    std::vector<std::string> skipped;
    const std::vector<ArtifactRecord> artifacts = store.artifacts(runId);
    for (size_t i = 0; i < artifacts.size(); ++i) {
        if (artifacts[i].kind != kPreviewArtifactKind)
            continue;
        // Only the small JSON here: the pixels are decoded for the preview that is shown.
        try {
            const json document = readJson(artifacts[i].path);
            candidates.push_back({ integerField(document, "iteration", artifacts[i].path), i, artifacts[i].path });
        } catch (const std::exception& e) {
            skipped.emplace_back(e.what());
        }
    }
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.iteration != b.iteration ? a.iteration > b.iteration : a.order > b.order;
    });
    std::optional<RunPreview> found;
    for (const Candidate& candidate : candidates) {
        try {
            found = readRunPreview(candidate.path);
            break;
        } catch (const std::exception& e) {
            skipped.emplace_back(e.what());
        }
    }
    if (problem) {
        std::ostringstream text;
        for (size_t i = 0; i < skipped.size(); ++i)
            text << (i ? "; " : "") << skipped[i];
        *problem = text.str();
    }
    return found;
}

} // namespace dr2
