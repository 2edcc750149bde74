// Prediction previews recorded by RunRecordingObserver: written into the run's folder as PNGs and a JSON, registered
// as artifacts, read back byte for byte; a broken newest preview falls back to the one before and says why.
#include "tests/recording/preview_events.h"
#include "tests/recording/recording_test_support.h"

#include "app/recording/run_preview.h"
#include "app/recording/run_recording_observer.h"
#include "storage/run_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

RunFinishedEvent finishedAt(int64_t iterations)
{
    RunFinishedEvent event;
    event.iterations = iterations;
    event.primaryMetric = "miou";
    return event;
}

TEST(PreviewRecording, ObserverWritesPreviewsThatReadBackIdentically)
{
    test::TempDir dir("preview_recording");
    const std::string database = (dir.path / "runs.sqlite").string();
    const PredictionPreviewEvent grey = test::makePreviewEvent(/*iteration=*/10, /*channels=*/1, /*seed=*/1);
    const PredictionPreviewEvent rgb = test::makePreviewEvent(/*iteration=*/20, /*channels=*/3, /*seed=*/2, 3);
    int64_t runId = 0;
    std::string runDirectory;
    {
        RunRecordingObserver recording(database);
        recording.onStarted(test::segmentationRunStarted("seg-preview"));
        recording.onPreview(grey);
        recording.onPreview(rgb);
        recording.onFinished(finishedAt(21));
        ASSERT_TRUE(recording.error().empty()) << recording.error();
        runId = recording.runId();
        runDirectory = recording.runDirectory();
    }

    RunStore store(database, /*createIfMissing=*/false);
    std::string problem;
    const std::optional<RunPreview> last = readLastRunPreview(store, runId, &problem);
    ASSERT_TRUE(last.has_value()) << problem;
    EXPECT_TRUE(problem.empty()) << problem;
    // Identical to what the Trainer sent: sizes, class names, every byte (ignore labels included).
    const RunPreview expected = runPreviewOf(rgb);
    EXPECT_EQ(last->iteration, 20);
    EXPECT_EQ(last->epoch, 2);
    EXPECT_EQ(last->channels, 3);
    EXPECT_EQ(last->classNames, rgb.classNames);
    ASSERT_EQ(last->samples.size(), 3U);
    EXPECT_EQ(last->samples[2].image, rgb.samples[2].image);
    EXPECT_EQ(last->samples[0].truth, rgb.samples[0].truth);
    EXPECT_EQ(last->samples[0].truth.front(), 255) << "the ignore label survives";
    EXPECT_EQ(last->samples[1].prediction, rgb.samples[1].prediction);
    EXPECT_TRUE(*last == expected);

    // Each preview is its own folder in the run's files, registered with its hash.
    int previews = 0;
    std::string greyJson;
    for (const ArtifactRecord& artifact : store.artifacts(runId)) {
        if (artifact.kind != kPreviewArtifactKind)
            continue;
        ++previews;
        EXPECT_EQ(artifact.sha256.size(), 64U) << artifact.path;
        if (artifact.path.find("iter_000010") != std::string::npos)
            greyJson = artifact.path;
    }
    EXPECT_EQ(previews, 2);
    ASSERT_FALSE(greyJson.empty());
    EXPECT_EQ(fs::path(greyJson).parent_path(), fs::path(runPreviewFolder(runDirectory, 10)));
    EXPECT_TRUE(fs::exists(fs::path(runPreviewFolder(runDirectory, 20)) / "truth_2.png"));
    EXPECT_TRUE(readRunPreview(greyJson) == runPreviewOf(grey));

    // The newest preview broken: the one before is shown, and the problem names the missing file.
    fs::remove(fs::path(runPreviewFolder(runDirectory, 20)) / "truth_1.png");
    const std::optional<RunPreview> fallback = readLastRunPreview(store, runId, &problem);
    ASSERT_TRUE(fallback.has_value());
    EXPECT_EQ(fallback->iteration, 10);
    EXPECT_NE(problem.find("truth_1.png"), std::string::npos) << problem;
}

TEST(PreviewRecording, ARunWithoutPreviewsHasNone)
{
    test::TempDir dir("preview_none");
    const std::string database = (dir.path / "runs.sqlite").string();
    RunRecordingObserver recording(database);
    RunStartedEvent started = test::segmentationRunStarted("no-preview");
    started.task = "classification";
    recording.onStarted(started);
    recording.onFinished(finishedAt(3));
    RunStore store(database, /*createIfMissing=*/false);
    std::string problem = "unchanged";
    EXPECT_FALSE(readLastRunPreview(store, recording.runId(), &problem).has_value());
    EXPECT_TRUE(problem.empty()) << problem;
}

TEST(PreviewRecording, APreviewWhoseBuffersDoNotFitStopsTheRecordingWithAMessage)
{
    test::TempDir dir("preview_bad");
    const std::string database = (dir.path / "runs.sqlite").string();
    RunRecordingObserver recording(database);
    recording.onStarted(test::segmentationRunStarted("bad-preview"));
    PredictionPreviewEvent bad = test::makePreviewEvent(/*iteration=*/5, /*channels=*/1, /*seed=*/3);
    bad.samples[1].truth.pop_back();
    recording.onPreview(bad);
    recording.onFinished(finishedAt(6));
    EXPECT_NE(recording.error().find("sample 1 truth: expected 384 bytes, found 383"), std::string::npos)
        << recording.error();
    RunStore store(database, /*createIfMissing=*/false);
    EXPECT_EQ(store.findRun(recording.runId())->status, RunStatus::Failed);
}

TEST(PreviewRecording, ReadingRefusesAFileThatIsNotAPreview)
{
    test::TempDir dir("preview_foreign");
    const std::string path = (dir.path / "preview.json").string();
    {
        std::ofstream out(path);
        out << R"({"format": "something-else"})";
    }
    try {
        readRunPreview(path);
        FAIL() << "a foreign JSON was read as a preview";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("not a prediction preview"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace dr2
