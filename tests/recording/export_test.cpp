// Export of a recorded run: logits of the exported file equal the trained model's, in every naming scheme;
// renaming round trips; a file-size limit (full disk) makes export fail cleanly with no partial file.
#include "tests/recording/recording_test_support.h"

#include "app/recording/run_export.h"
#include "app/recording/run_recording_observer.h"
#include "core/checkpoint.h"
#include "core/version.h"
#include "core/backbones/vit/vit_loader.h"
#include "storage/run_store.h"
#include "training/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dr2 {
namespace {

namespace fs = std::filesystem;

/// One tiny run trained and recorded once for all tests of this file.
class ExportTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        s_dir = std::make_unique<test::TempDir>("export");
        s_db = (s_dir->path / "runs.sqlite").string();
        const TrainConfig config
            = TrainConfig::fromJson(test::tinyConfigJson((s_dir->path / "ck").string(), /*epochs=*/1));
        Trainer trainer(config);
        RunRecordingObserver recording(s_db);
        recording.recordFinalWeightsOf(&trainer);
        trainer.addObserver(&recording);
        s_status = toString(trainer.run().outcome);
        s_runId = recording.runId();
        s_recordingError = recording.error();
        Network model = trainer.model();
        model->eval();
        s_stack = model->backbone().stacks().front()->options();
        torch::NoGradGuard noGrad;
        torch::manual_seed(11);
        s_input = torch::randn({ 4, 1, 28, 28 });
        s_logits = model->forward(s_input).clone();
    }
    static void TearDownTestSuite() { s_dir.reset(); }

    static RunExportResult exportAs(const std::string& names)
    {
        RunExportOptions options;
        options.databasePath = s_db;
        options.run = std::to_string(s_runId);
        options.outPath = (s_dir->path / ("export_" + names + ".safetensors")).string();
        options.names = names;
        return exportRun(options);
    }

    static inline std::unique_ptr<test::TempDir> s_dir;
    static inline std::string s_db;
    static inline std::string s_status;
    static inline std::string s_recordingError;
    static inline int64_t s_runId = 0;
    static inline Dr2StackOptions s_stack;
    static inline torch::Tensor s_input;
    static inline torch::Tensor s_logits;
};

TEST_F(ExportTest, RunWasRecordedWithItsFinalWeights)
{
    ASSERT_EQ(s_status, "finished");
    ASSERT_TRUE(s_recordingError.empty()) << s_recordingError;
    RunStore store(s_db, /*createIfMissing=*/false);
    const RunRecord run = *store.findRun(s_runId);
    EXPECT_EQ(run.status, RunStatus::Finished);
    EXPECT_EQ(store.scalars(s_runId, "loss").size(), 10u);
    EXPECT_EQ(store.evaluations(s_runId).size(), 1u);
    EXPECT_GE(store.probes(s_runId).size(), 2u);
    ASSERT_TRUE(run.peakMemoryBytes.has_value());
    EXPECT_GT(*run.peakMemoryBytes, 0);
    int weights = 0;
    for (const auto& artifact : store.artifacts(s_runId))
        weights += artifact.kind == "weights" && artifact.sha256.size() == 64 && fs::exists(artifact.path);
    EXPECT_EQ(weights, 1);
}

TEST_F(ExportTest, ExportedLogitsEqualTrainedModelInEveryNamingScheme)
{
    ASSERT_EQ(s_status, "finished");
    for (const std::string names : { "dr2", "timm", "torchvision" }) {
        SCOPED_TRACE(names);
        const RunExportResult result = exportAs(names);
        const LoadedCheckpoint file = readCheckpoint(result.outPath);
        EXPECT_EQ(toString(detectNamingScheme(file.tensors, result.outPath)), names);
        EXPECT_EQ(file.metadata.at("dr2net.run_id"), std::to_string(s_runId));
        EXPECT_EQ(file.metadata.at("dr2net.naming"), names);
        EXPECT_EQ(file.metadata.at("dr2net.strategy"), "dr2net");
        EXPECT_EQ(file.metadata.at("dr2net.version"), DR2_VERSION);
        EXPECT_EQ(file.metadata.at("dr2net.first_skip"), toString(s_stack.firstSkip));
        EXPECT_EQ(nlohmann::json::parse(file.metadata.at("dr2net.config")).at("name"), "tiny-recorded");
        EXPECT_EQ(nlohmann::json::parse(file.metadata.at("dr2net.architecture")).at("depth"), 4);

        // Rebuild the network from the file alone: architecture and α, β, first skip from its metadata.
        ViTLoadOptions options;
        options.stack = s_stack; // execution mode and segments are not part of the weights
        options.stack.alpha = std::stod(file.metadata.at("dr2net.alpha"));
        options.stack.beta = std::stod(file.metadata.at("dr2net.beta"));
        options.stack.firstSkip = parseFirstSkip(file.metadata.at("dr2net.first_skip"));
        EXPECT_EQ(options.stack.alpha, s_stack.alpha); // written as shortest round-trip text
        EXPECT_EQ(options.stack.beta, s_stack.beta);
        ViTLoadReport report;
        ViT loaded = loadViT(file, options, &report);
        EXPECT_TRUE(report.missingKeys.empty());
        EXPECT_TRUE(report.unexpectedKeys.empty());
        loaded->eval();
        torch::NoGradGuard noGrad;
        const double diff = (loaded->forward(s_input) - s_logits).abs().max().item<double>();
        EXPECT_LE(diff, 1e-6);
    }
    RunStore store(s_db, /*createIfMissing=*/false);
    int exports = 0;
    for (const auto& artifact : store.artifacts(s_runId))
        exports += artifact.kind == "export";
    EXPECT_EQ(exports, 3);
}

TEST_F(ExportTest, TimmAndTorchvisionRenamingRoundTrips)
{
    ASSERT_EQ(s_status, "finished");
    const LoadedCheckpoint internal = readCheckpoint(exportAs("dr2").outPath);
    for (NamingScheme scheme : { NamingScheme::Timm, NamingScheme::Torchvision }) {
        SCOPED_TRACE(toString(scheme));
        const StateDict external = fromInternalNames(internal.tensors, scheme);
        EXPECT_EQ(detectNamingScheme(external, "renamed"), scheme);
        const StateDict back = toInternalNames(external, scheme);
        ASSERT_EQ(back.size(), internal.tensors.size());
        for (const auto& [name, tensor] : internal.tensors) {
            const at::Tensor* found = findTensor(back, name);
            ASSERT_NE(found, nullptr) << name << " lost in the round trip";
            EXPECT_TRUE(torch::equal(*found, tensor)) << name;
        }
    }
}

/// Runs `dr2net-cli export` in a child process under a file-size limit; returns its exit code and output.
std::pair<int, std::string> exportUnderFileSizeLimit(const std::vector<std::string>& args, rlim_t limit,
    const std::string& logPath)
{
    std::error_code ignored;
    fs::remove(logPath, ignored); // the output of this run only
    const pid_t pid = test::spawnCli(args, logPath, [limit] {
        // Ignored SIGXFSZ is inherited across exec: a write past the limit fails with EFBIG instead of killing.
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit fileSize { limit, limit };
        ::setrlimit(RLIMIT_FSIZE, &fileSize);
    });
    const int code = test::waitExit(pid);
    return { code, test::readFile(logPath) };
}

TEST_F(ExportTest, FileSizeLimitFailsCleanlyWithNoPartialFile)
{
    ASSERT_EQ(s_status, "finished");
    const fs::path outDir = s_dir->path / "full";
    fs::create_directories(outDir);
    const std::string out = (outDir / "model.safetensors").string();
    RunStore before(s_db, /*createIfMissing=*/false);
    const size_t artifactsBefore = before.artifacts(s_runId).size();

    // The weights are ~0.8 MB; 64 KiB is a disk that fills up in the middle of the file.
    const auto [code, output] = exportUnderFileSizeLimit(
        { "export", std::to_string(s_runId), "--out", out, "--db", s_db }, rlim_t { 64 } * 1024,
        (s_dir->path / "log").string());
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("dr2net-cli: error: export of run " + std::to_string(s_runId)), std::string::npos) << output;
    EXPECT_NE(output.find("File too large"), std::string::npos) << output;
    EXPECT_NE(output.find("no file was written"), std::string::npos) << output;
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << "one line expected:\n" << output;
    EXPECT_TRUE(fs::is_empty(outDir)) << "a partial or temporary file was left in " << outDir;
    RunStore after(s_db, /*createIfMissing=*/false);
    EXPECT_EQ(after.artifacts(s_runId).size(), artifactsBefore);

    // Without the limit the same command succeeds: the failure was the limit, not the arguments.
    const auto [okCode, okOutput] = exportUnderFileSizeLimit(
        { "export", std::to_string(s_runId), "--out", out, "--db", s_db }, RLIM_INFINITY, (s_dir->path / "log").string());
    EXPECT_EQ(okCode, 0) << okOutput;
    EXPECT_TRUE(fs::exists(out));
}

TEST_F(ExportTest, MissingFolderAndUnknownRunGiveOneClearError)
{
    ASSERT_EQ(s_status, "finished");
    RunExportOptions options;
    options.databasePath = s_db;
    options.run = std::to_string(s_runId);
    options.outPath = (s_dir->path / "no" / "such" / "dir" / "m.safetensors").string();
    try {
        exportRun(options);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("does not exist; no file was written"), std::string::npos)
            << error.what();
    }
    EXPECT_FALSE(fs::exists(s_dir->path / "no"));
    options.outPath = (s_dir->path / "m.safetensors").string();
    options.run = "999";
    EXPECT_THROW(exportRun(options), std::exception);
    EXPECT_FALSE(fs::exists(options.outPath));
}

} // namespace
} // namespace dr2
