// A real dr2net-cli training process killed with SIGKILL mid-run: the run is `interrupted`, what it committed
// is there, its HDF5 file opens, and `train --resume` continues the same run to `finished`.
#include "tests/recording/recording_test_support.h"

#include "app/recording/run_recording_observer.h"
#include "storage/run_array_file.h"
#include "storage/run_store.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

TEST(CrashResume, SigkillMidRunThenResumeToFinished)
{
    test::TempDir dir("crash");
    const std::string db = (dir.path / "db" / "runs.sqlite").string();
    const std::string checkpointDir = (dir.path / "ck").string();
    const std::string config = (dir.path / "tiny.json").string();
    std::ofstream(config) << test::tinyConfigJson(checkpointDir, /*epochs=*/3).dump(2);
    const std::string log = (dir.path / "log.txt").string();

    const pid_t pid = test::spawnCli({ "train", "--config", config, "--db", db, "--json" }, log);
    ASSERT_GT(pid, 0);
    // Kill once some iterations are committed and a resumable checkpoint (with its run.json) exists.
    int64_t before = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
        before = test::committedLossPoints(db);
        if (before >= 6 && fs::exists(fs::path(checkpointDir) / "last.pt")
            && fs::exists(fs::path(checkpointDir) / RunRecordingObserver::kRunLinkFile))
            break;
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "dr2net-cli ended before it could be killed:\n"
                                                       << test::readFile(log);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(before, 6) << "no 6 committed iterations within 90 s:\n" << test::readFile(log);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_EQ(test::waitExit(pid), 128 + SIGKILL);
    ASSERT_LT(before, 30) << "the run had already finished; the kill tested nothing";

    const auto link = RunRecordingObserver::readRunLink(checkpointDir);
    ASSERT_TRUE(link.has_value());
    int64_t runId = 0;
    {
        RunStore store(db, /*createIfMissing=*/false);
        ASSERT_EQ(store.interruptedOnOpen().size(), 1u);
        runId = store.interruptedOnOpen().front();
        EXPECT_EQ(link->runId, runId);
        const RunRecord run = *store.findRun(runId);
        EXPECT_EQ(run.status, RunStatus::Interrupted);
        // Everything seen committed before the kill is still there, iterations 0..n-1 without gaps.
        const auto loss = store.scalars(runId, "loss");
        ASSERT_GE(static_cast<int64_t>(loss.size()), before);
        for (size_t i = 0; i < loss.size(); ++i)
            EXPECT_EQ(loss[i].iteration, static_cast<int64_t>(i));
        for (const char* name : { "lr", "alpha", "beta", "grad_norm", "step_s", "samples_per_s", "current_bytes",
                 "peak_bytes", "held_bytes", "segment_length", "rss_bytes" })
            EXPECT_EQ(store.scalars(runId, name).size(), loss.size()) << name;
        // The HDF5 file left by the killed writer opens, with the run id it was created for.
        std::string arrays;
        for (const auto& artifact : store.artifacts(runId))
            if (artifact.kind == "arrays")
                arrays = artifact.path;
        ASSERT_FALSE(arrays.empty());
        RunArrayFile file(arrays, RunArrayFile::Mode::Read);
        EXPECT_EQ(file.runId(), runId);
        EXPECT_GE(file.readProbes().size(), 1u); // probes every 4 iterations, flushed with each batch
    }

    // Resume: the same run id continues, from the checkpoint's iteration, to `finished`.
    const pid_t resumed = test::spawnCli({ "train", "--resume", checkpointDir, "--db", db }, log);
    ASSERT_EQ(test::waitExit(resumed), 0) << test::readFile(log);
    EXPECT_NE(test::readFile(log).find("run " + std::to_string(runId) + " recorded in"), std::string::npos) << test::readFile(log);
    RunStore store(db, /*createIfMissing=*/false);
    EXPECT_EQ(store.listRuns().size(), 1u);
    const RunRecord run = *store.findRun(runId);
    EXPECT_EQ(run.status, RunStatus::Finished);
    const auto loss = store.scalars(runId, "loss");
    ASSERT_EQ(loss.size(), 30u); // 3 epochs × 10 iterations, each once (resumed iterations replace)
    EXPECT_EQ(loss.back().iteration, 29);
    EXPECT_EQ(store.evaluations(runId).size() >= 3, true);
    std::set<std::string> kinds;
    for (const auto& artifact : store.artifacts(runId))
        kinds.insert(artifact.kind);
    EXPECT_TRUE(kinds.count("weights") && kinds.count("checkpoint") && kinds.count("arrays"));
    // The HDF5 timeline holds each iteration at most once: what the killed process recorded after its last
    // checkpoint was dropped when the resumed run reopened the file, then recorded again. Before the resume point
    // it is the prefix the killed process flushed: the recorder commits SQLite, then appends to HDF5 and flushes,
    // so a kill in between loses that one batch from the HDF5 file only (SQLite has it, checked above).
    int64_t resumedAt = -1;
    for (const auto& event : store.events(runId))
        if (event.message.rfind("resumed at iteration ", 0) == 0)
            resumedAt = std::stoll(event.message.substr(std::string("resumed at iteration ").size()));
    ASSERT_GT(resumedAt, 0);
    for (const auto& artifact : store.artifacts(runId))
        if (artifact.kind == "arrays") {
            RunArrayFile file(artifact.path, RunArrayFile::Mode::Read);
            const auto memory = file.readMemory();
            std::vector<int64_t> iterations;
            iterations.reserve(memory.size());
            for (const MemorySample& sample : memory)
                iterations.push_back(sample.iteration);
            std::vector<int64_t> expected;
            for (int64_t i = 0; i < 30; ++i)
                if (i >= resumedAt || i < static_cast<int64_t>(iterations.size()) - (30 - resumedAt))
                    expected.push_back(i);
            EXPECT_EQ(iterations, expected) << "resumed at " << resumedAt; // 0..m-1, then resumedAt..29, once each
            const auto probes = file.readProbes();
            for (size_t i = 1; i < probes.size(); ++i)
                EXPECT_LT(probes[i - 1].iteration, probes[i].iteration);
        }
    bool sawResumed = false;
    for (const auto& event : store.events(runId))
        sawResumed = sawResumed || event.message.rfind("resumed at iteration", 0) == 0;
    EXPECT_TRUE(sawResumed);
}

} // namespace
} // namespace dr2
