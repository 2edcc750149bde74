// dr2net-cli plan: the predicted tensor memory of a config's training step per strategy, without training.
#include "app/cli/commands.h"
#include "app/cli/text_table.h"

#include "training/memory_planner.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

namespace dr2::cli {
namespace {

struct PlanArgs {
    std::string config;
    std::vector<std::string> overrides;
    std::string budget;
    std::string strategies;
    bool verify = false;
    bool json = false;
};

nlohmann::json toJson(const StepMemory& m)
{
    return { { "parameter_bytes", m.parameterBytes }, { "gradient_bytes", m.gradientBytes },
        { "optimizer_bytes", m.optimizerBytes }, { "batch_bytes", m.batchBytes }, { "held_bytes", m.heldBytes },
        { "step_bytes", m.stepBytes }, { "peak_bytes", m.peakBytes() } };
}

std::string relativeError(int64_t predicted, int64_t measured)
{
    if (measured <= 0)
        return "";
    const double error = static_cast<double>(predicted - measured) / static_cast<double>(measured);
    return (error >= 0 ? "+" : "") + formatNumber(100.0 * error, 3) + " %";
}

void runPlan(const PlanArgs& args)
{
    const TrainConfig planned = TrainConfig::load(args.config, args.overrides);
    PlanOptions options;
    if (!args.budget.empty())
        options.budgetBytes = parseByteSize(args.budget);
    if (!args.strategies.empty()) {
        std::stringstream in(args.strategies);
        for (std::string name; std::getline(in, name, ',');)
            options.strategies.push_back(parseStrategy(name));
    }
    if (!args.json)
        options.progress = [](const std::string& line) { std::cerr << line << std::endl; };
    const MemoryPlan plan = planMemory(planned, options);

    std::vector<std::optional<StepMemory>> measured(plan.strategies.size());
    if (args.verify)
        for (size_t i = 0; i < plan.strategies.size(); ++i) {
            TrainConfig as = planned;
            as.strategy = plan.strategies[i].strategy;
            if (!args.json)
                std::cerr << "plan: measuring " << toString(as.strategy) << " at the config's size" << std::endl;
            measured[i] = measureTrainingStep(as);
        }

    if (args.json) {
        nlohmann::json out { { "model", plan.model }, { "batch", plan.batch }, { "image", plan.imageSize },
            { "frames", plan.frames }, { "budget_bytes", plan.budgetBytes }, { "budget_source", plan.budgetSource },
            { "calibration_steps", plan.calibrationSteps }, { "calibration_images", plan.calibrationImageSizes },
            { "calibration_batches", plan.calibrationBatches }, { "notes", plan.notes } };
        for (size_t i = 0; i < plan.strategies.size(); ++i) {
            const StrategyPlan& s = plan.strategies[i];
            nlohmann::json row { { "strategy", toString(s.strategy) }, { "predicted", toJson(s.atConfig) },
                { "fits", s.fits }, { "largest_batch", s.largestBatch }, { "largest_image", s.largestImageSize },
                { "calibration_error", s.calibrationError } };
            if (measured[i])
                row["measured"] = toJson(*measured[i]);
            out["strategies"].push_back(row);
        }
        std::cout << out.dump() << std::endl;
        return;
    }
    std::cout << plan.model << "\nbatch " << plan.batch << ", image " << plan.imageSize << "²"
              << (plan.frames > 0 ? ", " + std::to_string(plan.frames) + " frames" : std::string()) << ", budget "
              << formatBytes(plan.budgetBytes) << " (" << plan.budgetSource << ")\n";
    std::vector<std::string> header { "strategy", "held", "step peak", "total", "fits", "largest batch", "largest image" };
    if (args.verify)
        header.insert(header.end(), { "measured step", "error", "measured total", "error" });
    TextTable table(header);
    for (size_t i = 0; i < plan.strategies.size(); ++i) {
        const StrategyPlan& s = plan.strategies[i];
        std::vector<std::string> row { toString(s.strategy), formatBytes(s.atConfig.heldBytes),
            formatBytes(s.atConfig.stepBytes), formatBytes(s.atConfig.peakBytes()), s.fits ? "yes" : "no",
            std::to_string(s.largestBatch), s.largestImageSize > 0 ? std::to_string(s.largestImageSize) + "²" : "none" };
        if (measured[i]) {
            row.insert(row.end(), { formatBytes(measured[i]->stepBytes), relativeError(s.atConfig.stepBytes, measured[i]->stepBytes),
                formatBytes(measured[i]->peakBytes()), relativeError(s.atConfig.peakBytes(), measured[i]->peakBytes()) });
        }
        table.addRow(row);
    }
    table.print(std::cout);
    std::cout << "held: parameters, gradients, AdamW moments and one batch; step peak: activations and temporaries above "
                 "that (fitted to "
              << plan.calibrationSteps << " measured steps at small sizes)\n";
    for (const auto& note : plan.notes)
        std::cout << "note: " << note << "\n";
}

} // namespace

void addPlanCommand(CLI::App& app)
{
    auto args = std::make_shared<PlanArgs>();
    auto* command = app.add_subcommand("plan",
        "Predicted peak tensor memory of a training step for each strategy at the config's model, batch, image size "
        "and frames, without training; and the largest batch and image size that fit the budget.");
    command->add_option("--config", args->config, "JSON config file (default: the built-in defaults)");
    command->add_option("--set", args->overrides, "override a config field: key.path=value (repeatable)");
    command->add_option("--budget", args->budget, "memory budget, e.g. 8GiB (default: the device's memory)");
    command->add_option("--strategies", args->strategies, "comma-separated strategies (default: all)");
    command->add_flag("--verify", args->verify,
        "also run one real training step per strategy at the config's size and print the prediction's error");
    command->add_flag("--json", args->json, "one JSON object on stdout");
    command->callback([args] { runPlan(*args); });
}

} // namespace dr2::cli
