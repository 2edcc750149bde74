// The run's HDF5 file: values and attributes written and read back, layout checks, bad input.
#include "storage/run_array_file.h"
#include "tests/storage/temp_dir.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

using namespace dr2;

namespace {

ProbeRecord makeProbe(int64_t iteration, size_t branches)
{
    ProbeRecord probe;
    probe.iteration = iteration;
    probe.alpha = 1.0 - 0.01 * static_cast<double>(iteration);
    probe.beta = 0.1 + 0.01 * static_cast<double>(iteration);
    probe.metrics = { { "mse", 1e-6 * static_cast<double>(iteration + 1) }, { "max_abs", 1e-3 } };
    for (size_t b = 0; b < branches; ++b)
        probe.perBranch["mse"].push_back(1e-8 * static_cast<double>(b + 1) * static_cast<double>(iteration + 1));
    return probe;
}

} // namespace

TEST(RunArrayFile, WritesAndReadsBackValuesAndAttributes)
{
    test::TempDir dir;
    const std::string path = dir.file("run.h5");
    HeatmapRecord heatmap;
    heatmap.name = "initial";
    heatmap.iteration = 0;
    heatmap.alphas = { 0.0, 0.5, 1.0 };
    heatmap.betas = { 0.1, 1.0 };
    heatmap.metrics["mse"] = { 1, 2, 3, 4, 5, 6 }; // row-major: mse[α=0.5][β=1.0] = 4
    heatmap.metrics["rel_l2"] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6 };
    {
        RunArrayFile file(path, RunArrayFile::Mode::Create, /*runId=*/42);
        for (int64_t it = 0; it < 600; it += 100)
            file.appendProbe(makeProbe(it, 12));
        file.writeHeatmap(heatmap);
        std::vector<MemorySample> samples;
        for (int64_t it = 0; it < 1000; ++it) // more than one chunk (256 rows)
            samples.push_back({ it, 1'000'000 + it, 2'000'000 + 2 * it });
        file.appendMemory(samples);
        file.appendMemory({ { 1000, 7, 8 } });
    }
    RunArrayFile file(path, RunArrayFile::Mode::Read);
    EXPECT_EQ(file.runId(), 42);
    EXPECT_EQ(file.stringAttribute("/", "format"), "dr2net-run-arrays");
    EXPECT_EQ(file.stringAttribute("/memory/peak_bytes", "units"), "bytes");
    EXPECT_EQ(file.stringAttribute("/probes/metrics/mse", "units"), "gradient^2");
    EXPECT_EQ(file.stringAttribute("/probes/per_branch/mse", "units"), "gradient^2");
    EXPECT_EQ(file.stringAttribute("/heatmaps/initial", "axes"), "alpha,beta");

    const auto probes = file.readProbes();
    ASSERT_EQ(probes.size(), 6u);
    EXPECT_EQ(probes[3].iteration, 300);
    EXPECT_DOUBLE_EQ(probes[3].alpha, 1.0 - 3.0);
    EXPECT_DOUBLE_EQ(probes[3].beta, 0.1 + 3.0);
    EXPECT_DOUBLE_EQ(probes[3].metrics.at("mse"), 1e-6 * 301);
    ASSERT_EQ(probes[3].perBranch.at("mse").size(), 12u);
    EXPECT_DOUBLE_EQ(probes[3].perBranch.at("mse")[11], 1e-8 * 12 * 301);

    ASSERT_EQ(file.heatmapNames(), std::vector<std::string> { "initial" });
    const HeatmapRecord read = file.readHeatmap("initial");
    EXPECT_EQ(read.alphas, heatmap.alphas);
    EXPECT_EQ(read.betas, heatmap.betas);
    EXPECT_EQ(read.metrics, heatmap.metrics);

    const auto memory = file.readMemory();
    ASSERT_EQ(memory.size(), 1001u);
    EXPECT_EQ(memory[777].iteration, 777);
    EXPECT_EQ(memory[777].peakBytes, 2'000'000 + 2 * 777);
    EXPECT_EQ(memory[1000].currentBytes, 7);
}

TEST(RunArrayFile, KeepsOneRowPerProbeWhenMetricsComeAndGo)
{
    test::TempDir dir;
    RunArrayFile file(dir.file("run.h5"), RunArrayFile::Mode::Create, 1);
    ProbeRecord first = makeProbe(0, 2);
    first.metrics = { { "mse", 1.0 } };
    ProbeRecord second = makeProbe(1, 2);
    second.metrics = { { "rel_l2", 2.0 } };
    file.appendProbe(first);
    file.appendProbe(second);
    file.appendProbe(first);
    const auto probes = file.readProbes();
    ASSERT_EQ(probes.size(), 3u);
    EXPECT_DOUBLE_EQ(probes[0].metrics.at("mse"), 1.0);
    EXPECT_TRUE(std::isnan(probes[0].metrics.at("rel_l2"))); // added later: NaN before
    EXPECT_TRUE(std::isnan(probes[1].metrics.at("mse"))); // missing in this probe: NaN
    EXPECT_DOUBLE_EQ(probes[1].metrics.at("rel_l2"), 2.0);
    EXPECT_TRUE(std::isnan(probes[2].metrics.at("rel_l2")));
}

TEST(RunArrayFile, RejectsInconsistentInputWithoutWriting)
{
    test::TempDir dir;
    RunArrayFile file(dir.file("run.h5"), RunArrayFile::Mode::Create, 1);
    file.appendProbe(makeProbe(0, 4));
    try {
        file.appendProbe(makeProbe(1, 5));
        FAIL() << "accepted a probe with a different number of branches";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("expected 4 branches"), std::string::npos) << error.what();
    }
    EXPECT_EQ(file.readProbes().size(), 1u); // nothing of the bad probe was written

    HeatmapRecord heatmap;
    heatmap.name = "bad";
    heatmap.alphas = { 0, 1 };
    heatmap.betas = { 0.5 };
    heatmap.metrics["mse"] = { 1, 2, 3 };
    try {
        file.writeHeatmap(heatmap);
        FAIL() << "accepted a 2 x 1 heatmap with 3 values";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("expected 2 × 1 = 2 values, found 3"), std::string::npos)
            << error.what();
    }
    heatmap.name = "../escape";
    heatmap.metrics["mse"] = { 1, 2 };
    EXPECT_THROW(file.writeHeatmap(heatmap), std::invalid_argument);
    heatmap.name = "good";
    file.writeHeatmap(heatmap);
    EXPECT_THROW(file.writeHeatmap(heatmap), std::invalid_argument); // exists
}

TEST(RunArrayFile, OpenErrorsNameTheFile)
{
    test::TempDir dir;
    const std::string text = dir.file("not.h5");
    std::ofstream(text) << "plain text";
    try {
        RunArrayFile file(text, RunArrayFile::Mode::Read);
        FAIL() << "opened a text file";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
    }
    const std::string path = dir.file("run.h5");
    {
        RunArrayFile(path, RunArrayFile::Mode::Create, 7);
    }
    EXPECT_THROW(RunArrayFile(path, RunArrayFile::Mode::Create, 7), std::runtime_error); // never overwrites
    try {
        RunArrayFile file(path, RunArrayFile::Mode::Append, 8);
        FAIL() << "appended to another run's file";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("run_id: expected 8, found 7"), std::string::npos) << error.what();
    }
    RunArrayFile reader(path, RunArrayFile::Mode::Read);
    EXPECT_THROW(reader.appendMemory({ { 0, 1, 1 } }), std::logic_error);
}

TEST(RunArrayFile, DiscardAfterDropsLaterRowsAndHeatmapsForAResume)
{
    test::TempDir dir;
    const std::string path = dir.file("run.h5");
    auto heatmapAt = [](const std::string& name, int64_t iteration) {
        HeatmapRecord heatmap;
        heatmap.name = name;
        heatmap.iteration = iteration;
        heatmap.alphas = { 0.0, 1.0 };
        heatmap.betas = { 1.0 };
        heatmap.metrics["mse"] = { 1, 2 };
        return heatmap;
    };
    {
        RunArrayFile file(path, RunArrayFile::Mode::Create, /*runId=*/7);
        for (int64_t i = 0; i < 10; ++i) {
            file.appendMemory({ { i, 100 + i, 200 + i } });
            if (i % 2 == 0)
                file.appendProbe(makeProbe(i, 3));
        }
        file.writeHeatmap(heatmapAt("early", 2));
        file.writeHeatmap(heatmapAt("late", 8));
    }
    {
        // A checkpoint after iteration 5: iterations 6..9 are trained again and must not appear twice.
        RunArrayFile file(path, RunArrayFile::Mode::Append, /*runId=*/7);
        EXPECT_EQ(file.discardAfter(5), 4u + 2u + 1u); // memory 6..9, probes 6 and 8, heatmap "late"
        for (int64_t i = 6; i < 10; ++i) {
            file.appendMemory({ { i, 300 + i, 400 + i } });
            if (i % 2 == 0)
                file.appendProbe(makeProbe(i, 3));
        }
        file.writeHeatmap(heatmapAt("late", 8)); // the name is free again
    }
    RunArrayFile file(path, RunArrayFile::Mode::Read);
    const auto memory = file.readMemory();
    ASSERT_EQ(memory.size(), 10u);
    for (size_t i = 0; i < memory.size(); ++i) {
        EXPECT_EQ(memory[i].iteration, static_cast<int64_t>(i));
        EXPECT_EQ(memory[i].currentBytes, (i < 6 ? 100 : 300) + static_cast<int64_t>(i));
    }
    const auto probes = file.readProbes();
    ASSERT_EQ(probes.size(), 5u);
    for (size_t i = 0; i < probes.size(); ++i) {
        EXPECT_EQ(probes[i].iteration, static_cast<int64_t>(2 * i));
        ASSERT_EQ(probes[i].perBranch.at("mse").size(), 3u);
        EXPECT_DOUBLE_EQ(probes[i].metrics.at("mse"), makeProbe(probes[i].iteration, 3).metrics.at("mse"));
    }
    EXPECT_EQ(file.heatmapNames(), (std::vector<std::string> { "early", "late" }));
    EXPECT_THROW(file.discardAfter(0), std::logic_error); // read-only
}
