// dr2net-cli demo: the whole pipeline in one command (pretrain, heatmap, three finetunes, export, table).
#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "app/cli/text_table.h"
#include "app/recording/heatmap_sweep.h"
#include "app/recording/recorded_run.h"
#include "app/recording/run_export.h"

#include "core/grad_probe.h"
#include "training/trainer.h"

#include "storage/run_store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace dr2::cli {
namespace {

    namespace fs = std::filesystem;

    /// How big the demo is. The --quick and --tiny durations were measured on a 2-core Debian 12 machine (README
    /// "Demo"); the default size's is an estimate scaled from --quick.
    struct DemoSize {
        std::string name;
        int64_t embedDim = 64;
        int64_t depth = 4;
        int64_t heads = 4;
        int64_t pretrainImages = 1500;
        int64_t pretrainEpochs = 2;
        int64_t finetuneImages = 600;
        int64_t finetuneEpochs = 1;
        int64_t finetuneImageSize = 40;
        int64_t valImages = 500;
        int64_t batchSize = 32;
        std::string heatmapAlphas = "0:1:0.25";
        std::string heatmapBetas = "0.25:1:0.25";
        int64_t heatmapBatch = 8;
        std::string expectedDuration;
        /// Random crops and flips. They pay off over long schedules; a run of a few hundred iterations learns
        /// faster without (FMNIST 0-4, vit 64d×4, 3,000 images, 2 epochs: 72.2 % top-1 without, 49.8 % with).
        bool augment = false;
    };

    DemoSize demoSize(bool quick, bool tiny)
    {
        DemoSize size;
        if (tiny) {
            // For the test suite: every stage runs for real, on very little data.
            size = { "tiny", 32, 2, 2, 1024, 1, 512, 1, 32, 256, 32, "0,0.5,1", "0.5,1", 4, "well under a minute" };
        } else if (quick) {
            size = { "quick", 64, 4, 4, 3000, 3, 1500, 2, 40, 500, 32, "0:1:0.25", "0.25:1:0.25", 8, "about 3 minutes" };
        } else {
            // The shipped example configs' sizes (resources/configs): vit-ti width at depth 6.
            size = { "full", 192, 6, 3, 4000, 2, 2000, 2, 40, 1000, 64, "0:1:0.1", "0.1:1:0.1", 8,
                "roughly an hour (scaled from --quick, which takes about 3 minutes)", /*augment=*/true };
        }
        return size;
    }

    struct DemoArgs {
        bool quick = false;
        bool tiny = false;
        std::string db;
        std::string out = "dr2net-demo";
        std::string data = "/usr/share/datasets/fashion-mnist";
        uint64_t seed = 1;
        int threads = 0;
    };

    /// One finished run of the demo, for the table.
    struct DemoRow {
        std::string strategy;
        int64_t runId = 0;
        RunFinishedEvent result;
    };

    TrainConfig baseConfig(const DemoSize& size, const DemoArgs& args)
    {
        TrainConfig config;
        config.seed = args.seed;
        config.threads = args.threads;
        config.model.preset = "vit-ti";
        config.model.embedDim = size.embedDim;
        config.model.depth = size.depth;
        config.model.heads = size.heads;
        config.model.patchSize = 4;
        config.model.inChannels = 1;
        config.model.dropPath = 0.05;
        config.data.dataset = "fashion-mnist";
        config.data.root = args.data;
        config.data.valLimit = size.valImages;
        config.data.randomCrop = size.augment;
        config.data.flip = size.augment;
        config.optim.batchSize = size.batchSize;
        config.optim.weightDecay = 0.05;
        config.optim.clipGrad = 1.0;
        config.optim.labelSmoothing = 0.1;
        return config;
    }

    TrainConfig pretrainConfig(const DemoSize& size, const DemoArgs& args, const std::string& checkpoint)
    {
        TrainConfig config = baseConfig(size, args);
        config.name = "demo-pretrain-fmnist-0-4";
        config.strategy = Strategy::Conventional;
        config.model.imageSize = 28;
        config.data.classes = { 0, 1, 2, 3, 4 };
        config.data.trainLimit = size.pretrainImages;
        config.optim.epochs = size.pretrainEpochs;
        config.optim.lr = 1e-3;
        config.optim.warmupIterations = 20;
        config.output = checkpoint;
        config.validate();
        return config;
    }

    TrainConfig finetuneConfig(
        const DemoSize& size, const DemoArgs& args, const std::string& checkpoint, Strategy strategy)
    {
        TrainConfig config = baseConfig(size, args);
        config.name = "demo-finetune-fmnist-5-9-" + toString(strategy);
        config.strategy = strategy;
        config.seed = args.seed + 1;
        config.model.checkpoint = checkpoint;
        config.model.imageSize = size.finetuneImageSize;
        config.data.classes = { 5, 6, 7, 8, 9 };
        config.data.trainLimit = size.finetuneImages;
        config.optim.epochs = size.finetuneEpochs;
        config.optim.lr = 5e-4;
        config.optim.warmupIterations = 10;
        if (strategy == Strategy::Dr2Net) {
            // The paper's path: from (1, 0.1) to (0.3, 0.7), reached after half of the finetuning, updated every 2.
            config.schedule.start = { 1.0, 0.1 };
            config.schedule.end = { 0.3, 0.7 };
            config.schedule.eta = 2;
            config.tauEpochs = 0.5 * static_cast<double>(size.finetuneEpochs);
            config.probe.every = 10;
        }
        config.validate();
        return config;
    }

    /// Trains one config, recorded in the database (RecordedRun, as `train` does); returns the finished event and run
    /// id. A config with an output also writes the weights there, recorded as a `checkpoint` artifact.
    DemoRow runRecorded(TrainConfig config, const std::string& db, const std::string& filesDir)
    {
        const std::string strategy = toString(config.strategy);
        RecordedRunOptions options;
        options.databasePath = db;
        options.filesDir = filesDir;
        RecordedRun run(std::move(config), options);
        Trainer& trainer = run.trainer();
        ProgressPrinter printer(
            ProgressPrinter::chooseStyle(/*json=*/false), std::cout, [&trainer] { trainer.cancel(); });
        run.addObserver(&printer);
        const RecordedRunResult result = run.run();
        DemoRow row { strategy, result.runId, result.finished };
        if (!result.recordingError.empty())
            throw std::runtime_error(
                "recording run " + std::to_string(row.runId) + " in '" + db + "' failed: " + result.recordingError);
        if (row.result.outcome != RunOutcome::Finished)
            throw std::runtime_error("demo: " + strategy + " run " + std::to_string(row.runId) + " ended '"
                + toString(row.result.outcome) + "'" + (row.result.message.empty() ? "" : ": " + row.result.message));
        return row;
    }

    /// Sweeps the gradient error of the pretrained checkpoint over α × β, writes it as CSV and records it as a
    /// run of its own (HDF5 heatmap + CSV artifact), with the same helper as `heatmap` and the GUI. Returns the run id.
    int64_t runHeatmap(const DemoSize& size, const DemoArgs& args, const std::string& checkpoint, const std::string& db,
        const std::string& filesDir, const std::string& csvPath)
    {
        TrainConfig config = pretrainConfig(size, args, checkpoint);
        config.name = "demo-heatmap-pretrained";
        config.model.checkpoint = checkpoint;
        config.model.resetHead = false;
        config.output.clear();
        HeatmapSweepRequest request;
        request.network.config = config;
        request.network.numClasses = 5;
        request.network.batch = ProbeBatch::ConfigData; // the pretraining's own validation images, not noise
        request.batch = size.heatmapBatch;
        request.seed = args.seed;
        request.grid = { parseRange(size.heatmapAlphas, "heatmap alphas"), parseRange(size.heatmapBetas, "heatmap betas") };
        request.csvPath = csvPath;
        request.recording.databasePath = db;
        request.recording.filesDir = filesDir;
        request.recording.runName = config.name;
        request.recording.tags = { "demo", "heatmap" };
        request.recording.heatmapName = "pretrained";
        const HeatmapSweepResult result = runHeatmapSweep(request, [](size_t done, size_t total) {
            std::cout << "\rheatmap: " << done << "/" << total << std::flush;
        });
        std::cout << std::endl;
        return result.runId;
    }

    /// The workbench executable that renders reports: next to this program (installed), then ../gui/dr2net
    /// (the build tree: app/cli/dr2net-cli and app/gui/dr2net), then PATH. Empty when none is found.
    std::string findWorkbench()
    {
        std::vector<fs::path> candidates;
        std::error_code error;
        const fs::path self = fs::read_symlink("/proc/self/exe", error);
        if (!error) {
            candidates.push_back(self.parent_path() / "dr2net");
            candidates.push_back(self.parent_path().parent_path() / "gui" / "dr2net");
        }
        if (const char* path = std::getenv("PATH")) {
            std::stringstream dirs(path);
            for (std::string dir; std::getline(dirs, dir, ':');)
                if (!dir.empty())
                    candidates.push_back(fs::path(dir) / "dr2net");
        }
        for (const fs::path& candidate : candidates)
            if (fs::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0)
                return candidate.lexically_normal().string();
        return {};
    }

    /// Runs `argv` (no shell) with QT_QPA_PLATFORM=offscreen, collecting stdout and stderr; gives up after
    /// `timeoutSeconds`. Returns the exit code, or -1 with the reason in `output` when it could not run or
    /// did not exit normally.
    int runHeadless(const std::vector<std::string>& argv, std::string* output, int timeoutSeconds)
    {
        std::vector<std::string> environment;
        for (char** entry = environ; entry && *entry; ++entry)
            if (std::strncmp(*entry, "QT_QPA_PLATFORM=", 16) != 0)
                environment.emplace_back(*entry);
        environment.emplace_back("QT_QPA_PLATFORM=offscreen");
        std::vector<char*> args, envp;
        for (const std::string& arg : argv)
            args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        for (const std::string& entry : environment)
            envp.push_back(const_cast<char*>(entry.c_str()));
        envp.push_back(nullptr);

        int pipeFds[2];
        if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
            *output = std::string("cannot create a pipe: ") + std::strerror(errno);
            return -1;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1);
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2);
        pid_t pid = 0;
        const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(pipeFds[1]);
        if (spawned != 0) {
            ::close(pipeFds[0]);
            *output = "cannot start " + argv[0] + ": " + std::strerror(spawned);
            return -1;
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
        bool timedOut = false;
        char buffer[4096];
        for (;;) {
            pollfd fd { pipeFds[0], POLLIN, 0 };
            const int ready = ::poll(&fd, 1, 500);
            if (ready > 0) {
                const ssize_t got = ::read(pipeFds[0], buffer, sizeof buffer);
                if (got > 0) {
                    output->append(buffer, size_t(got));
                    continue;
                }
                if (got == 0 || errno != EINTR)
                    break; // EOF: the child closed its output (it is exiting)
            }
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid, SIGKILL);
                timedOut = true;
                break;
            }
        }
        ::close(pipeFds[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
        if (timedOut) {
            *output = "it did not finish within " + std::to_string(timeoutSeconds) + " s and was stopped";
            return -1;
        }
        if (!WIFEXITED(status)) {
            *output = "it was killed by signal " + std::to_string(WTERMSIG(status));
            return -1;
        }
        return WEXITSTATUS(status);
    }

    /// The last non-empty line of a program's output (its error message).
    std::string lastLine(const std::string& text)
    {
        std::string last;
        std::stringstream lines(text);
        for (std::string line; std::getline(lines, line);)
            if (line.find_first_not_of(" \t\r") != std::string::npos)
                last = line;
        return last;
    }

    /// Renders the comparison of the finetune runs with the workbench (`dr2net --compare ... --out FILE`, headless)
    /// as HTML and PDF next to the table. The CLI does not link Qt, so it runs the sibling executable. Returns
    /// one line for the summary: the files written, or why there are none (the demo succeeds either way).
    std::string writeComparisonReport(const std::vector<DemoRow>& rows, const std::string& db, const std::string& out)
    {
        const std::string workbench = findWorkbench();
        if (workbench.empty())
            return "not written: the dr2net workbench was not found next to dr2net-cli, in ../gui or on PATH "
                   "(build with -DDR2_BUILD_GUI=ON or install the dr2net package)";
        std::vector<std::string> written;
        for (const char* suffix : { "html", "pdf" }) {
            const std::string path = (fs::path(out) / (std::string("demo-comparison.") + suffix)).string();
            std::vector<std::string> argv { workbench, "--compare" };
            for (const DemoRow& row : rows)
                argv.push_back(std::to_string(row.runId));
            argv.insert(argv.end(), { "--db", db, "--out", path });
            std::string output;
            const int code = runHeadless(argv, &output, /*timeoutSeconds=*/300);
            if (code != 0) {
                const std::string why
                    = code < 0 ? output : "exit code " + std::to_string(code) + ": " + lastLine(output);
                return (written.empty() ? "not written: " : "only " + written.front() + " written; ") + workbench
                    + " failed (" + why + ")";
            }
            written.push_back(path);
        }
        return written[0] + ", " + written[1];
    }

    /// The last evaluation's value of the task's primary metric (top-1 here).
    double finalPrimary(const RunFinishedEvent& result)
    {
        auto it = result.finalMetrics.find(result.primaryMetric);
        return it == result.finalMetrics.end() ? 0.0 : it->second;
    }

    std::string formatSeconds(double seconds)
    {
        std::ostringstream text;
        text.precision(3);
        if (seconds < 1.0)
            text << seconds * 1000.0 << " ms";
        else
            text << seconds << " s";
        return text.str();
    }

    void runDemo(const DemoArgs& args)
    {
        const DemoSize size = demoSize(args.quick, args.tiny);
        const std::string db = args.db.empty() ? RunStore::defaultPath() : args.db;
        // Absolute, because the paths are recorded in the runs' configs: a report or a resume started from
        // another folder must still find the pretrained checkpoint.
        const fs::path out = fs::absolute(args.out).lexically_normal();
        std::error_code createError;
        fs::create_directories(out, createError);
        if (!fs::is_directory(out))
            throw std::runtime_error("--out '" + args.out + "': cannot create the folder"
                + (createError ? " (" + createError.message() + ")" : std::string()));
        const std::string checkpoint = (out / "pretrained-fmnist-0-4.safetensors").string();
        const std::string heatmapCsv = (out / "heatmap-pretrained.csv").string();
        const std::string exported = (out / "dr2net-fmnist-5-9.safetensors").string();
        const std::string filesDir; // the recording observer's default: a `runs` folder next to the database

        std::cout << "dr2net demo (" << size.name << "): vit " << size.embedDim << "d×" << size.depth
                  << ", pretrain on " << size.pretrainImages
                  << " Fashion-MNIST images of classes 0-4 at 28², finetune on " << size.finetuneImages
                  << " images of classes 5-9 at " << size.finetuneImageSize << "² with conventional, "
                  << "vanilla and dr2net; expected duration " << size.expectedDuration << " on a 2-core machine.\n"
                  << "runs are recorded in " << db << "; files go to " << out.string() << std::endl;
        const auto started = std::chrono::steady_clock::now();

        std::cout << "\n== 1/5 pretrain (conventional) ==" << std::endl;
        const DemoRow pretrain = runRecorded(pretrainConfig(size, args, checkpoint), db, filesDir);

        std::cout << "\n== 2/5 gradient-error heatmap of the pretrained checkpoint ==" << std::endl;
        const int64_t heatmapRun = runHeatmap(size, args, checkpoint, db, filesDir, heatmapCsv);

        std::vector<DemoRow> rows;
        int stage = 3;
        for (Strategy strategy : { Strategy::Conventional, Strategy::Vanilla, Strategy::Dr2Net }) {
            std::cout << "\n== " << stage++ << "/5 finetune (" << toString(strategy) << ") ==" << std::endl;
            rows.push_back(runRecorded(finetuneConfig(size, args, checkpoint, strategy), db, filesDir));
        }

        RunExportOptions exportOptions;
        exportOptions.databasePath = db;
        exportOptions.run = std::to_string(rows.back().runId);
        exportOptions.outPath = exported;
        const RunExportResult export_ = exportRun(exportOptions);

        const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60.0;
        std::cout << "\n== results (finetune on classes 5-9 at " << size.finetuneImageSize << "², "
                  << size.finetuneEpochs << " epoch" << (size.finetuneEpochs > 1 ? "s" : "") << ") ==\n";
        TextTable table({ "strategy", "run", "top-1", "peak step memory", "time/iteration" });
        for (const DemoRow& row : rows)
            table.addRow(
                { row.strategy, std::to_string(row.runId), formatPercent(finalPrimary(row.result)),
                    formatBytes(row.result.peakStepBytes), formatSeconds(row.result.secondsPerIteration) });
        table.print(std::cout);
        std::cout << std::flush;
        const std::string report = writeComparisonReport(rows, db, out.string());
        std::cout << "comparison report: " << report << "\n"
                  << "pretrained checkpoint: " << checkpoint << " (run " << pretrain.runId << ", top-1 on classes 0-4 "
                  << formatPercent(finalPrimary(pretrain.result)) << ")\n"
                  << "gradient-error heatmap: " << heatmapCsv << " (run " << heatmapRun << ")\n"
                  << "exported dr2net checkpoint: " << export_.outPath << " (" << export_.tensors << " tensors, "
                  << formatBytes(export_.bytes) << ", sha256 " << export_.sha256.substr(0, 16) << "…)\n"
                  << "database: " << db << "\n"
                  << "total: " << formatNumber(minutes, 3) << " min" << std::endl;
    }

} // namespace

void addDemoCommand(CLI::App& app)
{
    auto args = std::make_shared<DemoArgs>();
    auto* command = app.add_subcommand("demo",
        "The whole pipeline on Fashion-MNIST: pretrain a small Vision Transformer on classes 0-4, map its gradient error over "
        "alpha x beta, finetune on classes 5-9 at a higher resolution with conventional, vanilla and dr2net, "
        "record everything, export the dr2net checkpoint, print a comparison table and, when the dr2net workbench "
        "is installed next to dr2net-cli, write the comparison report OUT/demo-comparison.html and .pdf.");
    command->add_flag("--quick", args->quick, "a smaller demo that finishes in a few minutes on 2 cores");
    command->add_flag("--tiny", args->tiny, "smallest size, for tests")->group("");
    command->add_option("--db", args->db,
        "run database (default: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else "
        "~/.local/share/dr2net/runs.sqlite)");
    command->add_option("--out", args->out, "folder for the checkpoints, the heatmap CSV and the comparison report")
        ->capture_default_str();
    command->add_option("--data", args->data, "Fashion-MNIST folder (gzip IDX files)")->capture_default_str();
    command->add_option("--seed", args->seed, "random seed")->capture_default_str();
    command->add_option("--threads", args->threads, "intra-op threads (0: LibTorch's default)")->capture_default_str();
    command->callback([args] { runDemo(*args); });
}

} // namespace dr2::cli
