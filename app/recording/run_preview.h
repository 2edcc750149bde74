#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

class RunStore;
struct PredictionPreviewEvent;

/// A prediction preview as a run records it: training's PredictionPreviewEvent without training (torch-free, so
/// the GUI's readers and reports need no LibTorch).
struct RunPreview {
    /// One validation scene.
    struct Sample {
        std::vector<uint8_t> image; ///< height × width × channels, row-major, 0–255
        std::vector<uint8_t> truth; ///< height × width class indices; 255 where no label counts
        std::vector<uint8_t> prediction; ///< height × width class indices

        bool operator==(const Sample& other) const;
        bool operator!=(const Sample& other) const { return !(*this == other); }
    };
    int64_t iteration = 0;
    int64_t epoch = 0;
    int64_t height = 0;
    int64_t width = 0;
    int64_t channels = 1; ///< 1 (grey) or 3 (RGB)
    std::vector<std::string> classNames; ///< class index → name
    std::vector<Sample> samples;

    bool operator==(const RunPreview& other) const;
    bool operator!=(const RunPreview& other) const { return !(*this == other); }
};

/// The artifact kind a recorded preview is registered under (its preview.json).
inline constexpr const char* kPreviewArtifactKind = "preview";

/// A copy of `event` in the recorded vocabulary.
RunPreview runPreviewOf(const PredictionPreviewEvent& event);

/// Throws std::invalid_argument naming the sample, the buffer, expected and found size when the buffers of
/// `preview` do not fit its height, width and channels (or those are out of range).
void checkRunPreview(const RunPreview& preview);

/// The folder a run keeps the preview of `iteration` in, inside the run's files folder: "previews/iter_000120".
std::string runPreviewFolder(const std::string& runDirectory, int64_t iteration);

/// Writes `preview` into `folder` (created when missing; files of an earlier preview there are replaced):
/// one PNG per buffer — image_S.png (grey or RGB), truth_S.png and prediction_S.png (8-bit index masks, the
/// format segmentation data uses, so any image tool or PIL reads them) — and last, so that a crash never leaves a
/// preview that names missing files, preview.json with the sizes, class names and file names (format
/// "dr2net-prediction-preview", version 1). Every file is written atomically. Returns the path of preview.json;
/// throws std::runtime_error naming the file and the cause.
std::string writeRunPreview(const std::string& folder, const RunPreview& preview);

/// Reads the preview written by writeRunPreview() whose preview.json is `jsonPath`; throws std::runtime_error
/// naming the file and what is wrong (missing file, size mismatch, not a preview).
RunPreview readRunPreview(const std::string& jsonPath);

/// The newest preview recorded for run `runId` (the `preview` artifact with the highest iteration; of equal ones
/// the later). Previews whose files are gone or unreadable are skipped and named in `problem` (if given). None when
/// the run recorded no readable preview (every run of a task without dense predictions). Throws only what the
/// store throws.
std::optional<RunPreview> readLastRunPreview(RunStore& store, int64_t runId, std::string* problem = nullptr);

} // namespace dr2
