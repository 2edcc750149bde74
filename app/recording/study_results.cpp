// A study's state and results from the run database: which planned run is done, the per-level tables, the claims.
#include "app/recording/study_results.h"

#include "training/trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

namespace dr2 {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool hasTag(const RunRecord& run, const std::string& tag)
{
    return std::find(run.tags.begin(), run.tags.end(), tag) != run.tags.end();
}

/// Which recorded run counts for a planned one: a finished one first, then the newest (higher ids are newer), so a
/// fresh attempt that failed is not hidden by an older interrupted one.
int rank(RunStatus status)
{
    return status == RunStatus::Finished ? 1 : 0;
}

StudyStat statOf(const std::vector<double>& values)
{
    StudyStat stat;
    stat.n = values.size();
    if (values.empty())
        return stat;
    double sum = 0.0;
    for (double v : values)
        sum += v;
    stat.mean = sum / static_cast<double>(values.size());
    if (values.size() > 1) {
        double squares = 0.0;
        for (double v : values)
            squares += (v - stat.mean) * (v - stat.mean);
        stat.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
    }
    return stat;
}

/// A claim's metric of one finished run, or nullopt.
std::optional<double> claimValue(const StudyClaim& claim, const RunResults& results)
{
    if (claim.metric == "primary")
        return results.bestPrimary;
    if (claim.metric == "peak_step_bytes")
        return results.peakStepBytes ? std::optional<double>(static_cast<double>(*results.peakStepBytes)) : std::nullopt;
    if (claim.metric == "seconds_per_iteration")
        return results.secondsPerIteration;
    const std::string name = claim.metric.substr(6); // final_<metric>
    const auto found = results.finalMetrics.find(name);
    return found == results.finalMetrics.end() ? std::nullopt : std::optional<double>(found->second);
}

/// Memory and time claims compare fractions saved; metric claims compare values.
bool isCostMetric(const std::string& metric)
{
    return metric == "peak_step_bytes" || metric == "seconds_per_iteration";
}

std::string formatValue(double value, bool fraction)
{
    char text[64];
    if (fraction)
        std::snprintf(text, sizeof text, "%.1f", 100.0 * value);
    else
        std::snprintf(text, sizeof text, "%.4g", value);
    return text;
}

std::string formatStat(const StudyStat& stat, bool fraction)
{
    if (stat.n == 0)
        return "–";
    std::string text = formatValue(stat.mean, fraction);
    if (stat.n > 1)
        text += " ± " + formatValue(stat.std, fraction);
    return text;
}

std::string formatMiB(const StudyStat& stat)
{
    if (stat.n == 0)
        return "–";
    char text[64];
    std::snprintf(text, sizeof text, "%.1f", stat.mean / (1024.0 * 1024.0));
    return text;
}

std::string formatSeconds(const StudyStat& stat)
{
    if (stat.n == 0)
        return "–";
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", stat.mean);
    return text;
}

json statJson(const StudyStat& stat)
{
    if (stat.n == 0)
        return nullptr;
    return json { { "n", stat.n }, { "mean", stat.mean }, { "std", stat.std } };
}

std::string verdictText(StudyClaimVerdict::Verdict verdict)
{
    switch (verdict) {
    case StudyClaimVerdict::Verdict::Held:
        return "held";
    case StudyClaimVerdict::Verdict::NotHeld:
        return "not held";
    case StudyClaimVerdict::Verdict::Undecided:
        break;
    }
    return "undecided";
}

/// The difference of a claim in the unit people read it in: points for fractions, percent for costs.
std::string formatDifference(const StudyClaimVerdict& verdict, bool fraction)
{
    if (!verdict.difference)
        return "–";
    const bool cost = isCostMetric(verdict.claim.metric);
    const double scale = cost || fraction ? 100.0 : 1.0;
    char text[96];
    std::snprintf(text, sizeof text, "%+.2f ± %.2f%s", scale * *verdict.difference, scale * verdict.spread,
        cost ? " % saved" : (fraction ? " pt" : ""));
    return text;
}

StudyClaimVerdict judge(const StudyClaim& claim, const StudySummary& summary, const std::vector<StudyRunStatus>& statuses)
{
    StudyClaimVerdict verdict;
    verdict.claim = claim;
    bool higherIsBetter = summary.primaryHigherIsBetter;
    if (claim.metric.rfind("final_", 0) == 0)
        higherIsBetter = knownMetricInfo(claim.metric.substr(6)).higherIsBetter;
    // Per seed, the value of each side (finished runs only).
    std::map<uint64_t, double> better;
    std::map<uint64_t, double> than;
    for (const StudyRunStatus& status : statuses) {
        if (status.state != StudyRunState::Finished)
            continue;
        const std::string* level = levelOf(status.planned, claim.group);
        if (level == nullptr || (*level != claim.better && *level != claim.than))
            continue;
        if (const auto value = claimValue(claim, status.results))
            (*level == claim.better ? better : than)[status.planned.seed] = *value;
    }
    std::vector<double> differences;
    for (const auto& [seed, b] : better) {
        const auto t = than.find(seed);
        if (t == than.end())
            continue;
        double d = 0.0;
        if (isCostMetric(claim.metric))
            d = t->second > 0.0 ? (t->second - b) / t->second : 0.0;
        else
            d = higherIsBetter ? b - t->second : t->second - b;
        differences.push_back(d);
    }
    verdict.pairs = differences.size();
    if (differences.empty()) {
        verdict.explanation = "no seed where both \"" + claim.better + "\" and \"" + claim.than + "\" finished";
        return verdict;
    }
    const StudyStat stat = statOf(differences);
    verdict.difference = stat.mean;
    verdict.spread = stat.std;
    const double d = stat.mean;
    bool held = false;
    std::string rule;
    const bool points = !isCostMetric(claim.metric) && summary.primaryFraction;
    const std::string tolerance = points || isCostMetric(claim.metric)
        ? formatValue(claim.tolerance, true) + (points ? " pt" : " %")
        : formatValue(claim.tolerance, false);
    switch (claim.relation) {
    case ClaimRelation::Above:
        held = d > claim.tolerance;
        rule = "better by more than " + tolerance;
        break;
    case ClaimRelation::AtLeast:
        held = d >= -claim.tolerance;
        rule = "not worse by more than " + tolerance;
        break;
    case ClaimRelation::About:
        held = std::abs(d) <= claim.tolerance;
        rule = "within " + tolerance;
        break;
    }
    verdict.verdict = held ? StudyClaimVerdict::Verdict::Held : StudyClaimVerdict::Verdict::NotHeld;
    verdict.explanation = "\"" + claim.better + "\" vs \"" + claim.than + "\" over " + std::to_string(stat.n)
        + " seed(s); asks: " + rule + (stat.n > 1 && std::abs(d) < stat.std ? "; the difference is within the seeds' spread" : "");
    return verdict;
}

} // namespace

bool hasResumableCheckpoint(const std::string& checkpointDir)
{
    std::error_code ignored;
    return !checkpointDir.empty() && fs::exists(fs::path(checkpointDir) / Trainer::kCheckpointFile, ignored)
        && fs::exists(fs::path(checkpointDir) / "config.json", ignored);
}

std::string toString(StudyRunState state)
{
    switch (state) {
    case StudyRunState::Pending:
        return "pending";
    case StudyRunState::Running:
        return "running";
    case StudyRunState::Resumable:
        return "resumable";
    case StudyRunState::Finished:
        return "finished";
    case StudyRunState::Failed:
        return "failed";
    }
    return "pending";
}

std::vector<StudyRunStatus> studyRunStatuses(
    const StudySpec& spec, const std::vector<StudyRun>& planned, const std::vector<RunRecord>& recorded)
{
    const std::string studyTag = spec.tag();
    std::vector<StudyRunStatus> out;
    for (const StudyRun& run : planned) {
        StudyRunStatus status;
        status.planned = run;
        const std::string runTag = StudySpec::runTag(run.key);
        for (const RunRecord& record : recorded) {
            if (!hasTag(record, studyTag) || !hasTag(record, runTag))
                continue;
            if (!status.record || rank(record.status) > rank(status.record->status)
                || (rank(record.status) == rank(status.record->status) && record.id > status.record->id))
                status.record = record;
        }
        if (status.record) {
            status.results = readRunResults(*status.record);
            switch (status.record->status) {
            case RunStatus::Finished:
                status.state = StudyRunState::Finished;
                break;
            case RunStatus::Running:
                status.state = StudyRunState::Running;
                break;
            case RunStatus::Failed:
                status.state = StudyRunState::Failed;
                break;
            case RunStatus::Cancelled:
            case RunStatus::Interrupted:
                status.state = hasResumableCheckpoint(run.config.checkpoint.dir) ? StudyRunState::Resumable : StudyRunState::Pending;
                break;
            }
        }
        out.push_back(std::move(status));
    }
    return out;
}

StudySummary summarizeStudy(const StudySpec& spec, const std::vector<StudyRunStatus>& statuses)
{
    StudySummary summary;
    summary.name = spec.name;
    summary.description = spec.description;
    summary.planned = statuses.size();
    summary.primaryMetric = "top1";
    for (const StudyRunStatus& status : statuses) {
        if (status.state == StudyRunState::Failed)
            ++summary.failed;
        if (status.state != StudyRunState::Finished)
            continue;
        if (summary.finished++ == 0) {
            summary.primaryMetric = status.results.primaryMetric;
            const RunMetricInfo info = runMetricInfo(*status.record, summary.primaryMetric);
            summary.primaryLabel = info.label;
            summary.primaryHigherIsBetter = info.higherIsBetter;
            summary.primaryFraction = info.fraction;
        }
    }
    if (summary.primaryLabel.empty()) {
        const RunMetricInfo info = knownMetricInfo(summary.primaryMetric);
        summary.primaryLabel = info.label;
        summary.primaryHigherIsBetter = info.higherIsBetter;
        summary.primaryFraction = info.fraction;
    }
    for (const StudyGroup& group : spec.groups) {
        StudyGroupSummary groupSummary { group.name, group.title, {} };
        for (const StudyLevel& level : group.levels) {
            StudyLevelSummary row;
            row.label = level.label;
            std::vector<double> primary, finalPrimary, peak, perIteration, seconds;
            for (const StudyRunStatus& status : statuses) {
                const std::string* label = levelOf(status.planned, group.name);
                if (label == nullptr || *label != level.label)
                    continue;
                ++row.planned;
                if (status.state != StudyRunState::Finished)
                    continue;
                ++row.finished;
                row.runIds.push_back(status.record->id);
                row.seeds.push_back(status.planned.seed);
                const RunResults& r = status.results;
                if (r.bestPrimary)
                    primary.push_back(*r.bestPrimary);
                if (const auto last = r.finalPrimary())
                    finalPrimary.push_back(*last);
                if (r.peakStepBytes)
                    peak.push_back(static_cast<double>(*r.peakStepBytes));
                if (r.secondsPerIteration)
                    perIteration.push_back(*r.secondsPerIteration);
                if (r.seconds)
                    seconds.push_back(*r.seconds);
            }
            row.primary = statOf(primary);
            row.finalPrimary = statOf(finalPrimary);
            row.peakStepBytes = statOf(peak);
            row.secondsPerIteration = statOf(perIteration);
            row.seconds = statOf(seconds);
            groupSummary.levels.push_back(std::move(row));
        }
        summary.groups.push_back(std::move(groupSummary));
    }
    for (const StudyClaim& claim : spec.claims)
        summary.claims.push_back(judge(claim, summary, statuses));
    return summary;
}

std::string studySummaryJson(const StudySummary& summary)
{
    json groups = json::array();
    for (const StudyGroupSummary& group : summary.groups) {
        json levels = json::array();
        for (const StudyLevelSummary& level : group.levels)
            levels.push_back({ { "label", level.label }, { "planned", level.planned }, { "finished", level.finished },
                { "run_ids", level.runIds }, { "seeds", level.seeds }, { "best_primary", statJson(level.primary) },
                { "final_primary", statJson(level.finalPrimary) }, { "peak_step_bytes", statJson(level.peakStepBytes) },
                { "seconds_per_iteration", statJson(level.secondsPerIteration) }, { "seconds", statJson(level.seconds) } });
        groups.push_back({ { "name", group.name }, { "title", group.title }, { "levels", levels } });
    }
    json claims = json::array();
    for (const StudyClaimVerdict& v : summary.claims)
        claims.push_back({ { "name", v.claim.name }, { "paper", v.claim.paper }, { "group", v.claim.group },
            { "better", v.claim.better }, { "than", v.claim.than }, { "metric", v.claim.metric },
            { "relation", toString(v.claim.relation) }, { "tolerance", v.claim.tolerance },
            { "verdict", verdictText(v.verdict) },
            { "difference", v.difference ? json(*v.difference) : json(nullptr) }, { "spread", v.spread },
            { "pairs", v.pairs }, { "explanation", v.explanation } });
    return json { { "study", summary.name }, { "description", summary.description },
        { "primary_metric", summary.primaryMetric }, { "planned_runs", summary.planned },
        { "finished_runs", summary.finished }, { "failed_runs", summary.failed }, { "groups", groups },
        { "claims", claims } }
        .dump(2);
}

std::string studySummaryMarkdown(const StudySummary& summary)
{
    std::ostringstream out;
    const std::string unit = summary.primaryFraction ? " (%)" : "";
    out << "Study " << summary.name << ": " << summary.finished << " of " << summary.planned << " runs finished";
    if (summary.failed > 0)
        out << ", " << summary.failed << " failed";
    out << ".\n";
    for (const StudyGroupSummary& group : summary.groups) {
        out << "\n### " << group.title << "\n\n";
        out << "| " << group.name << " | runs | best " << summary.primaryLabel << unit << " | final "
            << summary.primaryLabel << unit << " | step peak (MiB) | s/iteration | run ids |\n";
        out << "|---|---|---|---|---|---|---|\n";
        for (const StudyLevelSummary& level : group.levels) {
            std::string ids;
            for (int64_t id : level.runIds)
                ids += (ids.empty() ? "" : ", ") + std::to_string(id);
            out << "| " << level.label << " | " << level.finished << "/" << level.planned << " | "
                << formatStat(level.primary, summary.primaryFraction) << " | "
                << formatStat(level.finalPrimary, summary.primaryFraction) << " | " << formatMiB(level.peakStepBytes)
                << " | " << formatSeconds(level.secondsPerIteration) << " | " << ids << " |\n";
        }
    }
    if (!summary.claims.empty()) {
        out << "\n### The paper's orderings\n\n";
        out << "| claim | paper | compared | difference ± spread | seeds | verdict |\n";
        out << "|---|---|---|---|---|---|\n";
        for (const StudyClaimVerdict& v : summary.claims)
            out << "| " << v.claim.name << " | " << v.claim.paper << " | "
                << (v.claim.metric == "primary" ? "best " + summary.primaryLabel : v.claim.metric) << " | "
                << formatDifference(v, summary.primaryFraction) << " | " << v.pairs << " | **"
                << verdictText(v.verdict) << "** |\n";
    }
    return out.str();
}

} // namespace dr2
