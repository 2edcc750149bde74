// dr2_storage_bench: throughput of scalar recording through RunRecorder, and the size of the database and the
// HDF5 file of a synthetic run. Prints one JSON object. Measurements, not a test: nothing here asserts speed.
#include "storage/run_recorder.h"
#include "storage/run_store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t fileSize(const std::string& path)
{
    struct stat info { };
    return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;
}

void removeDatabase(const std::string& path)
{
    for (const char* suffix : { "", "-wal", "-shm" })
        std::remove((path + suffix).c_str());
}

// Pushes `rows` scalars as fast as possible: the caller's cost per push, and rows/s until all are committed.
nlohmann::json measureThroughput(const std::string& directory, int64_t rows)
{
    const std::string db = directory + "/throughput.sqlite";
    removeDatabase(db);
    dr2::RunRecord run;
    run.name = "throughput";
    dr2::RunRecorder recorder(db, run);
    const char* names[] = { "loss", "accuracy", "lr", "alpha", "beta", "step_seconds" };
    const auto start = Clock::now();
    for (int64_t i = 0; i < rows; ++i)
        recorder.addScalar(i / 6, names[i % 6], std::sin(static_cast<double>(i)));
    const double pushSeconds = secondsSince(start);
    recorder.flush();
    const double totalSeconds = secondsSince(start);
    const dr2::RunRecorderStats stats = recorder.stats();
    recorder.close(dr2::RunStatus::Finished);
    removeDatabase(db);
    return {
        { "rows", rows },
        { "push_ns_per_row", 1e9 * pushSeconds / static_cast<double>(rows) },
        { "committed_rows_per_s", static_cast<double>(rows) / totalSeconds },
        { "commits", stats.commits },
        { "blocked_pushes", stats.blockedPushes },
    };
}

// A synthetic training run: 6 scalars and a memory sample per iteration, an evaluation every 1000 iterations,
// a probe (24 branches, 3 metrics) every 100, one 11 x 10 heatmap per 1000 iterations.
nlohmann::json measureSyntheticRun(const std::string& directory, int64_t iterations, int branches)
{
    const std::string db = directory + "/synthetic.sqlite";
    const std::string h5 = directory + "/synthetic.h5";
    removeDatabase(db);
    std::remove(h5.c_str());
    dr2::RunRecord run;
    run.name = "synthetic";
    run.strategy = "dr2net";
    run.configJson = R"({"iterations": 10000})";
    dr2::RunRecorderOptions options;
    options.arraysPath = h5;
    double pushSeconds = 0.0;
    const auto start = Clock::now();
    {
        dr2::RunRecorder recorder(db, run, options);
        for (int64_t it = 0; it < iterations; ++it) {
            const double t = static_cast<double>(it) / static_cast<double>(iterations);
            const auto pushStart = Clock::now();
            recorder.addScalars(it,
                { { "loss", 2.3 * std::exp(-3 * t) }, { "accuracy", 1 - std::exp(-3 * t) }, { "lr", 1e-3 },
                    { "alpha", 1 - 0.7 * t }, { "beta", 0.1 + 0.6 * t }, { "step_seconds", 0.1 } });
            recorder.addMemorySample({ it, 100'000'000 + it, 200'000'000 + it });
            if (it % 100 == 0) {
                dr2::ProbeRecord probe;
                probe.iteration = it;
                probe.alpha = 1 - 0.7 * t;
                probe.beta = 0.1 + 0.6 * t;
                for (const char* metric : { "mse", "max_abs", "rel_l2" }) {
                    probe.metrics[metric] = 1e-6 * (1 + t);
                    probe.perBranch[metric] = std::vector<double>(static_cast<size_t>(branches), 1e-7 * (1 + t));
                }
                recorder.addProbe(std::move(probe));
            }
            if (it % 1000 == 999) {
                recorder.addEvaluation({ it, "val", { { "loss", 0.5 }, { "accuracy", 0.8 } } });
                dr2::HeatmapRecord heatmap;
                heatmap.name = "iter_" + std::to_string(it);
                heatmap.iteration = it;
                for (int a = 0; a <= 10; ++a)
                    heatmap.alphas.push_back(a / 10.0);
                for (int b = 1; b <= 10; ++b)
                    heatmap.betas.push_back(b / 10.0);
                heatmap.metrics["mse"] = std::vector<double>(110, 1e-9);
                recorder.addHeatmap(std::move(heatmap));
                recorder.addEvent({ {}, it, "info", "evaluation at iteration " + std::to_string(it) });
            }
            pushSeconds += secondsSince(pushStart);
        }
        recorder.close(dr2::RunStatus::Finished, R"({"val_accuracy": 0.8})");
    }
    const double totalSeconds = secondsSince(start);
    // Opening and closing a RunStore checkpoints the WAL into the main file (SQLite does this on last close).
    {
        dr2::RunStore store(db);
    }
    nlohmann::json result = {
        { "iterations", iterations },
        { "scalars_per_iteration", 6 },
        { "probe_every", 100 },
        { "branches", branches },
        { "caller_us_per_iteration", 1e6 * pushSeconds / static_cast<double>(iterations) },
        { "total_seconds", totalSeconds },
        { "database_bytes", fileSize(db) },
        { "database_wal_bytes", fileSize(db + "-wal") },
        { "hdf5_bytes", fileSize(h5) },
    };
    removeDatabase(db);
    std::remove(h5.c_str());
    return result;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::string(argv[1]) == "--help") {
        std::cout << "usage: dr2_storage_bench [DIRECTORY [ROWS [ITERATIONS]]]\n"
                     "  DIRECTORY   where temporary databases go (default: /tmp)\n"
                     "  ROWS        scalars pushed for the throughput measurement (default 1000000)\n"
                     "  ITERATIONS  length of the synthetic run (default 10000)\n";
        return 0;
    }
    const std::string directory = argc > 1 ? argv[1] : "/tmp";
    const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 1'000'000;
    const int64_t iterations = argc > 3 ? std::atoll(argv[3]) : 10'000;
    try {
        nlohmann::json report;
        report["throughput"] = measureThroughput(directory, rows);
        report["synthetic_run"] = measureSyntheticRun(directory, iterations, /*branches=*/24);
        std::cout << report.dump(2) << std::endl;
    } catch (const std::exception& error) {
        std::cerr << "dr2_storage_bench: error: " << error.what() << std::endl;
        return 1;
    }
    return 0;
}
