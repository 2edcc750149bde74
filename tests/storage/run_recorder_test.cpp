// RunRecorder: batched background writes, readers while it writes, flush/close semantics, errors.
#include "storage/run_array_file.h"
#include "storage/run_recorder.h"
#include "storage/run_store.h"
#include "storage/sha256.h"
#include "tests/storage/temp_dir.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace dr2;

TEST(RunRecorder, ReaderQueriesWhileWriterInsertsThousandsOfScalars)
{
    test::TempDir dir;
    const std::string path = dir.file("runs.sqlite");
    constexpr int64_t kIterations = 5000;
    constexpr int64_t kPerIteration = 4;
    RunRecorderOptions options;
    options.commitInterval = std::chrono::milliseconds(20); // many commits, so the reader sees many states
    RunRecord run;
    run.name = "concurrent";
    RunRecorder recorder(path, run, options);
    const int64_t id = recorder.runId();

    std::atomic<bool> done { false };
    std::atomic<int64_t> reads { 0 }; // queries the reader has finished, so the writer can wait for it
    std::atomic<bool> readerFailed { false };
    std::vector<int64_t> seenCounts;
    std::string readerError;
    std::thread reader([&] {
        try {
            RunStore store(path); // its own connection, as the GUI would have
            while (true) {
                const bool last = done.load();
                seenCounts.push_back(store.scalarCount(id));
                reads += 1;
                if (last)
                    break;
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        } catch (const std::exception& error) {
            readerError = error.what();
            readerFailed = true;
        }
    });
    // A loaded machine (or a sanitizer) can delay the reader's first query past the whole insertion: the writer
    // waits for it before starting, and at half way until the reader has queried after a flush, so the reader is
    // sure to see an empty, a partial and the complete run, however the threads are scheduled.
    auto waitForReads = [&](int64_t count) {
        while (reads.load() < count && !readerFailed.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    waitForReads(1);
    for (int64_t it = 0; it < kIterations; ++it) {
        recorder.addScalars(it,
            { { "loss", 1.0 / (1 + it) }, { "accuracy", it * 1e-4 }, { "alpha", 1.0 - it * 1e-4 },
                { "beta", 0.1 + it * 1e-4 } });
        if (it == kIterations / 2) {
            recorder.flush();
            waitForReads(reads.load() + 2); // one query may have begun before the flush; the next began after it
        }
        if (it % 500 == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(5)); // let some commits land mid-run
    }
    recorder.flush();
    done = true;
    reader.join();
    recorder.close(RunStatus::Finished, R"({"loss": 0.0002})");

    ASSERT_TRUE(readerError.empty()) << readerError;
    ASSERT_GE(seenCounts.size(), 2u);
    // Every state the reader saw is a whole number of iterations (a transaction holds whole pushes),
    // counts never go back, and the reader saw at least one state strictly between empty and complete.
    bool sawPartial = false;
    for (size_t i = 0; i < seenCounts.size(); ++i) {
        EXPECT_EQ(seenCounts[i] % kPerIteration, 0) << "reader saw a half-written iteration";
        if (i > 0) {
            EXPECT_GE(seenCounts[i], seenCounts[i - 1]);
        }
        sawPartial |= seenCounts[i] > 0 && seenCounts[i] < kIterations * kPerIteration;
    }
    EXPECT_TRUE(sawPartial) << "the reader never observed the run while it was being written";
    EXPECT_EQ(seenCounts.back(), kIterations * kPerIteration);

    RunStore store(path);
    const auto loss = store.scalars(id, "loss");
    ASSERT_EQ(static_cast<int64_t>(loss.size()), kIterations);
    for (int64_t it = 0; it < kIterations; it += 997)
        EXPECT_DOUBLE_EQ(loss[static_cast<size_t>(it)].value, 1.0 / (1 + it));
    const RunRecord stored = *store.findRun(id);
    EXPECT_EQ(stored.status, RunStatus::Finished);
    EXPECT_EQ(stored.finalMetricsJson, R"({"loss": 0.0002})");
    const RunRecorderStats stats = recorder.stats();
    EXPECT_EQ(stats.itemsCommitted, static_cast<uint64_t>(kIterations * kPerIteration));
    EXPECT_EQ(stats.blockedPushes, 0u);
}

TEST(RunRecorder, BoundsCommitRateAndQueue)
{
    test::TempDir dir;
    RunRecorderOptions options;
    options.commitInterval = std::chrono::milliseconds(200);
    options.queueCapacity = 64; // tiny: pushes must wait for the writer instead of dropping data
    RunRecorder recorder(dir.file("runs.sqlite"), {}, options);
    for (int64_t i = 0; i < 2000; ++i)
        recorder.addScalar(i, "x", static_cast<double>(i));
    recorder.flush();
    const RunRecorderStats stats = recorder.stats();
    EXPECT_EQ(stats.itemsCommitted, 2000u);
    // The queue never held more than 64 items, so at least 2000 / 64 commits, and some pushes had to wait.
    EXPECT_GE(stats.commits, 2000u / 64);
    EXPECT_GT(stats.blockedPushes, 0u);
    recorder.close(RunStatus::Finished);
    RunStore store(dir.file("runs.sqlite"));
    EXPECT_EQ(store.scalarCount(recorder.runId()), 2000);

    // With the default capacity, a burst is written in a few rate-limited commits, not one per push.
    RunRecorderOptions relaxed;
    relaxed.commitInterval = std::chrono::milliseconds(200);
    RunRecorder batched(dir.file("runs.sqlite"), {}, relaxed);
    for (int64_t i = 0; i < 2000; ++i)
        batched.addScalar(i, "x", static_cast<double>(i));
    batched.flush();
    EXPECT_LE(batched.stats().commits, 2u);
    batched.close(RunStatus::Finished);
}

TEST(RunRecorder, WritesArraysAndHashesThemOnClose)
{
    test::TempDir dir;
    RunRecorderOptions options;
    options.arraysPath = dir.file("run.h5");
    RunRecord run;
    run.name = "with arrays";
    RunRecorder recorder(dir.file("runs.sqlite"), run, options);
    for (int64_t it = 0; it < 300; ++it) {
        recorder.addScalar(it, "loss", 1.0);
        recorder.addMemorySample({ it, 1000 + it, 5000 - it });
        if (it % 100 == 0) {
            ProbeRecord probe;
            probe.iteration = it;
            probe.alpha = 1.0 - it * 1e-3;
            probe.beta = 0.1 + it * 1e-3;
            probe.metrics["mse"] = 1e-6 * (it + 1);
            probe.perBranch["mse"] = { 1e-7, 2e-7 };
            recorder.addProbe(probe);
        }
    }
    recorder.addEvaluation({ 299, "val", { { "accuracy", 0.75 } } });
    recorder.close(RunStatus::Finished);

    RunStore store(dir.file("runs.sqlite"));
    const RunRecord stored = *store.findRun(recorder.runId());
    EXPECT_EQ(stored.peakMemoryBytes.value_or(0), 5000); // the largest sample
    const auto artifacts = store.artifacts(recorder.runId());
    ASSERT_EQ(artifacts.size(), 1u);
    EXPECT_EQ(artifacts[0].kind, "arrays");
    EXPECT_EQ(artifacts[0].sha256, sha256OfFile(dir.file("run.h5")));
    EXPECT_GT(artifacts[0].bytes, 0);
    EXPECT_EQ(store.probes(recorder.runId()).size(), 3u);

    {
        // (HDF5 refuses to open a file for writing in a process that has it open for reading: scope it.)
        RunArrayFile arrays(dir.file("run.h5"), RunArrayFile::Mode::Read);
        EXPECT_EQ(arrays.runId(), recorder.runId());
        const auto probes = arrays.readProbes();
        ASSERT_EQ(probes.size(), 3u);
        EXPECT_EQ(probes[2].iteration, 200);
        EXPECT_DOUBLE_EQ(probes[2].metrics.at("mse"), 1e-6 * 201);
        const auto memory = arrays.readMemory();
        ASSERT_EQ(memory.size(), 300u);
        EXPECT_EQ(memory[299].currentBytes, 1299);
    }

    // Resuming the run appends to the same database rows and the same HDF5 file.
    RunRecord resumed = stored;
    RunRecorder again(dir.file("runs.sqlite"), resumed, options);
    EXPECT_EQ(again.runId(), stored.id);
    EXPECT_EQ(store.findRun(stored.id)->status, RunStatus::Running);
    ProbeRecord probe;
    probe.iteration = 300;
    probe.metrics["mse"] = 1.0;
    probe.perBranch["mse"] = { 1.0, 2.0 };
    again.addProbe(probe);
    again.close(RunStatus::Cancelled);
    EXPECT_EQ(store.findRun(stored.id)->status, RunStatus::Cancelled);
    EXPECT_EQ(store.probes(stored.id).size(), 4u);
    EXPECT_EQ(RunArrayFile(dir.file("run.h5"), RunArrayFile::Mode::Read).readProbes().size(), 4u);
    EXPECT_EQ(store.artifacts(stored.id).size(), 1u); // the arrays file is listed once
}

TEST(RunRecorder, ReportsWriteErrorsToTheCallerAndFailsTheRun)
{
    test::TempDir dir;
    RunRecorderOptions options;
    options.arraysPath = dir.file("run.h5");
    RunRecorder recorder(dir.file("runs.sqlite"), {}, options);
    ProbeRecord probe;
    probe.perBranch["mse"] = { 1.0, 2.0 };
    recorder.addProbe(probe);
    recorder.flush();
    probe.perBranch["mse"] = { 1.0, 2.0, 3.0 }; // a stack cannot change its number of branches mid-run
    recorder.addProbe(probe);
    try {
        recorder.flush();
        FAIL() << "the bad probe was accepted";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("expected 2 branches"), std::string::npos) << error.what();
    }
    EXPECT_THROW(recorder.addScalar(1, "loss", 1.0), std::runtime_error);
    EXPECT_THROW(recorder.close(RunStatus::Finished), std::runtime_error);
    RunStore store(dir.file("runs.sqlite"));
    EXPECT_EQ(store.findRun(recorder.runId())->status, RunStatus::Failed);
    const auto events = store.events(recorder.runId());
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().level, "error");
}

TEST(RunRecorder, DestroyedWithoutCloseMarksRunFailed)
{
    test::TempDir dir;
    int64_t id = 0;
    {
        RunRecorder recorder(dir.file("runs.sqlite"), {});
        id = recorder.runId();
        recorder.addScalar(0, "loss", 3.0);
    }
    RunStore store(dir.file("runs.sqlite"));
    EXPECT_EQ(store.findRun(id)->status, RunStatus::Failed);
    EXPECT_EQ(store.scalarCount(id), 1);
}
