// dr2net-cli pretrain, train and schedule: the Trainer from a shell.
#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "app/cli/text_table.h"
#include "app/recording/run_recording_observer.h"

#include "training/model_factory.h"
#include "training/schedule.h"
#include "training/trainer.h"

#include "storage/run_store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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
}

bool sameFile(const std::string& a, const std::string& b)
{
    std::error_code error;
    return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

/// The recording observer of a run, attached to the run a resumed checkpoint directory names when it lives in
/// the chosen database.
std::unique_ptr<RunRecordingObserver> makeRecording(const TrainArgs& args)
{
    if (args.noDb)
        return nullptr;
    std::optional<RunRecordingObserver::RunLink> link;
    if (!args.resume.empty())
        link = RunRecordingObserver::readRunLink(args.resume);
    std::string db = args.db;
    if (db.empty())
        db = link ? link->databasePath : RunStore::defaultPath();
    auto recording = std::make_unique<RunRecordingObserver>(db);
    if (link) {
        if (!sameFile(link->databasePath, db))
            std::cerr << "dr2net-cli: note: run " << link->runId << " of '" << args.resume << "' is recorded in '"
                      << link->databasePath << "', not in '" << db << "': recording the resumed run as a new run"
                      << std::endl;
        else if (!RunStore(db, /*createIfMissing=*/false).findRun(link->runId))
            std::cerr << "dr2net-cli: note: run " << link->runId << " named by '" << args.resume
                      << "/run.json' is no longer in '" << db << "': recording the resumed run as a new run"
                      << std::endl;
        else
            recording->attachToRun(link->runId);
    }
    return recording;
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
    if (result.status == "finished")
        return 0;
    return result.status == "cancelled" ? 3 : 4;
}

int runTrainer(TrainConfig config, const TrainArgs& args)
{
    Trainer trainer(std::move(config));
    if (!args.resume.empty())
        trainer.resumeFrom(args.resume);
    std::unique_ptr<RunRecordingObserver> recording = makeRecording(args);
    std::unique_ptr<RunIdPrinter> runIdPrinter;
    if (recording) {
        // The recorder goes first so the run exists (and has its id) when the printers hear onStarted.
        recording->recordFinalWeightsOf(&trainer);
        trainer.addObserver(recording.get());
        runIdPrinter = std::make_unique<RunIdPrinter>(*recording, args.json);
        trainer.addObserver(runIdPrinter.get());
    }
    ProgressPrinter printer(ProgressPrinter::chooseStyle(args.json), std::cout, [&trainer] { trainer.cancel(); });
    ProgressPrinter::installInterruptHandler();
    trainer.addObserver(&printer);
    const RunFinishedEvent result = trainer.run();
    if (recording) {
        if (!recording->error().empty()) {
            std::cerr << "dr2net-cli: error: recording run " << recording->runId() << " in '"
                      << recording->databasePath() << "' failed: " << recording->error() << std::endl;
            if (result.status == "finished")
                return 5;
        } else if (!args.json) {
            std::cout << "recorded run " << recording->runId() << " (" << result.status << ") in "
                      << recording->databasePath();
            if (!recording->finalWeightsPath().empty())
                std::cout << "; final weights " << recording->finalWeightsPath();
            std::cout << std::endl;
        }
    }
    const std::string out = !args.out.empty() ? args.out : trainer.config().output;
    if (!out.empty() && result.status != "failed") {
        saveNativeCheckpoint(out, *trainer.model(),
            { { "dr2net.strategy", toString(trainer.config().strategy) }, { "dr2net.run", trainer.config().name },
                { "dr2net.iterations", std::to_string(result.iterations) } });
        if (!args.json)
            std::cout << "wrote " << out << std::endl;
    }
    return exitCode(result);
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
    TrainConfig config = loadConfig(args);
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

void addTrainCommands(CLI::App& app, int& exitStatus)
{
    auto pretrainArgs = std::make_shared<TrainArgs>();
    auto* pretrain = app.add_subcommand("pretrain",
        "Conventional training of a ViT from scratch on a source task; writes a safetensors checkpoint.");
    addConfigOptions(*pretrain, *pretrainArgs);
    addRecordingOptions(*pretrain, *pretrainArgs);
    pretrain->add_option("--out", pretrainArgs->out, "checkpoint to write (default: the config's output)");
    pretrain->callback([pretrainArgs, &exitStatus] {
        TrainConfig config = loadConfig(*pretrainArgs);
        config.strategy = Strategy::Conventional;
        config.model.checkpoint.clear();
        if (pretrainArgs->out.empty() && config.output.empty())
            throw std::invalid_argument("pretrain: give --out FILE.safetensors or set output in the config");
        exitStatus = runTrainer(std::move(config), *pretrainArgs);
    });

    auto trainArgs = std::make_shared<TrainArgs>();
    auto* train = app.add_subcommand("train",
        "Finetune with any strategy (conventional, frozen, reversible-scratch, hard-finetune, vanilla, dr2net). "
        "Exit code 0 finished, 3 cancelled (Ctrl-C; a checkpoint is saved), 4 failed (NaN/Inf), 5 finished but "
        "the run could not be recorded.");
    addConfigOptions(*train, *trainArgs);
    addRecordingOptions(*train, *trainArgs);
    train->add_option("--resume", trainArgs->resume, "continue from a checkpoint directory (its config.json is used "
                                                     "when --config is not given)");
    train->add_option("--out", trainArgs->out, "write the finetuned weights as safetensors");
    train->callback([trainArgs, &exitStatus] { exitStatus = runTrainer(loadConfig(*trainArgs), *trainArgs); });

    auto scheduleArgs = std::make_shared<TrainArgs>();
    auto* schedule = app.add_subcommand("schedule", "Print α and β at every schedule update of a config.");
    addConfigOptions(*schedule, *scheduleArgs);
    schedule->add_option("--iterations-per-epoch", scheduleArgs->iterationsPerEpoch,
        "needed when the config gives tau_epochs");
    schedule->callback([scheduleArgs] { runSchedule(*scheduleArgs); });
}

} // namespace dr2::cli
