#pragma once

#include "app/recording/run_metrics.h"
#include "storage/run_records.h"
#include "training/study_spec.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

/// Where a planned run of a study stands in the run database.
enum class StudyRunState {
    Pending, ///< never started, or started without a checkpoint to continue from
    Running, ///< recorded `running` by a live process
    Resumable, ///< interrupted or cancelled with a checkpoint to continue from
    Finished,
    Failed, ///< the run failed (NaN/Inf, an error): not retried unless asked
};

/// Whether `checkpointDir` holds what `train --resume` continues from (the Trainer's checkpoint and its config).
bool hasResumableCheckpoint(const std::string& checkpointDir);

/// "pending" | "running" | "resumable" | "finished" | "failed".
std::string toString(StudyRunState state);

/// A planned run and what the database holds for it.
struct StudyRunStatus {
    StudyRun planned;
    StudyRunState state = StudyRunState::Pending;
    /// The recorded run that counts for it (the finished one, else the latest); nullopt when none was recorded.
    std::optional<RunRecord> record;
    RunResults results; ///< of `record`
};

/// The database's state of every planned run: runs tagged with the study and the run's key
/// (StudySpec::tag(), StudySpec::runTag()). `recorded` is the database's runs (RunStore::listRuns()).
/// A run whose checkpoint directory holds a checkpoint is Resumable when it did not finish or fail.
std::vector<StudyRunStatus> studyRunStatuses(
    const StudySpec& spec, const std::vector<StudyRun>& planned, const std::vector<RunRecord>& recorded);

/// Mean and sample standard deviation of some values (std 0 for one value; n 0 when there are none).
struct StudyStat {
    size_t n = 0;
    double mean = 0.0;
    double std = 0.0;
};

/// One level of a group over its seeds.
struct StudyLevelSummary {
    std::string label;
    size_t planned = 0; ///< runs the spec asks for (its seeds)
    size_t finished = 0;
    std::vector<int64_t> runIds; ///< the finished runs, in seed order
    std::vector<uint64_t> seeds; ///< of runIds
    StudyStat primary; ///< best value of the primary metric
    StudyStat finalPrimary; ///< primary metric at the last evaluation
    StudyStat peakStepBytes; ///< tensor memory of a training step above what the model holds
    StudyStat secondsPerIteration;
    StudyStat seconds; ///< wall time of a run
};

struct StudyGroupSummary {
    std::string name;
    std::string title;
    std::vector<StudyLevelSummary> levels;
};

/// A claim checked on the finished runs.
struct StudyClaimVerdict {
    StudyClaim claim;
    enum class Verdict { Held, NotHeld, Undecided } verdict = Verdict::Undecided;
    /// How much better `better` is than `than`, oriented so that positive is better: for a metric in its unit
    /// (higher-is-better: better − than; lower-is-better: than − better), for memory and time the fraction
    /// saved, (than − better) / than. Mean over the seeds both levels finished (paired by seed).
    std::optional<double> difference;
    /// Sample standard deviation of the per-seed differences (0 with one seed).
    double spread = 0.0;
    size_t pairs = 0; ///< seeds both levels finished
    std::string explanation; ///< one line: why held or not, or what is missing
};

/// A study's tables and claims from its recorded runs.
struct StudySummary {
    std::string name;
    std::string description;
    std::string primaryMetric; ///< e.g. "top1" (from the runs; "top1" when none finished)
    std::string primaryLabel; ///< e.g. "top-1"
    bool primaryHigherIsBetter = true;
    bool primaryFraction = true;
    size_t planned = 0; ///< distinct runs
    size_t finished = 0;
    size_t failed = 0;
    std::vector<StudyGroupSummary> groups;
    std::vector<StudyClaimVerdict> claims;
};

/// The tables (per group, per level, over seeds) and each claim's verdict. Only finished runs count.
StudySummary summarizeStudy(const StudySpec& spec, const std::vector<StudyRunStatus>& statuses);

/// The summary as JSON (what `study --out FILE.json` writes).
std::string studySummaryJson(const StudySummary& summary);
/// The summary as Markdown: one table per group (level, runs, metric mean ± std, peak step memory, s/iteration)
/// and the claims table (claim, paper, difference ± spread, verdict). What `study` prints and the README shows.
std::string studySummaryMarkdown(const StudySummary& summary);

} // namespace dr2
