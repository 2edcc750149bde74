// A study's state and results from recorded runs: which planned run is done (by the study's and the run's tags),
// the per-level mean ± std over seeds, and the claims' verdicts, paired by seed. The recorded runs are shaped as
// RunRecordingObserver writes them (the same run_metrics writers, runResultsOf of a RunFinishedEvent).
#include "tests/recording/recording_test_support.h"

#include "app/recording/recorded_run.h"
#include "app/recording/run_metrics.h"
#include "app/recording/study_results.h"
#include "storage/run_store.h"
#include "training/study_spec.h"
#include "training/train_events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dr2 {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int64_t kMiB = int64_t { 1024 } * 1024;

json smallConfig()
{
    return {
        { "strategy", "dr2net" },
        { "model",
            { { "preset", "vit-ti" }, { "depth", 2 }, { "embed_dim", 64 }, { "heads", 4 }, { "image_size", 28 },
                { "patch_size", 4 } } },
        { "data", { { "classes", { 5, 6, 7, 8, 9 } }, { "train_limit", 256 }, { "val_limit", 64 } } },
        { "optim", { { "epochs", 1 }, { "batch_size", 32 } } },
        { "schedule", { { "eta", 5 } } },
    };
}

json level(const std::string& strategy)
{
    return { { "label", strategy }, { "set", { { "strategy", strategy } } } };
}

/// Table 2 in small: three strategies, two seeds (six runs), and the claims given.
StudySpec tableSpec(const std::vector<json>& claims = {})
{
    const json root = {
        { "name", "table2" },
        { "description", "three strategies" },
        { "base", { { "config", smallConfig() } } },
        { "seeds", { 0, 1 } },
        { "groups",
            { { { "name", "strategy" }, { "title", "Strategy (Table 2)" },
                { "levels", { level("conventional"), level("vanilla"), level("dr2net") } } } } },
        { "claims", json(claims) },
    };
    return StudySpec::fromJson(root, "/nonexistent", false);
}

json claim(const std::string& better, const std::string& than, const std::string& relation, double tolerance,
    const std::string& metric = "primary")
{
    return { { "name", better + " " + relation + " " + than }, { "paper", "Table 2" }, { "group", "strategy" },
        { "better", better }, { "than", than }, { "metric", metric }, { "relation", relation },
        { "tolerance", tolerance } };
}

const StudyRun& planned(const std::vector<StudyRun>& runs, const std::string& strategy, uint64_t seed)
{
    for (const StudyRun& run : runs) {
        const std::string* label = levelOf(run, "strategy");
        if (label != nullptr && *label == strategy && run.seed == seed)
            return run;
    }
    throw std::logic_error("no planned run " + strategy + " seed " + std::to_string(seed));
}

/// What a run ended with.
struct Outcome {
    double best = 0.80; ///< best top-1
    double valLoss = 0.40; ///< evaluation loss of the last evaluation
    int64_t peakStepBytes = 100 * kMiB;
    double secondsPerIteration = 0.10;
};

/// The classification task's metrics (ClassificationTask::metrics()), as the observer records them.
std::string classificationMetricsJson()
{
    return runMetricsJson(
        { { "top1", "top-1", true, true }, { "top5", "top-5", true, true }, { "loss", "loss", false, false } });
}

/// The run as RunRecordingObserver::onStarted creates it (status running, no final metrics yet).
RunRecord started(const StudySpec& spec, const StudyRun& run, int64_t id)
{
    RunRecord record;
    record.id = id;
    record.name = run.config.name;
    record.createdAt = isoTimeNow();
    record.strategy = toString(run.config.strategy);
    record.modelSummary = "vit 64d×2 (4 branches, 4 heads), 28² patch 4, 5 classes";
    record.sourceCheckpoint = run.config.model.checkpoint;
    record.configJson = run.config.toJson().dump();
    record.tags = { spec.tag(), StudySpec::runTag(run.key) };
    record.setupJson = runSetupJson({ "vit 64d×2 (4 branches, 4 heads), 28² patch 4", "classification",
        run.config.data.dataset, run.config.data.root, run.config.data.classes });
    record.primaryMetric = "top1";
    record.metricsJson = classificationMetricsJson();
    return record;
}

/// The Trainer's RunFinishedEvent for an outcome.
RunFinishedEvent finishedEvent(const Outcome& outcome, RunOutcome how)
{
    RunFinishedEvent event;
    event.outcome = how;
    event.iterations = 40;
    event.primaryMetric = "top1";
    event.bestPrimary = outcome.best;
    event.finalMetrics = { { "top1", outcome.best - 0.01 }, { "top5", 0.99 }, { "loss", outcome.valLoss } };
    event.finalLoss = 0.5;
    event.peakBytes = outcome.peakStepBytes + 200 * kMiB;
    event.peakStepBytes = outcome.peakStepBytes;
    event.secondsPerIteration = outcome.secondsPerIteration;
    event.seconds = 40 * outcome.secondsPerIteration;
    return event;
}

/// The run as RunRecordingObserver::onFinished closes it: status and runResultsJson(runResultsOf(event)).
RunRecord closed(RunRecord record, RunStatus status, const RunFinishedEvent& event)
{
    record.status = status;
    record.finishedAt = isoTimeNow();
    record.finalMetricsJson = runResultsJson(runResultsOf(event));
    record.peakMemoryBytes = event.peakBytes;
    return record;
}

RunRecord finished(const StudySpec& spec, const StudyRun& run, int64_t id, const Outcome& outcome = {})
{
    return closed(started(spec, run, id), RunStatus::Finished, finishedEvent(outcome, RunOutcome::Finished));
}

RunRecord failed(const StudySpec& spec, const StudyRun& run, int64_t id, const Outcome& outcome = {})
{
    return closed(started(spec, run, id), RunStatus::Failed, finishedEvent(outcome, RunOutcome::Failed));
}

RunRecord cancelled(const StudySpec& spec, const StudyRun& run, int64_t id)
{
    return closed(started(spec, run, id), RunStatus::Cancelled, finishedEvent({}, RunOutcome::Cancelled));
}

/// A run whose process died: the store marks it interrupted, its final metrics never written.
RunRecord interrupted(const StudySpec& spec, const StudyRun& run, int64_t id)
{
    RunRecord record = started(spec, run, id);
    record.status = RunStatus::Interrupted;
    return record;
}

/// What the Trainer leaves in a checkpoint folder: the checkpoint and the config it trains.
void writeCheckpoint(const StudyRun& run, bool checkpoint = true, bool config = true)
{
    fs::create_directories(run.config.checkpoint.dir);
    if (checkpoint)
        std::ofstream(fs::path(run.config.checkpoint.dir) / "last.pt") << "checkpoint";
    if (config)
        std::ofstream(fs::path(run.config.checkpoint.dir) / "config.json") << run.config.toJson().dump(2);
}

const StudyRunStatus& statusOf(const std::vector<StudyRunStatus>& statuses, const std::string& strategy, uint64_t seed)
{
    for (const StudyRunStatus& status : statuses) {
        const std::string* label = levelOf(status.planned, "strategy");
        if (label != nullptr && *label == strategy && status.planned.seed == seed)
            return status;
    }
    throw std::logic_error("no status of " + strategy + " seed " + std::to_string(seed));
}

const StudyLevelSummary& row(const StudySummary& summary, const std::string& group, const std::string& label)
{
    for (const StudyGroupSummary& g : summary.groups)
        if (g.name == group)
            for (const StudyLevelSummary& l : g.levels)
                if (l.label == label)
                    return l;
    throw std::logic_error("no row " + group + "/" + label);
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(StudyResults, StatesFollowTheRecordedRuns)
{
    test::TempDir dir("study_states");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    ASSERT_EQ(runs.size(), 6u);
    writeCheckpoint(planned(runs, "dr2net", 0));
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "conventional", 0), 1, { 0.81 }),
        failed(spec, planned(runs, "conventional", 1), 2), started(spec, planned(runs, "vanilla", 0), 3), // running
        interrupted(spec, planned(runs, "dr2net", 0), 4), // with a checkpoint
        interrupted(spec, planned(runs, "dr2net", 1), 5), // without
    };
    const std::vector<StudyRunStatus> statuses = studyRunStatuses(spec, runs, recorded);
    ASSERT_EQ(statuses.size(), runs.size());
    for (size_t i = 0; i < runs.size(); ++i)
        EXPECT_EQ(statuses[i].planned.key, runs[i].key); // in planned order

    const StudyRunStatus& done = statusOf(statuses, "conventional", 0);
    EXPECT_EQ(done.state, StudyRunState::Finished);
    ASSERT_TRUE(done.record.has_value());
    EXPECT_EQ(done.record->id, 1);
    ASSERT_TRUE(done.results.bestPrimary.has_value());
    EXPECT_DOUBLE_EQ(*done.results.bestPrimary, 0.81);
    EXPECT_EQ(done.results.peakStepBytes, 100 * kMiB);

    EXPECT_EQ(statusOf(statuses, "conventional", 1).state, StudyRunState::Failed);
    EXPECT_EQ(statusOf(statuses, "vanilla", 0).state, StudyRunState::Running);
    EXPECT_EQ(statusOf(statuses, "vanilla", 0).record->id, 3);
    EXPECT_EQ(statusOf(statuses, "vanilla", 1).state, StudyRunState::Pending);
    EXPECT_FALSE(statusOf(statuses, "vanilla", 1).record.has_value());
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Resumable);
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).record->id, 4);
    EXPECT_EQ(statusOf(statuses, "dr2net", 1).state, StudyRunState::Pending);
    EXPECT_EQ(statusOf(statuses, "dr2net", 1).record->id, 5);

    EXPECT_EQ(toString(StudyRunState::Pending), "pending");
    EXPECT_EQ(toString(StudyRunState::Running), "running");
    EXPECT_EQ(toString(StudyRunState::Resumable), "resumable");
    EXPECT_EQ(toString(StudyRunState::Finished), "finished");
    EXPECT_EQ(toString(StudyRunState::Failed), "failed");
}

TEST(StudyResults, ResumingNeedsTheCheckpointAndItsConfig)
{
    test::TempDir dir("study_resume");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    writeCheckpoint(planned(runs, "conventional", 0));
    writeCheckpoint(planned(runs, "conventional", 1), /*checkpoint=*/true, /*config=*/false);
    writeCheckpoint(planned(runs, "vanilla", 0), /*checkpoint=*/false, /*config=*/true);
    writeCheckpoint(planned(runs, "dr2net", 0));
    writeCheckpoint(planned(runs, "dr2net", 1));
    const std::vector<RunRecord> recorded = {
        cancelled(spec, planned(runs, "conventional", 0), 1),
        interrupted(spec, planned(runs, "conventional", 1), 2),
        interrupted(spec, planned(runs, "vanilla", 0), 3),
        finished(spec, planned(runs, "dr2net", 0), 4),
        failed(spec, planned(runs, "dr2net", 1), 5),
    };
    const std::vector<StudyRunStatus> statuses = studyRunStatuses(spec, runs, recorded);
    EXPECT_EQ(statusOf(statuses, "conventional", 0).state, StudyRunState::Resumable); // cancelled, checkpoint
    EXPECT_EQ(statusOf(statuses, "conventional", 1).state, StudyRunState::Pending); // last.pt without config.json
    EXPECT_EQ(statusOf(statuses, "vanilla", 0).state, StudyRunState::Pending); // config.json without last.pt
    // A checkpoint does not reopen a run that finished or failed.
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Finished);
    EXPECT_EQ(statusOf(statuses, "dr2net", 1).state, StudyRunState::Failed);
}

TEST(StudyResults, OnlyRunsTaggedWithTheStudyAndTheRunKeyCount)
{
    test::TempDir dir("study_tags");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    const StudyRun& run = planned(runs, "dr2net", 0);

    RunRecord otherStudy = finished(spec, run, 1);
    otherStudy.tags = { "study:table2-quick", StudySpec::runTag(run.key) };
    RunRecord otherKey = finished(spec, run, 2);
    otherKey.tags = { spec.tag(), StudySpec::runTag(planned(runs, "dr2net", 1).key) };
    RunRecord untagged = finished(spec, run, 3);
    untagged.tags.clear();
    std::vector<StudyRunStatus> statuses = studyRunStatuses(spec, runs, { otherStudy, otherKey, untagged });
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Pending);
    EXPECT_FALSE(statusOf(statuses, "dr2net", 0).record.has_value());
    // The record tagged with seed 1's key is seed 1's.
    EXPECT_EQ(statusOf(statuses, "dr2net", 1).state, StudyRunState::Finished);
    EXPECT_EQ(statusOf(statuses, "dr2net", 1).record->id, 2);

    // Other tags beside the study's do not matter.
    RunRecord extra = finished(spec, run, 4);
    extra.tags.insert(extra.tags.begin(), "ablation");
    statuses = studyRunStatuses(spec, runs, { extra });
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Finished);
}

TEST(StudyResults, AFinishedRunWinsOverALaterFailedOne)
{
    test::TempDir dir("study_rank");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    // listRuns() gives the newest first; the order of the list must not matter.
    const std::vector<RunRecord> recorded = {
        failed(spec, planned(runs, "conventional", 0), 6, { 0.99 }),
        finished(spec, planned(runs, "vanilla", 0), 5, { 0.75 }),
        finished(spec, planned(runs, "vanilla", 0), 4, { 0.70 }),
        finished(spec, planned(runs, "conventional", 0), 3, { 0.80 }),
        failed(spec, planned(runs, "dr2net", 0), 2),
        failed(spec, planned(runs, "dr2net", 0), 1),
    };
    const std::vector<StudyRunStatus> statuses = studyRunStatuses(spec, runs, recorded);
    const StudyRunStatus& conventional = statusOf(statuses, "conventional", 0);
    EXPECT_EQ(conventional.state, StudyRunState::Finished);
    EXPECT_EQ(conventional.record->id, 3);
    EXPECT_DOUBLE_EQ(conventional.results.bestPrimary.value_or(-1.0), 0.80);
    // Of two finished runs, the newer counts.
    EXPECT_EQ(statusOf(statuses, "vanilla", 0).record->id, 5);
    EXPECT_DOUBLE_EQ(statusOf(statuses, "vanilla", 0).results.bestPrimary.value_or(-1.0), 0.75);
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Failed);
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).record->id, 2);
}

// A run interrupted once (no checkpoint) and started afresh, which then fails, reads as failed (not retried unless
// asked), not as the old interrupted record (pending, retried at every rerun).
TEST(StudyResults, ALaterFailureCountsOverAnEarlierInterruption)
{
    test::TempDir dir("study_later_failure");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    const std::vector<RunRecord> recorded = {
        interrupted(spec, planned(runs, "dr2net", 0), 1),
        failed(spec, planned(runs, "dr2net", 0), 2),
    };
    const StudyRunStatus status = statusOf(studyRunStatuses(spec, runs, recorded), "dr2net", 0);
    ASSERT_TRUE(status.record.has_value());
    EXPECT_EQ(status.record->id, 2);
    EXPECT_EQ(status.state, StudyRunState::Failed);
}

TEST(StudyResults, SummaryGivesMeanAndSampleStdOverSeeds)
{
    test::TempDir dir("study_summary");
    const StudySpec spec = tableSpec();
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    const std::vector<RunRecord> recorded = {
        // Seed 1 recorded first: the row lists runs in seed order, not id order.
        finished(spec, planned(runs, "dr2net", 1), 1, { 0.90, 0.40, 30 * kMiB, 0.30 }),
        finished(spec, planned(runs, "dr2net", 0), 2, { 0.80, 0.40, 10 * kMiB, 0.10 }),
        finished(spec, planned(runs, "vanilla", 0), 3, { 0.70 }),
        failed(spec, planned(runs, "conventional", 0), 4, { 0.99 }),
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    EXPECT_EQ(summary.name, "table2");
    EXPECT_EQ(summary.description, "three strategies");
    EXPECT_EQ(summary.primaryMetric, "top1");
    EXPECT_EQ(summary.primaryLabel, "top-1");
    EXPECT_TRUE(summary.primaryHigherIsBetter);
    EXPECT_TRUE(summary.primaryFraction);
    EXPECT_EQ(summary.planned, 6u);
    EXPECT_EQ(summary.finished, 3u);
    EXPECT_EQ(summary.failed, 1u);
    ASSERT_EQ(summary.groups.size(), 1u);
    EXPECT_EQ(summary.groups[0].title, "Strategy (Table 2)");

    const StudyLevelSummary& dr2net = row(summary, "strategy", "dr2net");
    EXPECT_EQ(dr2net.planned, 2u);
    EXPECT_EQ(dr2net.finished, 2u);
    EXPECT_EQ(dr2net.runIds, (std::vector<int64_t> { 2, 1 }));
    EXPECT_EQ(dr2net.seeds, (std::vector<uint64_t> { 0, 1 }));
    EXPECT_EQ(dr2net.primary.n, 2u);
    EXPECT_NEAR(dr2net.primary.mean, 0.85, 1e-12);
    EXPECT_NEAR(dr2net.primary.std, std::sqrt(0.005), 1e-12); // 0.0707: sample std, n − 1
    EXPECT_NEAR(dr2net.finalPrimary.mean, 0.84, 1e-12);
    EXPECT_NEAR(dr2net.peakStepBytes.mean, 20.0 * kMiB, 1e-3);
    EXPECT_NEAR(dr2net.peakStepBytes.std, std::sqrt(2.0) * 10.0 * kMiB, 1e-3);
    EXPECT_NEAR(dr2net.secondsPerIteration.mean, 0.20, 1e-12);
    EXPECT_NEAR(dr2net.seconds.mean, 8.0, 1e-9); // 40 iterations × 0.2 s

    const StudyLevelSummary& vanilla = row(summary, "strategy", "vanilla");
    EXPECT_EQ(vanilla.finished, 1u);
    EXPECT_EQ(vanilla.primary.n, 1u);
    EXPECT_DOUBLE_EQ(vanilla.primary.mean, 0.70);
    EXPECT_EQ(vanilla.primary.std, 0.0);

    // The failed run's numbers count nowhere.
    const StudyLevelSummary& conventional = row(summary, "strategy", "conventional");
    EXPECT_EQ(conventional.planned, 2u);
    EXPECT_EQ(conventional.finished, 0u);
    EXPECT_EQ(conventional.primary.n, 0u);
    EXPECT_TRUE(conventional.runIds.empty());
}

TEST(StudyResults, ASharedRunCountsInEveryGroupItStandsFor)
{
    test::TempDir dir("study_shared");
    json root = {
        { "name", "shared" },
        { "base", { { "config", smallConfig() } } },
        { "seeds", { 0, 1 } },
        { "groups",
            {
                { { "name", "strategy" }, { "levels", { level("vanilla"), level("dr2net") } } },
                { { "name", "eta" }, { "key", "schedule.eta" }, { "levels", { 5, 10 } } },
            } },
    };
    const StudySpec spec = StudySpec::fromJson(root, "/nonexistent", false);
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    ASSERT_EQ(runs.size(), 6u); // dr2net = eta 5 = the base
    std::vector<RunRecord> recorded;
    recorded.reserve(runs.size());
    for (const StudyRun& run : runs)
        recorded.push_back(finished(spec, run, static_cast<int64_t>(recorded.size()) + 1, { 0.80 + 0.01 * run.seed }));
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    EXPECT_EQ(summary.planned, 6u);
    EXPECT_EQ(summary.finished, 6u);
    const StudyLevelSummary& dr2net = row(summary, "strategy", "dr2net");
    const StudyLevelSummary& eta5 = row(summary, "eta", "5");
    EXPECT_EQ(dr2net.planned, 2u);
    EXPECT_EQ(dr2net.runIds.size(), 2u);
    EXPECT_EQ(dr2net.runIds, eta5.runIds);
    EXPECT_NEAR(eta5.primary.mean, 0.805, 1e-12);
    EXPECT_NE(row(summary, "eta", "10").runIds, eta5.runIds);
}

/// dr2net 0.85 / 0.87, vanilla 0.80 / 0.82 (dr2net better by 5 points on both seeds); conventional did not run.
std::vector<StudyRunStatus> aboveStatuses(const StudySpec& spec, const std::string& studyDir)
{
    const std::vector<StudyRun> runs = spec.expand(studyDir);
    return studyRunStatuses(spec, runs,
        { finished(spec, planned(runs, "dr2net", 0), 1, { 0.85 }),
            finished(spec, planned(runs, "dr2net", 1), 2, { 0.87 }),
            finished(spec, planned(runs, "vanilla", 0), 3, { 0.80 }),
            finished(spec, planned(runs, "vanilla", 1), 4, { 0.82 }) });
}

TEST(StudyResults, AboveHoldsOnlyWhenTheDifferenceExceedsTheTolerance)
{
    test::TempDir dir("study_above");
    const StudySpec spec = tableSpec({ claim("dr2net", "vanilla", "above", 0.01),
        claim("dr2net", "vanilla", "above", 0.06), claim("vanilla", "dr2net", "above", 0.0) });
    const StudySummary summary = summarizeStudy(spec, aboveStatuses(spec, dir.path.string()));
    ASSERT_EQ(summary.claims.size(), 3u);

    const StudyClaimVerdict& small = summary.claims[0];
    EXPECT_EQ(small.verdict, StudyClaimVerdict::Verdict::Held) << small.explanation;
    ASSERT_TRUE(small.difference.has_value());
    EXPECT_NEAR(*small.difference, 0.05, 1e-9);
    EXPECT_NEAR(small.spread, 0.0, 1e-9);
    EXPECT_EQ(small.pairs, 2u);
    EXPECT_CONTAINS(small.explanation, "over 2 seed(s)");

    EXPECT_EQ(summary.claims[1].verdict, StudyClaimVerdict::Verdict::NotHeld) << summary.claims[1].explanation;
    EXPECT_NEAR(summary.claims[1].difference.value_or(0.0), 0.05, 1e-9);

    // Reversed, the difference is negative.
    EXPECT_EQ(summary.claims[2].verdict, StudyClaimVerdict::Verdict::NotHeld);
    EXPECT_NEAR(summary.claims[2].difference.value_or(0.0), -0.05, 1e-9);
}

TEST(StudyResults, AboutAndAtLeastAllowTheTolerance)
{
    test::TempDir dir("study_about");
    const StudySpec spec = tableSpec({
        claim("dr2net", "conventional", "about", 0.02),
        claim("dr2net", "conventional", "about", 0.005),
        claim("dr2net", "conventional", "at_least", 0.02),
        claim("dr2net", "conventional", "at_least", 0.005),
        claim("conventional", "dr2net", "at_least", 0.0),
        claim("conventional", "dr2net", "about", 0.02),
    });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    // dr2net is one point below conventional on both seeds.
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "dr2net", 0), 1, { 0.80 }),
        finished(spec, planned(runs, "dr2net", 1), 2, { 0.82 }),
        finished(spec, planned(runs, "conventional", 0), 3, { 0.81 }),
        finished(spec, planned(runs, "conventional", 1), 4, { 0.83 }),
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    ASSERT_EQ(summary.claims.size(), 6u);
    using V = StudyClaimVerdict::Verdict;
    EXPECT_NEAR(summary.claims[0].difference.value_or(0.0), -0.01, 1e-9);
    EXPECT_EQ(summary.claims[0].verdict, V::Held) << summary.claims[0].explanation;
    EXPECT_EQ(summary.claims[1].verdict, V::NotHeld) << summary.claims[1].explanation;
    EXPECT_EQ(summary.claims[2].verdict, V::Held) << summary.claims[2].explanation;
    EXPECT_EQ(summary.claims[3].verdict, V::NotHeld) << summary.claims[3].explanation;
    EXPECT_EQ(summary.claims[4].verdict, V::Held) << summary.claims[4].explanation; // better, so at least
    EXPECT_EQ(summary.claims[5].verdict, V::Held) << summary.claims[5].explanation; // |+0.01| within 0.02
}

TEST(StudyResults, ClaimsPairRunsBySeed)
{
    test::TempDir dir("study_pairs");
    const StudySpec spec = tableSpec({ claim("dr2net", "vanilla", "above", 0.01) });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    // Only seed 0 finished on both sides: the claim compares 0.85 with 0.80, not the means (0.90 with 0.80).
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "dr2net", 0), 1, { 0.85 }),
        finished(spec, planned(runs, "dr2net", 1), 2, { 0.95 }),
        finished(spec, planned(runs, "vanilla", 0), 3, { 0.80 }),
        failed(spec, planned(runs, "vanilla", 1), 4, { 0.10 }),
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    const StudyClaimVerdict& verdict = summary.claims.at(0);
    EXPECT_EQ(verdict.pairs, 1u);
    EXPECT_NEAR(verdict.difference.value_or(0.0), 0.05, 1e-9);
    EXPECT_EQ(verdict.spread, 0.0);
    EXPECT_EQ(verdict.verdict, StudyClaimVerdict::Verdict::Held);
    EXPECT_CONTAINS(verdict.explanation, "over 1 seed(s)");
}

TEST(StudyResults, AClaimWithoutAPairedSeedIsUndecided)
{
    test::TempDir dir("study_undecided");
    const StudySpec spec
        = tableSpec({ claim("dr2net", "vanilla", "above", 0.0), claim("dr2net", "conventional", "about", 0.1) });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "dr2net", 0), 1, { 0.85 }),
        finished(spec, planned(runs, "vanilla", 1), 2, { 0.80 }), // another seed
        started(spec, planned(runs, "conventional", 0), 3), // still running
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    for (const StudyClaimVerdict& verdict : summary.claims) {
        EXPECT_EQ(verdict.verdict, StudyClaimVerdict::Verdict::Undecided) << verdict.claim.name;
        EXPECT_FALSE(verdict.difference.has_value());
        EXPECT_EQ(verdict.pairs, 0u);
        EXPECT_CONTAINS(verdict.explanation, "no seed where both");
    }
}

TEST(StudyResults, CostClaimsCompareTheFractionSaved)
{
    test::TempDir dir("study_cost");
    const StudySpec spec = tableSpec({
        claim("dr2net", "conventional", "above", 0.5, "peak_step_bytes"),
        claim("dr2net", "conventional", "above", 0.7, "peak_step_bytes"),
        claim("dr2net", "conventional", "above", 0.0, "seconds_per_iteration"),
        claim("dr2net", "conventional", "about", 0.25, "seconds_per_iteration"),
    });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    // dr2net holds 30 and 40 MiB where conventional holds 100 (70 % and 60 % saved), and is 20 % slower.
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "dr2net", 0), 1, { 0.80, 0.4, 30 * kMiB, 0.12 }),
        finished(spec, planned(runs, "dr2net", 1), 2, { 0.80, 0.4, 40 * kMiB, 0.12 }),
        finished(spec, planned(runs, "conventional", 0), 3, { 0.80, 0.4, 100 * kMiB, 0.10 }),
        finished(spec, planned(runs, "conventional", 1), 4, { 0.80, 0.4, 100 * kMiB, 0.10 }),
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    using V = StudyClaimVerdict::Verdict;
    const StudyClaimVerdict& memory = summary.claims.at(0);
    EXPECT_NEAR(memory.difference.value_or(0.0), 0.65, 1e-9);
    EXPECT_NEAR(memory.spread, std::sqrt(0.005), 1e-9);
    EXPECT_EQ(memory.verdict, V::Held) << memory.explanation;
    EXPECT_EQ(summary.claims.at(1).verdict, V::NotHeld) << summary.claims.at(1).explanation;
    EXPECT_NEAR(summary.claims.at(2).difference.value_or(0.0), -0.2, 1e-9);
    EXPECT_EQ(summary.claims.at(2).verdict, V::NotHeld);
    EXPECT_EQ(summary.claims.at(3).verdict, V::Held) << summary.claims.at(3).explanation;
    EXPECT_CONTAINS(studySummaryMarkdown(summary), "+65.00 ± 7.07 % saved");
}

TEST(StudyResults, FinalMetricClaimsAreOrientedSoPositiveIsBetter)
{
    test::TempDir dir("study_final");
    const StudySpec spec = tableSpec({ claim("dr2net", "vanilla", "above", 0.05, "final_loss"),
        claim("dr2net", "vanilla", "above", 0.0, "final_top1") });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    // dr2net's evaluation loss is 0.30 to vanilla's 0.40 (lower is better), its final top-1 0.02 lower.
    const std::vector<RunRecord> recorded = {
        finished(spec, planned(runs, "dr2net", 0), 1, { 0.80, 0.30 }),
        finished(spec, planned(runs, "vanilla", 0), 2, { 0.82, 0.40 }),
    };
    const StudySummary summary = summarizeStudy(spec, studyRunStatuses(spec, runs, recorded));
    EXPECT_NEAR(summary.claims.at(0).difference.value_or(0.0), 0.10, 1e-9);
    EXPECT_EQ(summary.claims.at(0).verdict, StudyClaimVerdict::Verdict::Held) << summary.claims.at(0).explanation;
    EXPECT_NEAR(summary.claims.at(1).difference.value_or(0.0), -0.02, 1e-9);
    EXPECT_EQ(summary.claims.at(1).verdict, StudyClaimVerdict::Verdict::NotHeld);
}

TEST(StudyResults, MarkdownShowsEachGroupAndTheVerdicts)
{
    test::TempDir dir("study_markdown");
    const StudySpec spec
        = tableSpec({ claim("dr2net", "vanilla", "above", 0.01), claim("dr2net", "vanilla", "above", 0.06) });
    std::vector<StudyRunStatus> statuses = aboveStatuses(spec, dir.path.string());
    const std::string markdown = studySummaryMarkdown(summarizeStudy(spec, statuses));
    EXPECT_CONTAINS(markdown, "Study table2: 4 of 6 runs finished.");
    EXPECT_CONTAINS(markdown, "### Strategy (Table 2)");
    EXPECT_CONTAINS(markdown, "| strategy | runs | best top-1 (%) | final top-1 (%) |");
    EXPECT_CONTAINS(markdown, "| dr2net | 2/2 | 86.0 ± 1.4 | 85.0 ± 1.4 | 100.0 | 0.100 | 1, 2 |");
    EXPECT_CONTAINS(markdown, "| conventional | 0/2 | – | – | – | – |  |");
    EXPECT_CONTAINS(markdown, "### The paper's orderings");
    EXPECT_CONTAINS(markdown, "+5.00 ± 0.00 pt | 2 | **held** |");
    EXPECT_CONTAINS(markdown, "| 2 | **not held** |");
    EXPECT_EQ(markdown.find("failed"), std::string::npos);
}

TEST(StudyResults, JsonHasTheNumbers)
{
    test::TempDir dir("study_json");
    const StudySpec spec = tableSpec({ claim("dr2net", "vanilla", "above", 0.01) });
    const json summary = json::parse(studySummaryJson(summarizeStudy(spec, aboveStatuses(spec, dir.path.string()))));
    EXPECT_EQ(summary["study"], "table2");
    EXPECT_EQ(summary["description"], "three strategies");
    EXPECT_EQ(summary["primary_metric"], "top1");
    EXPECT_EQ(summary["planned_runs"], 6);
    EXPECT_EQ(summary["finished_runs"], 4);
    EXPECT_EQ(summary["failed_runs"], 0);
    ASSERT_EQ(summary["groups"].size(), 1u);
    const json& levels = summary["groups"][0]["levels"];
    ASSERT_EQ(levels.size(), 3u);
    EXPECT_EQ(levels[0]["label"], "conventional");
    EXPECT_TRUE(levels[0]["best_primary"].is_null());
    EXPECT_EQ(levels[0]["finished"], 0);
    const json& dr2net = levels[2];
    EXPECT_EQ(dr2net["label"], "dr2net");
    EXPECT_EQ(dr2net["planned"], 2);
    EXPECT_EQ(dr2net["run_ids"], json({ 1, 2 }));
    EXPECT_EQ(dr2net["seeds"], json({ 0, 1 }));
    EXPECT_EQ(dr2net["best_primary"]["n"], 2);
    EXPECT_NEAR(dr2net["best_primary"]["mean"].get<double>(), 0.86, 1e-12);
    EXPECT_NEAR(dr2net["best_primary"]["std"].get<double>(), std::sqrt(0.0002), 1e-12);
    EXPECT_NEAR(dr2net["peak_step_bytes"]["mean"].get<double>(), 100.0 * kMiB, 1e-3);
    const json& claims = summary["claims"];
    ASSERT_EQ(claims.size(), 1u);
    EXPECT_EQ(claims[0]["verdict"], "held");
    EXPECT_EQ(claims[0]["relation"], "above");
    EXPECT_EQ(claims[0]["metric"], "primary");
    EXPECT_EQ(claims[0]["pairs"], 2);
    EXPECT_NEAR(claims[0]["difference"].get<double>(), 0.05, 1e-9);
    EXPECT_DOUBLE_EQ(claims[0]["tolerance"].get<double>(), 0.01);

    // Undecided: no difference.
    const StudySpec undecided = tableSpec({ claim("dr2net", "conventional", "above", 0.01) });
    const json none
        = json::parse(studySummaryJson(summarizeStudy(undecided, aboveStatuses(undecided, dir.path.string()))));
    EXPECT_EQ(none["claims"][0]["verdict"], "undecided");
    EXPECT_TRUE(none["claims"][0]["difference"].is_null());
}

TEST(StudyResults, ReadsRunsRecordedInARunStore)
{
    test::TempDir dir("study_store");
    const StudySpec spec = tableSpec({ claim("dr2net", "vanilla", "above", 0.01) });
    const std::vector<StudyRun> runs = spec.expand(dir.path.string());
    RunStore store((dir.path / "runs.sqlite").string());
    auto record = [&](const std::string& strategy, uint64_t seed, RunStatus status, double best) {
        const StudyRun& run = planned(runs, strategy, seed);
        RunRecord created = started(spec, run, 0);
        const int64_t id = store.createRun(created);
        const RunRecord closedRun = closed(created, status,
            finishedEvent({ best }, status == RunStatus::Finished ? RunOutcome::Finished : RunOutcome::Failed));
        store.finishRun(id, status, closedRun.finalMetricsJson, closedRun.peakMemoryBytes);
        return id;
    };
    const int64_t d0 = record("dr2net", 0, RunStatus::Finished, 0.85);
    record("dr2net", 1, RunStatus::Finished, 0.87);
    record("vanilla", 0, RunStatus::Finished, 0.80);
    record("vanilla", 1, RunStatus::Failed, 0.10);
    const int64_t running = store.createRun(started(spec, planned(runs, "conventional", 0), 0));

    const std::vector<StudyRunStatus> statuses = studyRunStatuses(spec, runs, store.listRuns());
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).state, StudyRunState::Finished);
    EXPECT_EQ(statusOf(statuses, "dr2net", 0).record->id, d0);
    EXPECT_EQ(statusOf(statuses, "vanilla", 1).state, StudyRunState::Failed);
    EXPECT_EQ(statusOf(statuses, "conventional", 0).state, StudyRunState::Running);
    EXPECT_EQ(statusOf(statuses, "conventional", 0).record->id, running);
    EXPECT_EQ(statusOf(statuses, "conventional", 1).state, StudyRunState::Pending);

    const StudySummary summary = summarizeStudy(spec, statuses);
    EXPECT_EQ(summary.finished, 3u);
    EXPECT_EQ(summary.failed, 1u);
    EXPECT_NEAR(row(summary, "strategy", "dr2net").primary.mean, 0.86, 1e-12);
    EXPECT_EQ(summary.claims.at(0).pairs, 1u);
    EXPECT_NEAR(summary.claims.at(0).difference.value_or(0.0), 0.05, 1e-9);
    EXPECT_EQ(summary.claims.at(0).verdict, StudyClaimVerdict::Verdict::Held);
}

} // namespace
} // namespace dr2
