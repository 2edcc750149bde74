// Helper program for the storage tests: a process that records a run so a test can kill it, and a writer of a
// known HDF5 file for the h5py check. Not installed.
//   dr2_storage_test_writer record DB H5     records until killed; prints "run ID", then "committed IT" lines
//   dr2_storage_test_writer arrays H5        writes a small file with known values (see read_arrays.py)
#include "storage/run_array_file.h"
#include "storage/run_recorder.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

using namespace dr2;

namespace {

int record(const std::string& db, const std::string& h5)
{
    RunRecord run;
    run.name = "crash victim";
    run.strategy = "dr2net";
    RunRecorderOptions options;
    options.arraysPath = h5;
    options.commitInterval = std::chrono::milliseconds(50);
    RunRecorder recorder(db, run, options);
    std::printf("run %lld\n", static_cast<long long>(recorder.runId()));
    std::fflush(stdout);
    for (int64_t it = 0; it < 10'000'000; ++it) {
        recorder.addScalars(it, { { "a", static_cast<double>(it) }, { "b", 0.5 * static_cast<double>(it) } });
        recorder.addMemorySample({ it, 1000 + it, 2000 + it });
        if (it % 20 == 19) {
            ProbeRecord probe;
            probe.iteration = it;
            probe.alpha = 1.0;
            probe.beta = 0.1;
            probe.metrics["mse"] = static_cast<double>(it);
            probe.perBranch["mse"] = { 1.0, 2.0, 3.0 };
            recorder.addProbe(probe);
            recorder.flush(); // a probe boundary: everything up to `it` is on disk now
            std::printf("committed %lld\n", static_cast<long long>(it));
            std::fflush(stdout);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    recorder.close(RunStatus::Finished);
    return 0;
}

int arrays(const std::string& h5)
{
    RunArrayFile file(h5, RunArrayFile::Mode::Create, /*runId=*/7);
    for (int64_t i = 0; i < 3; ++i) {
        ProbeRecord probe;
        probe.iteration = 100 * i;
        probe.alpha = 1.0 - 0.25 * static_cast<double>(i);
        probe.beta = 0.1 + 0.25 * static_cast<double>(i);
        probe.metrics["mse"] = 1e-3 * static_cast<double>(i + 1);
        probe.perBranch["mse"] = { 0.1 * static_cast<double>(i), 1.0, 2.0, 3.0 };
        file.appendProbe(probe);
    }
    HeatmapRecord heatmap;
    heatmap.name = "initial";
    heatmap.iteration = 0;
    heatmap.alphas = { 0.0, 0.5, 1.0 };
    heatmap.betas = { 0.5, 1.0 };
    heatmap.metrics["mse"] = { 1, 2, 3, 4, 5, 6 };
    file.writeHeatmap(heatmap);
    std::vector<MemorySample> samples;
    for (int64_t i = 0; i < 10; ++i)
        samples.push_back({ i, 100 * i, 1000 + i });
    file.appendMemory(samples);
    file.close();
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "record" && argc == 4)
            return record(argv[2], argv[3]);
        if (mode == "arrays" && argc == 3)
            return arrays(argv[2]);
        std::cerr << "usage: dr2_storage_test_writer record DB H5 | arrays H5\n";
        return 2;
    } catch (const std::exception& error) {
        std::cerr << "dr2_storage_test_writer: error: " << error.what() << std::endl;
        return 1;
    }
}
