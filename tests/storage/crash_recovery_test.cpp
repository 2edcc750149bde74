// Crash safety with a real process: a recorder killed with SIGKILL mid-run keeps everything it committed.
#include "storage/run_array_file.h"
#include "storage/run_store.h"
#include "tests/storage/temp_dir.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DR2_STORAGE_TEST_WRITER
#error "DR2_STORAGE_TEST_WRITER must name the helper executable"
#endif

using namespace dr2;

TEST(CrashRecovery, KilledWriterLeavesInterruptedRunWithCommittedData)
{
    test::TempDir dir;
    const std::string db = dir.file("runs.sqlite");
    const std::string h5 = dir.file("run.h5");
    int pipeFds[2];
    ASSERT_EQ(::pipe(pipeFds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(pipeFds[1], STDOUT_FILENO);
        ::close(pipeFds[0]);
        ::close(pipeFds[1]);
        ::execl(DR2_STORAGE_TEST_WRITER, DR2_STORAGE_TEST_WRITER, "record", db.c_str(), h5.c_str(), nullptr);
        ::_exit(127);
    }
    ::close(pipeFds[1]);
    FILE* lines = ::fdopen(pipeFds[0], "r");
    ASSERT_NE(lines, nullptr);
    long long runId = -1;
    long long committed = -1;
    char line[128];
    // Kill it mid-run: after a few hundred iterations have been committed, while it keeps writing.
    while (committed < 300 && std::fgets(line, sizeof line, lines)) {
        long long value = 0;
        if (std::sscanf(line, "run %lld", &value) == 1)
            runId = value;
        else if (std::sscanf(line, "committed %lld", &value) == 1)
            committed = value;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::fclose(lines);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer ended on its own";
    ASSERT_GT(runId, 0);
    ASSERT_GE(committed, 300);

    RunStore store(db);
    EXPECT_EQ(store.interruptedOnOpen(), std::vector<int64_t> { runId });
    const RunRecord run = *store.findRun(runId);
    EXPECT_EQ(run.status, RunStatus::Interrupted);
    EXPECT_FALSE(run.finishedAt.empty());
    // The peak memory is committed along the way, not only at close().
    EXPECT_GE(run.peakMemoryBytes.value_or(0), 2000 + committed);

    // Every iteration reported as committed is there with its exact values (more may be, never fewer).
    const auto a = store.scalars(runId, "a");
    const auto b = store.scalars(runId, "b");
    ASSERT_GE(static_cast<long long>(a.size()), committed + 1);
    ASSERT_EQ(a.size(), b.size()); // iterations are committed whole
    for (long long it = 0; it <= committed; ++it) {
        ASSERT_EQ(a[static_cast<size_t>(it)].iteration, it);
        ASSERT_DOUBLE_EQ(a[static_cast<size_t>(it)].value, static_cast<double>(it));
        ASSERT_DOUBLE_EQ(b[static_cast<size_t>(it)].value, 0.5 * static_cast<double>(it));
    }
    EXPECT_GE(static_cast<long long>(store.probes(runId).size()), (committed + 1) / 20);

    // The HDF5 file opens and holds everything up to the last flushed probe.
    RunArrayFile arrays(h5, RunArrayFile::Mode::Read);
    EXPECT_EQ(arrays.runId(), runId);
    const auto probes = arrays.readProbes();
    ASSERT_GE(static_cast<long long>(probes.size()), (committed + 1) / 20);
    for (size_t i = 0; i < static_cast<size_t>((committed + 1) / 20); ++i) {
        EXPECT_EQ(probes[i].iteration, static_cast<int64_t>(20 * i + 19));
        EXPECT_EQ(probes[i].perBranch.at("mse"), (std::vector<double> { 1.0, 2.0, 3.0 }));
    }
    const auto memory = arrays.readMemory();
    ASSERT_GE(static_cast<long long>(memory.size()), committed + 1);
    EXPECT_EQ(memory[static_cast<size_t>(committed)].peakBytes, 2000 + committed);

    // Reopening does not mark it again.
    RunStore again(db);
    EXPECT_TRUE(again.interruptedOnOpen().empty());
}
