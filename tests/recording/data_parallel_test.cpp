// Data parallel through the real CLI: `train --nproc 2` starts two dr2net-cli processes that rendezvous over the
// loopback interface (TCPStore + Gloo) and train as one process with twice the batch; a killed rank ends the job
// with one line and a failed run, and the run resumes.
#include "tests/recording/recording_test_support.h"

#include "core/safetensors.h"
#include "storage/run_store.h"

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// A tiny run whose only randomness is the data order and the initial weights, so that one process with batch 2B and
/// two with batch B each compute the same thing: no dropout, no drop path, no random crop or flip (their draws
/// legitimately differ between one and two processes).
nlohmann::json deterministicConfig(
    const std::string& strategy, int64_t batch, int64_t accumulation, int64_t imagesPerIteration, int64_t iterations)
{
    nlohmann::json config = test::tinyConfigJson("", 1);
    config["strategy"] = strategy;
    config["model"]["depth"] = 3;
    config["model"]["drop_path"] = 0.0;
    config["data"]["random_crop"] = false;
    config["data"]["flip"] = false;
    config["data"]["train_limit"] = iterations * imagesPerIteration;
    config["data"]["val_limit"] = 40; // two uneven shards of the last validation batch
    config["optim"]["batch_size"] = batch;
    config["optim"]["accumulation"] = accumulation;
    config["optim"]["warmup_iterations"] = 2;
    config["schedule"] = { { "tau_iterations", 8 }, { "eta", 1 } };
    config["probe"] = { { "every", 0 } };
    config.erase("checkpoint");
    return config;
}

struct Trained {
    std::vector<double> losses; ///< per iteration, from --json
    double evalLoss = -1.0;
    SafetensorsContents weights;
};

Trained trainWith(const fs::path& dir, const std::string& tag, const nlohmann::json& config,
    const std::vector<std::string>& extra)
{
    const std::string configPath = (dir / (tag + ".json")).string();
    std::ofstream(configPath) << config.dump(2);
    const std::string log = (dir / (tag + ".log")).string();
    const std::string weights = (dir / (tag + ".safetensors")).string();
    std::vector<std::string> args { "train", "--config", configPath, "--no-db", "--json", "--out", weights };
    args.insert(args.end(), extra.begin(), extra.end());
    const int code = test::waitExit(test::spawnCli(args, log));
    Trained trained;
    EXPECT_EQ(code, 0) << test::readFile(log);
    std::istringstream lines(test::readFile(log));
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() != '{')
            continue;
        const auto event = nlohmann::json::parse(line);
        if (event.value("event", "") == "iteration")
            trained.losses.push_back(event.at("loss").get<double>());
        if (event.value("event", "") == "evaluation")
            trained.evalLoss = event.at("loss").get<double>();
    }
    if (code == 0)
        trained.weights = readSafetensors(weights);
    return trained;
}

class TwoProcesses : public ::testing::TestWithParam<const char*> { };

// The reference is one process whose batch of 2B is two accumulated micro-batches of B: the same samples, the same
// mean gradient, and the same matrix shapes, so any difference would be the all-reduce's (measured: none, to the
// bit). Against one process that multiplies 2B-row matrices the shapes differ and so does the rounding: measured
// here 5e-7 relative in the losses of the plain network (asserted below) and 1e-4 in the reversible one, whose
// reconstruction divides by β (0.1 at the start) in every branch and amplifies rounding noise (not asserted).
TEST_P(TwoProcesses, OfBatchBTrainAsOneProcessOfBatch2B)
{
    test::TempDir dir("dp_equal");
    constexpr int64_t kIterations = 10;
    constexpr int64_t kBatch = 8;
    const Trained wide
        = trainWith(dir.path, "wide", deterministicConfig(GetParam(), 2 * kBatch, 1, 2 * kBatch, kIterations), {});
    const Trained one
        = trainWith(dir.path, "one", deterministicConfig(GetParam(), kBatch, 2, 2 * kBatch, kIterations), {});
    const Trained two = trainWith(
        dir.path, "two", deterministicConfig(GetParam(), kBatch, 1, 2 * kBatch, kIterations), { "--nproc", "2" });
    ASSERT_EQ(one.losses.size(), static_cast<size_t>(kIterations));
    ASSERT_EQ(two.losses.size(), one.losses.size());
    double worstLoss = 0.0;
    for (size_t i = 0; i < one.losses.size(); ++i)
        worstLoss = std::max(worstLoss, std::abs(two.losses[i] - one.losses[i]) / std::abs(one.losses[i]));
    // Both evaluate all 40 validation images: two ranks of 16 + 4 and 16 + 4 images, summed over ranks.
    ASSERT_GT(one.evalLoss, 0.0);
    const double evalError = std::abs(two.evalLoss - one.evalLoss) / one.evalLoss;
    double worstWeight = 0.0;
    ASSERT_EQ(two.weights.tensors.size(), one.weights.tensors.size());
    const std::map<std::string, at::Tensor> twoWeights(two.weights.tensors.begin(), two.weights.tensors.end());
    for (const auto& [name, expected] : one.weights.tensors) {
        ASSERT_TRUE(twoWeights.count(name)) << name;
        const at::Tensor& got = twoWeights.at(name);
        const double scale = std::max(1.0, expected.abs().max().item<double>());
        worstWeight = std::max(worstWeight, (got - expected).abs().max().item<double>() / scale);
    }
    ASSERT_EQ(wide.losses.size(), one.losses.size());
    double wideLoss = 0.0;
    for (size_t i = 0; i < one.losses.size(); ++i)
        wideLoss = std::max(wideLoss, std::abs(two.losses[i] - wide.losses[i]) / std::abs(wide.losses[i]));
    std::cout << "[ measured ] " << GetParam() << ": worst relative loss difference " << worstLoss
              << ", evaluation loss " << evalError << ", worst weight difference " << worstWeight
              << "; against one batch of 2B rows: worst relative loss difference " << wideLoss << std::endl;
    if (std::string(GetParam()) == "conventional")
        EXPECT_LE(wideLoss, 1e-5);
    EXPECT_LE(worstLoss, 1e-5);
    EXPECT_LE(evalError, 1e-5);
    EXPECT_LE(worstWeight, 1e-5);
    // Not vacuous: training moved the weights far more than the tolerance.
    EXPECT_GT(std::abs(one.losses.front() - one.losses.back()), 1e-3);
}

// conventional: the plain (stored-activation) network; dr2net: reversible, with α/β moving.
INSTANTIATE_TEST_SUITE_P(DataParallel, TwoProcesses, ::testing::Values("conventional", "dr2net"));

/// The pid of worker `rank` from the launcher's "started N workers on ... (pids A B)" line, or -1.
pid_t workerPid(const std::string& log, int rank)
{
    std::smatch match;
    if (!std::regex_search(log, match, std::regex(R"(\(pids ([0-9]+) ([0-9]+)\))")))
        return -1;
    return static_cast<pid_t>(std::stol(match[1 + rank].str()));
}

/// The largest difference between two weight files' tensors (they must hold the same names).
double largestDifference(const SafetensorsContents& a, const SafetensorsContents& b)
{
    const std::map<std::string, at::Tensor> other(b.tensors.begin(), b.tensors.end());
    double worst = 0.0;
    for (const auto& [name, tensor] : a.tensors) {
        if (!other.count(name))
            return INFINITY;
        worst = std::max(worst, (tensor - other.at(name)).abs().max().item<double>());
    }
    return a.tensors.size() == b.tensors.size() ? worst : INFINITY;
}

// Killing rank 1 ends the job within the group's timeout with one line naming it, the run is recorded as failed, and
// `--resume` with the same world size continues it exactly: drop path draws from each rank's own stream, and the
// checkpoint keeps both ranks' streams, so the resumed run ends with the weights of one that was never killed.
TEST(DataParallel, AKilledRankEndsTheJobWithOneLineThenTheRunResumesExactly)
{
    test::TempDir dir("dp_kill");
    const std::string db = (dir.path / "runs.sqlite").string();
    const std::string checkpointDir = (dir.path / "ck").string();
    nlohmann::json config = test::tinyConfigJson(checkpointDir, /*epochs=*/2); // 40 iterations: killed long before
    config["optim"]["batch_size"] = 16;
    config["model"]["drop_path"] = 0.1;
    config["probe"]["every"] = 0;
    config["checkpoint"]["every"] = 5;
    const std::string configPath = (dir.path / "run.json").string();
    std::ofstream(configPath) << config.dump(2);

    const std::string referenceLog = (dir.path / "reference.txt").string();
    const std::string reference = (dir.path / "reference.safetensors").string();
    ASSERT_EQ(test::waitExit(test::spawnCli({ "train", "--config", configPath, "--no-db", "--nproc", "2", "--set",
                                                "checkpoint.dir=" + (dir.path / "reference-ck").string(), "--out",
                                                reference },
                  referenceLog)),
        0)
        << test::readFile(referenceLog);

    const std::string log = (dir.path / "log.txt").string();
    const pid_t launcher = test::spawnCli({ "train", "--config", configPath, "--db", db, "--nproc", "2" }, log);
    ASSERT_GT(launcher, 0);
    const auto started = std::chrono::steady_clock::now();
    while (test::committedLossPoints(db) < 6 || !fs::exists(fs::path(checkpointDir) / "last.pt")) {
        ASSERT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(120))
            << "no 6 recorded iterations within 120 s:\n" << test::readFile(log);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const pid_t rank1 = workerPid(test::readFile(log), 1);
    ASSERT_GT(rank1, 0) << test::readFile(log);
    ASSERT_EQ(::kill(rank1, SIGKILL), 0);

    // The job ends within 60 s (the group's timeout; a dead peer's closed socket is noticed at once).
    const auto killed = std::chrono::steady_clock::now();
    int status = 0;
    while (::waitpid(launcher, &status, WNOHANG) == 0) {
        ASSERT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(60)) << test::readFile(log);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string output = test::readFile(log);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 4) << output;
    EXPECT_NE(output.find("rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"), std::string::npos) << output;
    // Which line rank 0 says depends on where the kill lands: before rank 1 reached the iteration ("rank 1 did not
    // reach iteration N") or inside it, after both had reached it ("every rank reached iteration N, so one died or
    // hung inside it"). Either names the failed collective and the iteration.
    EXPECT_TRUE(std::regex_search(output,
        std::regex("rank 0 of 2: .* failed; (rank 1 did not reach iteration|every rank reached iteration [0-9]+, so "
                   "one died or hung inside it)")))
        << output;
    int64_t runId = 0;
    {
        RunStore store(db, /*createIfMissing=*/false);
        const auto runs = store.listRuns();
        ASSERT_EQ(runs.size(), 1U);
        EXPECT_EQ(runs.front().status, RunStatus::Failed);
        EXPECT_LT(test::committedLossPoints(db), 40) << "the run ended before the kill";
        runId = runs.front().id;
    }

    const std::string resumeLog = (dir.path / "resume.txt").string();
    const std::string resumed = (dir.path / "resumed.safetensors").string();
    ASSERT_EQ(test::waitExit(test::spawnCli(
                  { "train", "--resume", checkpointDir, "--db", db, "--nproc", "2", "--out", resumed }, resumeLog)),
        0)
        << test::readFile(resumeLog);
    RunStore store(db, /*createIfMissing=*/false);
    const auto run = store.findRun(runId);
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->status, RunStatus::Finished) << test::readFile(resumeLog);
    const double difference = largestDifference(readSafetensors(resumed), readSafetensors(reference));
    std::cout << "[ measured ] resumed vs never killed: largest weight difference " << difference << std::endl;
    EXPECT_EQ(difference, 0.0);
}

// With drop path and random augmentation on, the ranks draw different masks and crops than one process would, but
// two runs of the same world size and seed still train the same network.
TEST(DataParallel, WithRandomnessOnTwoRunsOfTwoRanksAreIdentical)
{
    test::TempDir dir("dp_random");
    nlohmann::json config = deterministicConfig("dr2net", 8, 1, 16, 6);
    config["model"]["drop_path"] = 0.2;
    config["data"]["random_crop"] = true;
    config["data"]["flip"] = true;
    const Trained first = trainWith(dir.path, "first", config, { "--nproc", "2" });
    const Trained second = trainWith(dir.path, "second", config, { "--nproc", "2" });
    ASSERT_EQ(first.losses.size(), 6U);
    EXPECT_EQ(first.losses, second.losses);
    EXPECT_EQ(largestDifference(first.weights, second.weights), 0.0);
    // Not vacuous: the randomness is on (another seed trains differently).
    config["seed"] = 4;
    const Trained reseeded = trainWith(dir.path, "reseeded", config, { "--nproc", "2" });
    EXPECT_NE(reseeded.losses, first.losses);
}

} // namespace
} // namespace dr2
