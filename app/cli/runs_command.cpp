// dr2net-cli runs: list, show, compare, delete and export the runs recorded in the run database.
#include "app/cli/commands.h"
#include "app/cli/text_table.h"

#include "app/recording/run_metrics.h"
#include "storage/atomic_file.h"
#include "storage/process_identity.h"
#include "storage/run_store.h"
#include "storage/sha256.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace dr2::cli {
namespace {

    using Json = nlohmann::ordered_json; // keeps fields in the order written

    struct RunsArgs {
        std::string db;
        bool json = false;
        std::string status; // list
        std::vector<std::string> runs; // show, compare, delete, export-csv
        bool force = false; // delete
        bool deleteFiles = false; // delete
        std::string out; // export-csv
        std::vector<std::string> series; // export-csv
    };

    std::string databasePath(const RunsArgs& args)
    {
        return args.db.empty() ? RunStore::defaultPath() : args.db;
    }

    bool fileExists(const std::string& path)
    {
        struct stat info { };
        return ::stat(path.c_str(), &info) == 0;
    }

    Json parseJsonField(const std::string& text)
    {
        try {
            return Json::parse(text);
        } catch (const std::exception&) {
            return text; // shown as stored rather than failing the whole listing
        }
    }

    Json number(double value)
    {
        return std::isfinite(value) ? Json(value) : Json(nullptr);
    }

    Json optionalNumber(std::optional<double> value)
    {
        return value ? number(*value) : Json(nullptr);
    }

    // "91.20 % top-1", "0.3127 loss", "-" when missing.
    std::string metricText(const RunRecord& run, const std::string& metric, std::optional<double> value)
    {
        if (!value)
            return "-";
        const RunMetricInfo info = runMetricInfo(run, metric);
        return (info.fraction ? formatPercent(*value) : formatNumber(*value)) + " " + info.label;
    }

    Json toJson(const RunRecord& run)
    {
        const RunResults results = readRunResults(run);
        const Json setup = run.setupJson.empty() ? Json(nullptr) : parseJsonField(run.setupJson);
        return {
            { "id", run.id },
            { "name", run.name },
            { "status", toString(run.status) },
            { "created_at", run.createdAt },
            { "finished_at", run.finishedAt.empty() ? Json(nullptr) : Json(run.finishedAt) },
            { "strategy", run.strategy },
            { "model", run.modelSummary },
            { "source_checkpoint", run.sourceCheckpoint },
            { "source_sha256", run.sourceSha256 },
            { "tags", run.tags },
            { "notes", run.notes },
            { "peak_memory_bytes", run.peakMemoryBytes ? Json(*run.peakMemoryBytes) : Json(nullptr) },
            { "setup", setup },
            { "setup_label", runSetupLabel(run) },
            { "primary_metric", results.primaryMetric },
            { "best_primary", optionalNumber(results.bestPrimary) },
            { "final_primary", optionalNumber(results.finalPrimary()) },
            { "final_metrics", parseJsonField(run.finalMetricsJson) },
            { "config", parseJsonField(run.configJson) },
        };
    }

    Json toJson(const ScalarSeriesInfo& info)
    {
        return { { "name", info.name }, { "count", info.count }, { "first_iteration", info.firstIteration },
            { "last_iteration", info.lastIteration }, { "last", number(info.lastValue) },
            { "min", number(info.minValue) }, { "max", number(info.maxValue) } };
    }

    Json toJson(const std::map<std::string, double>& metrics)
    {
        Json json = Json::object();
        for (const auto& [key, value] : metrics)
            json[key] = number(value);
        return json;
    }

    std::string shortTime(const std::string& iso)
    {
        return iso.size() >= 19 ? iso.substr(0, 10) + " " + iso.substr(11, 8) : iso;
    }

    std::string peakText(const RunRecord& run)
    {
        return run.peakMemoryBytes ? formatBytes(*run.peakMemoryBytes) : "-";
    }

    std::string metricsText(const std::map<std::string, double>& metrics)
    {
        std::string text;
        for (const auto& [key, value] : metrics)
            text += (text.empty() ? "" : ", ") + key + " " + formatNumber(value);
        return text;
    }

    int64_t lastIteration(const std::vector<ScalarSeriesInfo>& series)
    {
        int64_t last = -1;
        for (const auto& info : series)
            last = std::max(last, info.lastIteration);
        return last;
    }

    void runList(const RunsArgs& args)
    {
        const std::string path = databasePath(args);
        if (!fileExists(path)) {
            if (args.json)
                std::cout << "[]" << std::endl;
            else
                std::cout << "no runs yet (no run database at " << path << ")" << std::endl;
            return;
        }
        if (!args.status.empty())
            runStatusFromString(args.status); // validates, naming the allowed values
        RunStore store(path, /*createIfMissing=*/false);
        Json json = Json::array();
        TextTable table({ "id", "name", "status", "strategy", "created", "iterations", "best", "peak memory" });
        for (const RunRecord& run : store.listRuns()) {
            if (!args.status.empty() && toString(run.status) != args.status)
                continue;
            const int64_t iterations = lastIteration(store.scalarSeries(run.id)) + 1;
            if (args.json) {
                auto item = toJson(run);
                item.erase("config"); // the listing stays one line per run; `runs show` has the config
                item["iterations"] = iterations;
                json.push_back(item);
            } else {
                const RunResults results = readRunResults(run);
                table.addRow({ std::to_string(run.id), run.name, toString(run.status), run.strategy,
                    shortTime(run.createdAt), std::to_string(iterations),
                    metricText(run, results.primaryMetric, results.bestPrimary), peakText(run) });
            }
        }
        if (args.json) {
            std::cout << json.dump() << std::endl;
            return;
        }
        table.print(std::cout);
        for (int64_t id : store.interruptedOnOpen())
            std::cout << "note: run " << id << " was marked interrupted (its process is no longer running)\n";
    }

    void runShow(const RunsArgs& args)
    {
        RunStore store(databasePath(args), /*createIfMissing=*/false);
        const RunRecord run = store.resolveRun(args.runs.front());
        const auto series = store.scalarSeries(run.id);
        const auto evaluations = store.evaluations(run.id);
        const auto probes = store.probes(run.id);
        const auto artifacts = store.artifacts(run.id);
        const auto events = store.events(run.id, /*limit=*/args.json ? 1000 : 10);
        if (args.json) {
            Json json = toJson(run);
            json["series"] = Json::array();
            for (const auto& info : series)
                json["series"].push_back(toJson(info));
            json["evaluations"] = Json::array();
            for (const auto& evaluation : evaluations)
                json["evaluations"].push_back({ { "iteration", evaluation.iteration }, { "split", evaluation.split },
                    { "metrics", toJson(evaluation.metrics) } });
            json["probes"] = Json::array();
            for (const auto& probe : probes) {
                Json perBranch = Json::object();
                for (const auto& [metric, values] : probe.perBranch) {
                    perBranch[metric] = Json::array();
                    for (double value : values)
                        perBranch[metric].push_back(number(value));
                }
                json["probes"].push_back({ { "iteration", probe.iteration }, { "alpha", probe.alpha },
                    { "beta", probe.beta }, { "metrics", toJson(probe.metrics) }, { "per_branch", perBranch } });
            }
            json["artifacts"] = Json::array();
            for (const auto& artifact : artifacts)
                json["artifacts"].push_back({ { "path", artifact.path }, { "kind", artifact.kind },
                    { "sha256", artifact.sha256 }, { "bytes", artifact.bytes }, { "created_at", artifact.createdAt } });
            json["events"] = Json::array();
            for (const auto& event : events)
                json["events"].push_back(
                    { { "time", event.time }, { "iteration", event.iteration ? Json(*event.iteration) : Json(nullptr) },
                        { "level", event.level }, { "message", event.message } });
            std::cout << json.dump() << std::endl;
            return;
        }
        const RunResults results = readRunResults(run);
        std::cout << "run " << run.id << ": " << run.name << "\n"
                  << "  status      " << toString(run.status) << "\n"
                  << "  created     " << shortTime(run.createdAt) << " UTC\n"
                  << "  finished    " << (run.finishedAt.empty() ? "-" : shortTime(run.finishedAt) + " UTC") << "\n"
                  << "  strategy    " << run.strategy << "\n"
                  << "  model       " << run.modelSummary << "\n"
                  << "  setup       " << runSetupLabel(run) << (run.setupJson.empty() ? " (derived)" : "") << "\n"
                  << "  result      best " << metricText(run, results.primaryMetric, results.bestPrimary) << ", final "
                  << metricText(run, results.primaryMetric, results.finalPrimary()) << "\n"
                  << "  checkpoint  " << (run.sourceCheckpoint.empty() ? "-" : run.sourceCheckpoint)
                  << (run.sourceSha256.empty() ? "" : " (sha256 " + run.sourceSha256.substr(0, 16) + "…)") << "\n"
                  << "  peak memory " << peakText(run) << "\n"
                  << "  final       " << run.finalMetricsJson << "\n";
        if (!run.tags.empty()) {
            std::string tags;
            for (const auto& tag : run.tags)
                tags += (tags.empty() ? "" : ", ") + tag;
            std::cout << "  tags        " << tags << "\n";
        }
        if (!run.notes.empty())
            std::cout << "  notes       " << run.notes << "\n";
        if (!series.empty()) {
            std::cout << "\nscalar series\n";
            TextTable table({ "name", "points", "iterations", "last", "min", "max" });
            for (const auto& info : series)
                table.addRow({ info.name, std::to_string(info.count),
                    std::to_string(info.firstIteration) + "–" + std::to_string(info.lastIteration),
                    formatNumber(info.lastValue), formatNumber(info.minValue), formatNumber(info.maxValue) });
            table.print(std::cout);
        }
        if (!evaluations.empty()) {
            std::cout << "\nevaluations (" << evaluations.size() << ", last 5)\n";
            TextTable table({ "iteration", "split", "metrics" });
            for (size_t i = evaluations.size() > 5 ? evaluations.size() - 5 : 0; i < evaluations.size(); ++i)
                table.addRow({ std::to_string(evaluations[i].iteration), evaluations[i].split,
                    metricsText(evaluations[i].metrics) });
            table.print(std::cout);
        }
        if (!probes.empty()) {
            const ProbeRecord& last = probes.back();
            std::cout << "\ngradient-error probes: " << probes.size() << "; last at iteration " << last.iteration
                      << " (alpha " << formatNumber(last.alpha) << ", beta " << formatNumber(last.beta)
                      << "): " << metricsText(last.metrics) << "\n";
        }
        if (!artifacts.empty()) {
            std::cout << "\nartifacts\n";
            TextTable table({ "kind", "size", "sha256", "path" });
            for (const auto& artifact : artifacts)
                table.addRow({ artifact.kind, formatBytes(artifact.bytes),
                    artifact.sha256.empty() ? "-" : artifact.sha256.substr(0, 16), artifact.path });
            table.print(std::cout);
        }
        if (!events.empty()) {
            std::cout << "\nlast events\n";
            for (const auto& event : events)
                std::cout << "  " << shortTime(event.time) << "  " << event.level << "  "
                          << (event.iteration ? "[" + std::to_string(*event.iteration) + "] " : "") << event.message
                          << "\n";
        }
    }

    void runCompare(const RunsArgs& args)
    {
        RunStore store(databasePath(args), /*createIfMissing=*/false);
        std::vector<RunRecord> runs;
        for (const std::string& name : args.runs)
            runs.push_back(store.resolveRun(name));
        // Rows: fixed fields, then the union of final metrics, last evaluation metrics and last scalar values.
        std::vector<std::map<std::string, std::string>> columns(runs.size());
        std::vector<Json> json(runs.size());
        std::vector<std::string> rowNames = { "name", "status", "strategy", "model", "setup", "created", "iterations",
            "best", "final", "peak memory", "probes" };
        std::set<std::string> extraRows;
        for (size_t c = 0; c < runs.size(); ++c) {
            const RunRecord& run = runs[c];
            const auto series = store.scalarSeries(run.id);
            const auto evaluations = store.evaluations(run.id);
            auto& column = columns[c];
            column["name"] = run.name;
            column["status"] = toString(run.status);
            column["strategy"] = run.strategy;
            column["model"] = run.modelSummary;
            column["setup"] = runSetupLabel(run);
            const RunResults results = readRunResults(run);
            column["best"] = metricText(run, results.primaryMetric, results.bestPrimary);
            column["final"] = metricText(run, results.primaryMetric, results.finalPrimary());
            column["created"] = shortTime(run.createdAt);
            column["iterations"] = std::to_string(lastIteration(series) + 1);
            column["peak memory"] = peakText(run);
            column["probes"] = std::to_string(store.probes(run.id).size());
            json[c] = toJson(run);
            json[c].erase("config");
            json[c]["iterations"] = lastIteration(series) + 1;
            const Json finals = parseJsonField(run.finalMetricsJson);
            if (finals.is_object())
                for (const auto& [key, value] : finals.items()) {
                    const std::string row = "final " + key;
                    column[row] = value.is_number() ? formatNumber(value.get<double>()) : value.dump();
                    extraRows.insert(row);
                }
            if (!evaluations.empty()) {
                const EvaluationRecord& last = evaluations.back();
                for (const auto& [key, value] : last.metrics) {
                    const std::string row = "eval " + last.split + " " + key;
                    column[row] = formatNumber(value) + " @" + std::to_string(last.iteration);
                    extraRows.insert(row);
                }
                json[c]["last_evaluation"]
                    = { { "iteration", last.iteration }, { "split", last.split }, { "metrics", toJson(last.metrics) } };
            }
            json[c]["last_values"] = Json::object();
            for (const auto& info : series) {
                const std::string row = "last " + info.name;
                column[row] = formatNumber(info.lastValue);
                extraRows.insert(row);
                json[c]["last_values"][info.name] = number(info.lastValue);
            }
        }
        if (args.json) {
            Json array = Json::array();
            for (auto& item : json)
                array.push_back(std::move(item));
            std::cout << array.dump() << std::endl;
            return;
        }
        rowNames.insert(rowNames.end(), extraRows.begin(), extraRows.end());
        std::vector<std::string> header = { "run" };
        for (const auto& run : runs)
            header.push_back(std::to_string(run.id));
        TextTable table(header);
        for (const std::string& row : rowNames) {
            std::vector<std::string> cells = { row };
            for (const auto& column : columns) {
                auto it = column.find(row);
                cells.push_back(it == column.end() || it->second.empty() ? "-" : it->second);
            }
            table.addRow(cells);
        }
        table.print(std::cout);
    }

    void runDelete(const RunsArgs& args)
    {
        RunStore store(databasePath(args), /*createIfMissing=*/false);
        const RunRecord run = store.resolveRun(args.runs.front());
        if (run.status == RunStatus::Running && !args.force) {
            const ProcessIdentity writer { run.writerHost, run.writerBootId, run.writerPid, run.writerStartTicks };
            if (writer.liveness() != ProcessIdentity::Liveness::Dead)
                throw std::runtime_error("run " + std::to_string(run.id) + " ('" + run.name
                    + "'): still running (process " + std::to_string(run.writerPid) + " on '" + run.writerHost
                    + "'); stop it first or pass --force");
        }
        const auto artifacts = store.artifacts(run.id);
        store.deleteRun(run.id);
        std::vector<std::string> kept;
        for (const auto& artifact : artifacts) {
            if (!fileExists(artifact.path))
                continue;
            if (args.deleteFiles) {
                if (std::remove(artifact.path.c_str()) != 0)
                    throw std::runtime_error("run " + std::to_string(run.id) + " deleted, but removing its file '"
                        + artifact.path + "' failed: " + std::strerror(errno));
            } else {
                kept.push_back(artifact.path);
            }
        }
        if (args.json) {
            std::cout << Json({ { "deleted", run.id }, { "name", run.name }, { "files_kept", kept } }).dump()
                      << std::endl;
            return;
        }
        std::cout << "deleted run " << run.id << " ('" << run.name << "')\n";
        for (const auto& path : kept)
            std::cout << "  kept file " << path << " (remove it with --delete-files)\n";
    }

    std::string csvField(const std::string& text)
    {
        if (text.find_first_of(",\"\n") == std::string::npos)
            return text;
        std::string quoted = "\"";
        for (char c : text)
            quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        return quoted + "\"";
    }

    void runExportCsv(const RunsArgs& args)
    {
        RunStore store(databasePath(args), /*createIfMissing=*/false);
        const RunRecord run = store.resolveRun(args.runs.front());
        std::vector<std::string> names;
        if (args.series.empty()) {
            for (const auto& info : store.scalarSeries(run.id))
                names.push_back(info.name);
        } else {
            std::set<std::string> known;
            for (const auto& info : store.scalarSeries(run.id))
                known.insert(info.name);
            for (const auto& name : args.series)
                if (!known.count(name)) {
                    std::string list;
                    for (const auto& k : known)
                        list += (list.empty() ? "" : ", ") + k;
                    throw std::invalid_argument("--series '" + name + "': run " + std::to_string(run.id)
                        + " has no such series; expected one of " + (list.empty() ? "(none)" : list));
                }
            names = args.series;
        }
        // Wide format: one row per iteration, one column per series, empty where a series has no value.
        std::map<int64_t, std::vector<double>> rows;
        for (size_t c = 0; c < names.size(); ++c)
            for (const ScalarPoint& point : store.scalars(run.id, names[c])) {
                auto& row = rows[point.iteration];
                row.resize(names.size(), std::nan(""));
                row[c] = point.value;
            }
        AtomicFile file(args.out);
        std::string line = "iteration";
        for (const auto& name : names)
            line += "," + csvField(name);
        file.write(line + "\n");
        char number[32];
        for (const auto& [iteration, values] : rows) {
            line = std::to_string(iteration);
            for (double value : values) {
                line += ',';
                if (std::isfinite(value)) {
                    std::snprintf(number, sizeof number, "%.17g", value);
                    line += number;
                }
            }
            file.write(line + "\n");
        }
        file.commit();
        ArtifactRecord artifact;
        artifact.path = args.out;
        artifact.kind = "csv";
        artifact.sha256 = sha256OfFile(args.out);
        artifact.bytes = static_cast<int64_t>(file.size());
        store.addArtifact(run.id, artifact);
        if (args.json)
            std::cout << Json({ { "run", run.id }, { "out", args.out }, { "rows", rows.size() }, { "series", names },
                                  { "sha256", artifact.sha256 } })
                             .dump()
                      << std::endl;
        else
            std::cout << "wrote " << rows.size() << " iterations × " << names.size() << " series of run " << run.id
                      << " to " << args.out << std::endl;
    }

} // namespace

void addRunsCommand(CLI::App& app)
{
    auto args = std::make_shared<RunsArgs>();
    CLI::App* runs = app.add_subcommand("runs",
        "list, show, compare, delete and export recorded runs. Database: --db, else $DR2_DB, else "
        "$XDG_DATA_HOME/dr2net/runs.sqlite, else ~/.local/share/dr2net/runs.sqlite");
    runs->require_subcommand(1);
    auto common = [&args](CLI::App* command) {
        command->add_option("--db", args->db, "run database (default: $DR2_DB, $XDG_DATA_HOME/dr2net/runs.sqlite)");
        command->add_flag("--json", args->json, "one JSON document on stdout");
    };

    CLI::App* list = runs->add_subcommand("list", "all runs, newest first");
    common(list);
    list->add_option("--status", args->status, "only runs with this status")
        ->check(CLI::IsMember({ "running", "finished", "failed", "cancelled", "interrupted" }));
    list->callback([args] { runList(*args); });

    CLI::App* show = runs->add_subcommand("show", "one run: fields, scalar series, evaluations, probes, artifacts");
    common(show);
    show->add_option("run", args->runs, "run id or unique name")->required()->expected(1);
    show->callback([args] { runShow(*args); });

    CLI::App* compare = runs->add_subcommand("compare", "runs side by side: status, metrics, last values");
    common(compare);
    compare->add_option("runs", args->runs, "two or more run ids or names")->required()->expected(2, 1000);
    compare->callback([args] { runCompare(*args); });

    CLI::App* remove = runs->add_subcommand("delete", "delete a run and its records (files are kept by default)");
    common(remove);
    remove->add_option("run", args->runs, "run id or unique name")->required()->expected(1);
    remove->add_flag("--force", args->force, "delete even if the run's process is still running");
    remove->add_flag("--delete-files", args->deleteFiles, "also remove the run's artifact files (HDF5, CSV, ...)");
    remove->callback([args] { runDelete(*args); });

    CLI::App* csv = runs->add_subcommand("export-csv", "scalar series as CSV: iteration, then one column per series");
    common(csv);
    csv->add_option("run", args->runs, "run id or unique name")->required()->expected(1);
    csv->add_option("--out", args->out, "CSV file to write (atomically)")->required();
    csv->add_option("--series", args->series, "only these series (comma-separated)")->delimiter(',');
    csv->callback([args] { runExportCsv(*args); });
}

} // namespace dr2::cli
