// dr2net-cli pretrain, train and schedule: the Trainer from a shell.
#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "app/cli/text_table.h"

#include "training/model_factory.h"
#include "training/schedule.h"
#include "training/trainer.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct TrainArgs {
    std::string config;
    std::vector<std::string> overrides;
    std::string resume;
    std::string out;
    bool json = false;
    int64_t iterationsPerEpoch = 0; // schedule only
};

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
    ProgressPrinter printer(ProgressPrinter::chooseStyle(args.json), std::cout, [&trainer] { trainer.cancel(); });
    ProgressPrinter::installInterruptHandler();
    trainer.addObserver(&printer);
    const RunFinishedEvent result = trainer.run();
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
        "Exit code 0 finished, 3 cancelled (Ctrl-C; a checkpoint is saved), 4 failed (NaN/Inf).");
    addConfigOptions(*train, *trainArgs);
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
