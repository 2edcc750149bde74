// dr2net-cli gradcheck and heatmap: gradient error of reversible backprop against stored activations.
#include "app/cli/commands.h"
#include "app/cli/model_args.h"
#include "app/cli/text_table.h"

#include "app/recording/heatmap_sweep.h"
#include "core/autocast.h"
#include "core/grad_probe.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct ProbeArgs {
    ModelArgs model;
    std::string dtype = "float32";
    bool float64Reference = false;
    std::string autocast = "fp32"; ///< gradcheck: both passes under this autocast (bf16; fp16 on CUDA)
    bool json = false;
    bool perBranch = false;
    // gradcheck
    double alpha = 1.0;
    double beta = 0.1;
    // heatmap
    std::string alphas = "0:1:0.1";
    std::string betas = "0.1:1:0.1";
    std::string out;
    std::string metric = "mse";
};

c10::ScalarType dtypeFrom(const ProbeArgs& args)
{
    if (args.dtype == "float64")
        return torch::kFloat64;
    if (args.dtype != "float32")
        throw std::invalid_argument("--dtype '" + args.dtype + "': expected float32 or float64");
    return torch::kFloat32;
}

ProbeSetup makeSetup(const ProbeArgs& args)
{
    const c10::Device device = setUpRuntime(args.model);
    ProbeNetworkSource source = probeSourceFrom(args.model, device);
    source.dtype = dtypeFrom(args);
    return makeProbeSetup(source, args.model.batch, args.model.seed);
}

/// What kind of branch a stack holds at `index`, from its module's type ("AttentionBranchImpl" → "attention").
std::string branchKind(const Dr2StackImpl& stack, int64_t index)
{
    std::string name = stack.branchModule(index)->name();
    if (const size_t colon = name.rfind("::"); colon != std::string::npos)
        name = name.substr(colon + 2);
    for (const std::string suffix : { "Impl", "Branch" })
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            name.resize(name.size() - suffix.size());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    return name;
}

/// One label per entry of GradErrorReport::perBranch: "branch 3 (mlp)", or with several stages "stage 2 branch 3
/// (mlp)" (branches counted within their stage).
std::vector<std::string> branchLabels(const std::vector<Dr2StackImpl*>& stacks)
{
    std::vector<std::string> labels;
    for (size_t s = 0; s < stacks.size(); ++s)
        for (int64_t i = 0; i < stacks[s]->size(); ++i)
            labels.push_back((stacks.size() > 1 ? "stage " + std::to_string(s + 1) + " " : std::string()) + "branch "
                + std::to_string(i) + " (" + branchKind(*stacks[s], i) + ")");
    return labels;
}

nlohmann::json toJson(const GradError& error)
{
    return { { "mse", error.mse }, { "max_abs", error.maxAbs }, { "rel_l2", error.relL2 }, { "count", error.count } };
}

nlohmann::json toJson(const GradErrorReport& report, bool perBranch)
{
    nlohmann::json json = {
        { "alpha", report.alpha },
        { "beta", report.beta },
        { "finite", report.finite },
        { "overall", toJson(report.overall) },
        { "outside_stack", toJson(report.outsideStack) },
    };
    if (perBranch) {
        json["per_branch"] = nlohmann::json::array();
        for (const auto& branch : report.perBranch)
            json["per_branch"].push_back(toJson(branch));
        json["branches_per_stage"] = report.branchesPerStage;
    }
    return json;
}

GradProbeOptions probeOptions(const ProbeArgs& args)
{
    GradProbeOptions options;
    options.float64Reference = args.float64Reference;
    options.precision = parsePrecision(args.autocast, "--autocast");
    options.seed = args.model.seed;
    return options;
}

void runGradcheck(const ProbeArgs& args)
{
    ProbeSetup setup = makeSetup(args);
    const GradProbeOptions options = probeOptions(args);
    checkPrecision(options.precision, setup.input.device(), "--autocast");
    const GradErrorReport report = probeGradientError(setup.probe, args.alpha, args.beta, options);
    Backbone& backbone = setup.network->backbone();
    const BackboneDescription description = backbone.describe();
    if (args.json) {
        nlohmann::json json = toJson(report, args.perBranch);
        json["model"] = args.model.model;
        json["family"] = description.family;
        for (const auto& [key, value] : description.details) {
            // The family's depth when it is one number (a transformer's layers), as before families had details.
            const nlohmann::json depth = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
            if (key == "depth" && depth.is_number_integer())
                json["depth"] = depth;
        }
        json["branches"] = backbone.branchCount();
        json["dtype"] = args.dtype;
        json["reference"] = args.float64Reference ? "float64" : args.dtype;
        json["autocast"] = args.autocast;
        std::cout << json.dump() << std::endl;
        return;
    }
    std::cout << args.model.model << ", " << description.summary << ", " << args.dtype << ", reference "
              << (args.float64Reference ? "float64" : args.dtype) << ", autocast " << args.autocast << ", alpha " << args.alpha << ", beta " << args.beta
              << (report.finite ? "" : "  [NON-FINITE]") << "\n";
    TextTable table({ "group", "mse", "max abs", "rel L2" });
    auto add = [&](const std::string& name, const GradError& e) {
        table.addRow({ name, formatNumber(e.mse, 3), formatNumber(e.maxAbs, 3), formatNumber(e.relL2, 3) });
    };
    add("all parameters", report.overall);
    add("outside stack", report.outsideStack);
    if (args.perBranch) {
        const std::vector<std::string> labels = branchLabels(setup.probe.stacks);
        for (size_t i = 0; i < report.perBranch.size(); ++i)
            add(i < labels.size() ? labels[i] : "branch " + std::to_string(i), report.perBranch[i]);
    }
    table.print(std::cout);
}

double metricOf(const GradErrorReport& report, const std::string& metric)
{
    if (metric == "mse")
        return report.overall.mse;
    if (metric == "max_abs")
        return report.overall.maxAbs;
    return report.overall.relL2;
}

void runHeatmap(const ProbeArgs& args)
{
    Grid grid { parseRange(args.alphas, "--alphas"), parseRange(args.betas, "--betas") };
    for (double beta : grid.betas)
        if (beta == 0.0)
            throw std::invalid_argument("--betas '" + args.betas + "': β = 0 cannot be reversed; start above 0");
    HeatmapSweepRequest request;
    const c10::Device device = setUpRuntime(args.model);
    request.network = probeSourceFrom(args.model, device);
    request.network.dtype = dtypeFrom(args);
    request.batch = args.model.batch;
    request.seed = args.model.seed;
    request.grid = grid;
    request.float64Reference = args.float64Reference;
    request.precision = parsePrecision(args.autocast, "--autocast");
    checkPrecision(request.precision, device, "--autocast");
    request.csvPath = args.out;
    // The helper opens --out before the sweep, so a bad path fails in seconds, not after minutes.
    const HeatmapSweepResult result = runHeatmapSweep(request, [&](size_t done, size_t total) {
        if (!args.json)
            std::cerr << "\rheatmap: " << done << "/" << total << std::flush;
    });
    if (!args.json)
        std::cerr << "\n";
    const std::vector<GradErrorReport>& reports = result.reports;

    if (args.json) {
        for (const auto& r : reports)
            std::cout << toJson(r, args.perBranch).dump() << std::endl;
        return;
    }
    std::cout << args.model.model << ", " << result.modelSummary << "\n";
    if (result.branchesPerStage.size() > 1) {
        std::cout << "stages:";
        for (size_t s = 0; s < result.branchesPerStage.size(); ++s)
            std::cout << (s ? ", " : " ") << result.branchesPerStage[s] << " branches";
        std::cout << "\n";
    }
    std::cout << "log10(" << args.metric << ") of parameter gradients, reversible vs stored"
              << (request.precision == Precision::Float32 ? "" : " (both under " + args.autocast + " autocast)")
              << "; rows alpha, columns beta\n";
    std::vector<std::string> header { "alpha\\beta" };
    for (double beta : grid.betas)
        header.push_back(formatNumber(beta, 3));
    TextTable table(header);
    size_t k = 0;
    for (double alpha : grid.alphas) {
        std::vector<std::string> row { formatNumber(alpha, 3) };
        for (size_t b = 0; b < grid.betas.size(); ++b, ++k) {
            const double value = metricOf(reports[k], args.metric);
            row.push_back(!reports[k].finite ? "nan" : value > 0 ? formatNumber(std::log10(value), 3) : "-inf");
        }
        table.addRow(row);
    }
    table.print(std::cout);
}

void addProbeOptions(CLI::App& command, ProbeArgs& args)
{
    addModelOptions(command, args.model);
    command.add_option("--dtype", args.dtype, "float32 or float64 for model and both passes")
        ->check(CLI::IsMember({ "float32", "float64" }))
        ->capture_default_str();
    command.add_flag("--float64-reference", args.float64Reference, "compute the stored reference in float64");
    command.add_flag("--per-branch", args.perBranch, "also report the error of each branch's parameters");
    command.add_flag("--json", args.json, "JSON on stdout");
}

} // namespace

void addGradcheckCommand(CLI::App& app)
{
    auto args = std::make_shared<ProbeArgs>();
    auto* command = app.add_subcommand("gradcheck",
        "Compare parameter gradients of reversible backprop with stored activations at one alpha, beta.");
    addProbeOptions(*command, *args);
    command->add_option("--alpha", args->alpha, "alpha")->required();
    command->add_option("--beta", args->beta, "beta (non-zero)")->required();
    command->add_option("--autocast", args->autocast,
        "fp32, bf16 or fp16 (CUDA): run both passes' forward under this autocast (reversible vs stored, same autocast)")
        ->check(CLI::IsMember({ "fp32", "bf16", "fp16" }))
        ->capture_default_str();
    command->callback([args] { runGradcheck(*args); });
}

void addHeatmapCommand(CLI::App& app)
{
    auto args = std::make_shared<ProbeArgs>();
    auto* command = app.add_subcommand("heatmap",
        "Gradient error over an alpha x beta grid (the paper's Fig. 3), as a log10 table or CSV.");
    addProbeOptions(*command, *args);
    command->add_option("--alphas", args->alphas, "start:stop:step or a,b,c")->capture_default_str();
    command->add_option("--betas", args->betas, "start:stop:step or a,b,c (all non-zero)")->capture_default_str();
    command->add_option("--metric", args->metric, "shown in the table: mse, max_abs or rel_l2")
        ->check(CLI::IsMember({ "mse", "max_abs", "rel_l2" }))
        ->capture_default_str();
    command->add_option("--out", args->out, "write the grid as CSV (alpha,beta,mse,max_abs,rel_l2,finite)");
    command->add_option("--autocast", args->autocast,
        "fp32, bf16 or fp16 (CUDA): both passes' forward under this autocast, the map of a mixed-precision run beside "
        "the paper's float32 one");
    command->callback([args] { runHeatmap(*args); });
}

} // namespace dr2::cli
