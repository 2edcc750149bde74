// dr2net-cli gradcheck and heatmap: gradient error of reversible backprop against stored activations.
#include "app/cli/commands.h"
#include "app/cli/model_args.h"
#include "app/cli/text_table.h"

#include "core/grad_probe.h"
#include "core/vit.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

namespace dr2::cli {
namespace {

struct ProbeArgs {
    ModelArgs model;
    std::string dtype = "float32";
    bool float64Reference = false;
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

/// The model, its batch and the probe target built from the arguments. Owns everything the closure uses.
struct ProbeSetup {
    ViTOptions options;
    ViT model { nullptr };
    torch::Tensor images;
    torch::Tensor labels;
    GradProbeTarget target;
};

std::unique_ptr<ProbeSetup> makeSetup(const ProbeArgs& args)
{
    const c10::Device device = setUpRuntime(args.model);
    auto setup = std::make_unique<ProbeSetup>();
    setup->options = vitOptionsFrom(args.model);
    setup->model = ViT(setup->options);
    if (args.model.segmentEvery > 0)
        setup->model->stack().setSegmentEvery(args.model.segmentEvery);
    if (args.dtype == "float64")
        setup->model->to(torch::kFloat64);
    else if (args.dtype != "float32")
        throw std::invalid_argument("--dtype '" + args.dtype + "': expected float32 or float64");
    setup->model->to(device);
    setup->model->train();
    std::tie(setup->images, setup->labels) = randomBatch(setup->options, args.model.batch, device);

    ProbeSetup* raw = setup.get();
    setup->target.model = setup->model.ptr().get();
    setup->target.stack = &setup->model->stack();
    setup->target.loss = [raw](c10::ScalarType dtype) {
        return torch::nn::functional::cross_entropy(raw->model->forward(raw->images.to(dtype)), raw->labels);
    };
    return setup;
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
    }
    return json;
}

GradProbeOptions probeOptions(const ProbeArgs& args)
{
    GradProbeOptions options;
    options.float64Reference = args.float64Reference;
    options.seed = args.model.seed;
    return options;
}

void runGradcheck(const ProbeArgs& args)
{
    auto setup = makeSetup(args);
    const GradErrorReport report = probeGradientError(setup->target, args.alpha, args.beta, probeOptions(args));
    if (args.json) {
        nlohmann::json json = toJson(report, args.perBranch);
        json["model"] = args.model.model;
        json["depth"] = setup->options.depth;
        json["dtype"] = args.dtype;
        json["reference"] = args.float64Reference ? "float64" : args.dtype;
        std::cout << json.dump() << std::endl;
        return;
    }
    std::cout << args.model.model << ", depth " << setup->options.depth << " (" << 2 * setup->options.depth
              << " branches), " << args.dtype << ", reference " << (args.float64Reference ? "float64" : args.dtype)
              << ", alpha " << args.alpha << ", beta " << args.beta << (report.finite ? "" : "  [NON-FINITE]") << "\n";
    TextTable table({ "group", "mse", "max abs", "rel L2" });
    auto add = [&](const std::string& name, const GradError& e) {
        table.addRow({ name, formatNumber(e.mse, 3), formatNumber(e.maxAbs, 3), formatNumber(e.relL2, 3) });
    };
    add("all parameters", report.overall);
    add("outside stack", report.outsideStack);
    if (args.perBranch)
        for (size_t i = 0; i < report.perBranch.size(); ++i)
            add("branch " + std::to_string(i) + (i % 2 ? " (mlp)" : " (attn)"), report.perBranch[i]);
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
    // Open the output before the sweep so a bad path fails in seconds, not after minutes.
    std::ofstream csv;
    if (!args.out.empty()) {
        csv.open(args.out + ".partial");
        if (!csv)
            throw std::runtime_error("--out '" + args.out + "': cannot write " + args.out + ".partial");
    }
    auto setup = makeSetup(args);
    const auto reports = sweepGradientError(setup->target, grid, probeOptions(args), [&](size_t done, size_t total) {
        if (!args.json)
            std::cerr << "\rheatmap: " << done << "/" << total << std::flush;
        return true;
    });
    if (!args.json)
        std::cerr << "\n";

    if (csv.is_open()) {
        csv.precision(17);
        csv << "alpha,beta,mse,max_abs,rel_l2,finite\n";
        for (const auto& r : reports)
            csv << r.alpha << ',' << r.beta << ',' << r.overall.mse << ',' << r.overall.maxAbs << ','
                << r.overall.relL2 << ',' << (r.finite ? 1 : 0) << '\n';
        csv.close();
        if (!csv || std::rename((args.out + ".partial").c_str(), args.out.c_str()) != 0)
            throw std::runtime_error("--out '" + args.out + "': writing failed (disk full or not writable)");
    }
    if (args.json) {
        for (const auto& r : reports)
            std::cout << toJson(r, args.perBranch).dump() << std::endl;
        return;
    }
    std::cout << "log10(" << args.metric << ") of parameter gradients, reversible vs stored; rows alpha, columns beta\n";
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
    command->callback([args] { runHeatmap(*args); });
}

} // namespace dr2::cli
