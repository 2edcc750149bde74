// dr2net-cli pretrain, train and schedule: the Trainer from a shell.
#include "app/cli/commands.h"
#include "app/cli/local_launcher.h"
#include "app/cli/progress_printer.h"
#include "app/cli/text_table.h"
#include "app/recording/recorded_run.h"
#include "app/recording/run_recording_observer.h"

#include "training/schedule.h"
#include "training/trainer.h"

#include "storage/run_store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace dr2::cli {
namespace {

struct TrainArgs {
    std::string config;
    std::vector<std::string> overrides;
    std::string resume;
    std::string out;
    bool json = false;
    std::string db; // run database (empty: the default, or the one a resumed run lives in)
    bool noDb = false;
    int64_t iterationsPerEpoch = 0; // schedule only
    std::vector<std::string> tags; // tags of the recorded run
    int nproc = 0; // train/pretrain: start this many data-parallel workers on this machine (0: this process trains)
};

/// Says which run is being recorded, once the recording observer has created or reopened it.
class RunIdPrinter : public TrainObserver {
public:
    RunIdPrinter(const RunRecordingObserver& recording, bool json)
        : m_recording(recording)
        , m_json(json)
    {
    }
    void onStarted(const RunStartedEvent&) override
    {
        if (m_json)
            std::cout << nlohmann::json { { "event", "recording" }, { "run_id", m_recording.runId() },
                { "database", m_recording.databasePath() }, { "run_dir", m_recording.runDirectory() } }
                             .dump()
                      << std::endl;
        else
            std::cout << "run " << m_recording.runId() << " recorded in " << m_recording.databasePath() << std::endl;
    }

private:
    const RunRecordingObserver& m_recording;
    bool m_json;
};

void addRecordingOptions(CLI::App& command, TrainArgs& args)
{
    command.add_option("--db", args.db,
        "run database to record into (default: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else "
        "~/.local/share/dr2net/runs.sqlite; a resumed run stays in its own database)");
    command.add_flag("--no-db", args.noDb, "do not record the run");
    command.add_option("--tag", args.tags, "tag the recorded run (repeatable; `runs show` lists its tags)");
}

void addParallelOptions(CLI::App& command, TrainArgs& args)
{
    command.add_option("--nproc", args.nproc,
        "data parallel on this machine: start N workers (Gloo over the loopback interface), each training on "
        "optim.batch_size samples of every batch; across machines, start this command under any launcher that sets "
        "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun's variables; DR2_DIST_TIMEOUT: seconds a rank may "
        "wait for a peer, default 60)")
        ->check(CLI::Range(1, 256));
}

void addConfigOptions(CLI::App& command, TrainArgs& args)
{
    command.add_option("--config", args.config, "JSON config file (see resources/configs/)");
    command.add_option("--set", args.overrides, "override a config field: key.path=value (repeatable)");
    command.add_flag("--json", args.json, "one JSON object per event on stdout");
}

/// Exit code of a finished run: 0 finished, 3 cancelled, 4 failed (NaN/Inf).
int exitCode(const RunFinishedEvent& result)
{
    switch (result.outcome) {
    case RunOutcome::Finished:
        return 0;
    case RunOutcome::Cancelled:
        return 3;
    case RunOutcome::Failed:
        break;
    }
    return 4;
}

/// The database a run records into: --db, else the one a resumed run lives in, else the default; none with --no-db.
std::string recordingDatabase(const TrainArgs& args)
{
    if (args.noDb)
        return {};
    if (!args.db.empty())
        return args.db;
    if (!args.resume.empty())
        if (auto link = RunRecordingObserver::readRunLink(args.resume))
            return link->databasePath;
    return RunStore::defaultPath();
}

/// A worker of a data-parallel group other than rank 0: it trains, and says nothing but its errors (rank 0 reports
/// progress, records and writes files). Ctrl-C is rank 0's to act on: it stops every rank after the same iteration.
int runFollower(TrainConfig config, const TrainArgs& args, const WorkerGroup& group)
{
    std::signal(SIGINT, SIG_IGN);
    RecordedRunOptions options;
    options.resumeDir = args.resume;
    options.workerGroup = group;
    RecordedRun run(std::move(config), options);
    const RecordedRunResult result = run.run();
    if (result.finished.outcome == RunOutcome::Failed)
        std::cerr << "dr2net-cli: rank " << group.rank << ": " << result.finished.message << std::endl;
    return exitCode(result.finished);
}

int runTrainer(TrainConfig config, const TrainArgs& args)
{
    const WorkerGroup group = WorkerGroup::fromEnvironment();
    if (group.rank != 0)
        return runFollower(std::move(config), args, group);
    RecordedRunOptions options;
    options.databasePath = recordingDatabase(args);
    options.resumeDir = args.resume;
    options.outputPath = args.out;
    options.workerGroup = group;
    options.tags = args.tags;
    RecordedRun run(std::move(config), options);
    for (const auto& note : run.notes())
        std::cerr << "dr2net-cli: note: " << note << std::endl;
    Trainer& trainer = run.trainer();
    std::unique_ptr<RunIdPrinter> runIdPrinter;
    if (run.recording()) {
        runIdPrinter = std::make_unique<RunIdPrinter>(*run.recording(), args.json);
        run.addObserver(runIdPrinter.get());
    }
    ProgressPrinter printer(ProgressPrinter::chooseStyle(args.json), std::cout, [&trainer] { trainer.cancel(); });
    ProgressPrinter::installInterruptHandler();
    run.addObserver(&printer);
    const RecordedRunResult result = run.run();
    if (run.recording()) {
        if (!result.recordingError.empty()) {
            std::cerr << "dr2net-cli: error: recording run " << result.runId << " in '" << result.databasePath
                      << "' failed: " << result.recordingError << std::endl;
            if (result.finished.outcome == RunOutcome::Finished)
                return 5;
        } else if (!args.json) {
            std::cout << "recorded run " << result.runId << " (" << toString(result.finished.outcome) << ") in "
                      << result.databasePath;
            if (!result.finalWeightsPath.empty())
                std::cout << "; final weights " << result.finalWeightsPath;
            std::cout << std::endl;
        }
    }
    if (!result.outputPath.empty() && !args.json)
        std::cout << "wrote " << result.outputPath << std::endl;
    return exitCode(result.finished);
}

/// Trains here, or (with --nproc) starts the workers that do and waits for them.
int trainOrLaunch(TrainConfig config, const TrainArgs& args, const std::vector<std::string>& argv)
{
    if (args.nproc == 0)
        return runTrainer(std::move(config), args);
    if (std::getenv("WORLD_SIZE") != nullptr)
        throw std::invalid_argument("--nproc: WORLD_SIZE is already set (this process is a worker of a launched "
                                    "group); drop --nproc or unset WORLD_SIZE");
    config.validate(); // a bad config fails here once, not in every worker
    if (config.worldSize != 0 && config.worldSize != args.nproc)
        throw std::invalid_argument("--nproc " + std::to_string(args.nproc) + ": the config's world_size is "
            + std::to_string(config.worldSize) + " (a resumed run keeps its world size); use --nproc "
            + std::to_string(config.worldSize) + " or --set world_size=0");
    LocalLaunch launch;
    launch.workers = args.nproc;
    launch.arguments = withoutOption(argv, "--nproc");
    launch.grace = WorkerGroup::fromEnvironment().timeout + std::chrono::seconds(10);
    return launchLocalWorkers(launch);
}

TrainConfig loadConfig(const TrainArgs& args)
{
    std::string path = args.config;
    if (path.empty() && !args.resume.empty())
        path = (std::filesystem::path(args.resume) / "config.json").string();
    return TrainConfig::load(path, args.overrides);
}

void runSchedule(const TrainArgs& args)
{
    // The schedule only needs the numbers: a finetune config may name a checkpoint that pretrain has not written yet.
    const TrainConfig config = TrainConfig::load(args.config, args.overrides);
    ScheduleOptions options = config.schedule;
    if (config.tauEpochs > 0) {
        if (args.iterationsPerEpoch <= 0)
            throw std::invalid_argument("schedule.tau_epochs is set: pass --iterations-per-epoch N to place τ");
        options.tauIterations = std::llround(config.tauEpochs * static_cast<double>(args.iterationsPerEpoch));
    }
    const CoefficientSchedule schedule(options);
    if (args.json) {
        for (int64_t it : schedule.updateIterations()) {
            const auto c = schedule.at(it);
            std::cout << nlohmann::json { { "iteration", it }, { "alpha", c.alpha }, { "beta", c.beta } }.dump() << '\n';
        }
        return;
    }
    std::cout << toString(options.policy) << ", " << toString(options.order) << ", τ = " << options.tauIterations
              << " iterations, η = " << options.eta << "\n";
    TextTable table({ "iteration", "alpha", "beta" });
    for (int64_t it : schedule.updateIterations()) {
        const auto c = schedule.at(it);
        table.addRow({ std::to_string(it), formatNumber(c.alpha, 6), formatNumber(c.beta, 6) });
    }
    table.print(std::cout);
}

} // namespace

void addTrainCommands(CLI::App& app, int& exitStatus, const std::vector<std::string>& argv)
{
    auto pretrainArgs = std::make_shared<TrainArgs>();
    auto* pretrain = app.add_subcommand("pretrain",
        "Conventional training of a backbone from scratch on a source task; writes a safetensors checkpoint.");
    addConfigOptions(*pretrain, *pretrainArgs);
    addRecordingOptions(*pretrain, *pretrainArgs);
    addParallelOptions(*pretrain, *pretrainArgs);
    pretrain->add_option("--out", pretrainArgs->out, "checkpoint to write (default: the config's output)");
    pretrain->callback([pretrainArgs, &exitStatus, argv] {
        TrainConfig config = loadConfig(*pretrainArgs);
        config.strategy = Strategy::Conventional;
        config.model.checkpoint.clear();
        if (pretrainArgs->out.empty() && config.output.empty())
            throw std::invalid_argument("pretrain: give --out FILE.safetensors or set output in the config");
        exitStatus = trainOrLaunch(std::move(config), *pretrainArgs, argv);
    });

    auto trainArgs = std::make_shared<TrainArgs>();
    auto* train = app.add_subcommand("train",
        "Finetune with any strategy (conventional, checkpointed, frozen, reversible-scratch, hard-finetune, vanilla, "
        "dr2net). "
        "Exit code 0 finished, 3 cancelled (Ctrl-C; a checkpoint is saved), 4 failed (NaN/Inf), 5 finished but "
        "the run could not be recorded.");
    addConfigOptions(*train, *trainArgs);
    addRecordingOptions(*train, *trainArgs);
    addParallelOptions(*train, *trainArgs);
    train->add_option("--resume", trainArgs->resume, "continue from a checkpoint directory (its config.json is used "
                                                     "when --config is not given)");
    train->add_option("--out", trainArgs->out, "write the finetuned weights as safetensors");
    train->callback(
        [trainArgs, &exitStatus, argv] { exitStatus = trainOrLaunch(loadConfig(*trainArgs), *trainArgs, argv); });

    auto scheduleArgs = std::make_shared<TrainArgs>();
    auto* schedule = app.add_subcommand("schedule", "Print α and β at every schedule update of a config.");
    addConfigOptions(*schedule, *scheduleArgs);
    schedule->add_option("--iterations-per-epoch", scheduleArgs->iterationsPerEpoch,
        "needed when the config gives tau_epochs");
    schedule->callback([scheduleArgs] { runSchedule(*scheduleArgs); });
}

} // namespace dr2::cli
