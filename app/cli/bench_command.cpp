// dr2net-cli bench: one training step (forward, loss, backward) per execution mode and depth.
#include "app/cli/commands.h"
#include "app/cli/model_args.h"
#include "app/cli/text_table.h"

#include "core/autocast.h"
#include "core/device.h"
#include "core/host_runtime.h"
#include "core/scope_times.h"
#include "core/step_profile.h"
#include "training/network.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>

namespace dr2::cli {
namespace {

struct BenchArgs {
    ModelArgs model;
    std::string depths = "6,12,24";
    std::string images; ///< comma-separated image sides (empty: --image alone)
    std::string modes = "plain,stored,checkpointed,reversible,reversible-overlap";
    int repeats = 5;
    int warmup = 1;
    double alpha = 1.0;
    double beta = 0.1;
    std::string autocast = "fp32"; ///< bf16/fp16: every mode also runs under this autocast, beside its fp32 row
    bool json = false;
    bool profile = false; ///< one more step per row under ScopeTimes: where its time goes
};

/// A row kind of the bench: an execution mode, and for reversible whether the backward overlaps its recompute.
struct BenchMode {
    std::string name; ///< as --modes and the output spell it
    ExecMode exec = ExecMode::Plain;
    RecomputeOverlap overlap = RecomputeOverlap::Off;
};

/// The execution modes by their names, and "reversible-overlap": reversible with the recompute of branch i−1 on a
/// helper thread during the backward of branch i (RecomputeOverlap::On; "reversible" is the sequential backward).
BenchMode parseBenchMode(const std::string& name)
{
    if (name == "reversible-overlap")
        return { name, ExecMode::Reversible, RecomputeOverlap::On };
    try {
        return { name, parseExecMode(name), RecomputeOverlap::Off };
    } catch (const std::invalid_argument&) {
        throw std::invalid_argument(
            "mode '" + name + "': expected plain, stored, checkpointed, reversible or reversible-overlap");
    }
}

/// The precisions a bench runs each mode in: fp32 always (the reference), then --autocast when it is not fp32.
std::vector<Precision> benchPrecisions(const BenchArgs& args, const c10::Device& device)
{
    const Precision autocast = parsePrecision(args.autocast, "--autocast");
    checkPrecision(autocast, device, "--autocast");
    if (autocast == Precision::Float32)
        return { Precision::Float32 };
    return { Precision::Float32, autocast };
}

/// One measured step of `network` in `mode`, its forward and loss under `precision`; the backward runs after the
/// autocast scope has ended, as a training step does (the recompute re-enters the forward's state by itself).
/// Returns the profile and the number of segments the stacks ran with. With `scopes`, one more step runs
/// afterwards under ScopeTimes and its table lands there, with that step's time.
std::pair<StepProfile, int64_t> measureMode(NetworkImpl& network, ProbeSetup& setup, const BenchMode& benchMode,
    Precision precision, const BenchArgs& args, const c10::Device& device,
    std::pair<ScopeTimes::Table, double>* scopes = nullptr)
{
    const ExecMode mode = benchMode.exec;
    Backbone& backbone = network.backbone();
    backbone.setMode(mode);
    backbone.setRecomputeOverlap(benchMode.overlap);
    // Checkpointing with one segment would recompute the whole stack at once and save nothing: without
    // --segment-every it runs with the default √N-branch segments per stage (as the checkpointed strategy
    // does), and the other modes keep the stacks' own segments.
    const std::vector<Dr2StackImpl*> stacks = backbone.stacks();
    std::vector<std::vector<int64_t>> ownSegments;
    for (Dr2StackImpl* stack : stacks) {
        ownSegments.push_back(stack->options().segments);
        if (mode == ExecMode::Checkpointed && args.model.segmentEvery == 0)
            stack->setSegmentEvery(defaultCheckpointSegment(stack->size()));
    }
    auto loss = [&network, &setup, &device, precision] {
        AutocastScope autocast(device, precision);
        return network.task().probeLoss(network.forward(setup.input), setup.target);
    };
    const StepProfile profile = profileTrainingStep(network, loss, device, args.warmup, args.repeats);
    if (scopes) {
        // The measured steps have allocated the gradients; this one only adds to them.
        synchronize(device);
        ScopeTimes times;
        const auto start = std::chrono::steady_clock::now();
        loss().backward();
        synchronize(device);
        const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
        *scopes = { times.table(), seconds.count() };
    }
    int64_t segments = 0;
    for (size_t s = 0; s < stacks.size(); ++s) {
        segments += static_cast<int64_t>(stacks[s]->segmentLengths().size());
        stacks[s]->setSegments(ownSegments[s]);
    }
    return { profile, segments };
}

/// Adds `key`_vs_`suffix` ratios of peak memory and median time against a reference row.
void addRatios(nlohmann::json& row, const nlohmann::json& reference, const std::string& suffix)
{
    row["peak_vs_" + suffix]
        = row["peak_above_held_bytes"].get<double>() / reference["peak_above_held_bytes"].get<double>();
    row["time_vs_" + suffix] = row["median_step_s"].get<double>() / reference["median_step_s"].get<double>();
}

template <typename T, typename Parse>
std::vector<T> splitList(const std::string& text, const std::string& what, Parse parse)
{
    std::vector<T> values;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        try {
            values.push_back(parse(item));
        } catch (const std::invalid_argument& error) {
            throw std::invalid_argument(what + " '" + text + "': " + error.what());
        }
    }
    if (values.empty())
        throw std::invalid_argument(what + ": empty list");
    return values;
}

/// A profiled step as JSON rows: every dr2:: scope and the GEMMs (aten::mm, addmm, bmm: where a transformer step
/// spends most of its time) per thread, with their share of the step.
nlohmann::json profileRows(const ScopeTimes::Table& table, double stepSeconds)
{
    std::map<std::pair<std::string, bool>, ScopeTimes::Total> kept;
    for (const auto& [key, total] : table) {
        const auto& [name, caller] = key;
        const bool gemm = name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm";
        if (name.rfind("dr2::", 0) != 0 && !gemm)
            continue;
        ScopeTimes::Total& into = kept[{ gemm ? "GEMM (aten::mm, addmm, bmm)" : name, caller }];
        into.calls += total.calls;
        into.seconds += total.seconds;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [key, total] : kept)
        rows.push_back({ { "scope", key.first }, { "thread", key.second ? "caller" : "helper" },
            { "calls", total.calls }, { "seconds", total.seconds },
            { "share_of_step", stepSeconds > 0.0 ? total.seconds / stepSeconds : 0.0 } });
    return rows;
}

int64_t parsePositive(const std::string& item)
{
    size_t used = 0;
    const long long value = std::stoll(item, &used);
    if (used != item.size() || value <= 0)
        throw std::invalid_argument("'" + item + "' is not a positive integer");
    return value;
}

void runBench(const BenchArgs& args)
{
    const c10::Device device = setUpRuntime(args.model);
    const auto depths = splitList<int64_t>(args.depths, "--depths", parsePositive);
    const auto modes = splitList<BenchMode>(args.modes, "--modes", parseBenchMode);
    const std::vector<Precision> precisions = benchPrecisions(args, device);
    if (args.repeats <= 0)
        throw std::invalid_argument("--repeats: expected > 0, found " + std::to_string(args.repeats));

    if (!args.json)
        std::cerr << "bench: " << describeDevice(device) << ", " << torch::get_num_threads()
                  << " intra-op threads; " << tuneHostAllocator().description << "\n";

    const std::vector<int64_t> images = args.images.empty()
        ? std::vector<int64_t> { args.model.imageSize }
        : splitList<int64_t>(args.images, "--images", parsePositive);

    std::vector<nlohmann::json> rows;
    // (image, depth, precision) → the plain row
    std::map<std::tuple<int64_t, int64_t, Precision>, nlohmann::json> plainAt;
    std::vector<std::pair<int64_t, int64_t>> points; // (image, depth), image-major: a resolution curve per depth
    for (int64_t image : images)
        for (int64_t depth : depths)
            points.emplace_back(image, depth);
    for (const auto& [image, depth] : points) {
        ModelArgs modelArgs = args.model;
        modelArgs.depth = depth;
        modelArgs.imageSize = image;
        ProbeSetup setup = makeProbeSetup(probeSourceFrom(modelArgs, device), args.model.batch, args.model.seed);
        NetworkImpl& network = *setup.network;
        Backbone& backbone = network.backbone();
        backbone.setCoefficients(args.alpha, args.beta);
        const BackboneDescription description = backbone.describe();
        int64_t tokens = 0;
        {
            // Tokens per sample of the first stage: every position between the batch and the channels ([B, N, C]
            // for ViT, [B, H, W, C] or [B, T, H, W, C] for Swin).
            torch::NoGradGuard noGrad;
            const BackboneOutput features = backbone.forwardFeatures(setup.input.narrow(0, 0, 1));
            if (!features.stages.empty() && features.stages.front().dim() >= 3) {
                const torch::Tensor& first = features.stages.front();
                tokens = first.numel() / first.size(0) / first.size(-1);
            }
        }

        for (const BenchMode& mode : modes) {
            nlohmann::json fp32Row;
            for (Precision precision : precisions) {
                if (!args.json)
                    std::cerr << "bench: " << backbone.inputShape().height << "², depth " << depth << ", "
                              << mode.name << ", " << toString(precision) << " ..." << std::endl;
                std::pair<ScopeTimes::Table, double> scopes;
                const auto [profile, segments]
                    = measureMode(network, setup, mode, precision, args, device, args.profile ? &scopes : nullptr);
                nlohmann::json row = {
                    { "model", args.model.model },
                    { "task", args.model.task },
                    { "depth", depth },
                    { "family", description.family },
                    { "branches", backbone.branchCount() },
                    { "stages", description.stages.size() },
                    { "mode", mode.name },
                    { "recompute_overlap", backbone.stacks().front()->overlapsBackward(device) },
                    { "precision", toString(precision) },
                    { "batch", args.model.batch },
                    { "image", backbone.inputShape().height },
                    { "tokens", tokens },
                    { "alpha", args.alpha },
                    { "beta", args.beta },
                    { "segments", segments },
                    { "device", device.str() },
                    { "threads", torch::get_num_threads() },
                    { "repeats", args.repeats },
                    { "median_step_s", profile.medianSeconds },
                    { "min_step_s", profile.minSeconds },
                    { "held_bytes", profile.heldBytes },
                    { "peak_above_held_bytes", profile.peakAboveHeldBytes },
                };
                if (args.profile) {
                    row["profile_step_s"] = scopes.second;
                    row["profile"] = profileRows(scopes.first, scopes.second);
                }
                // Ratios against plain at the same precision, and (for autocast rows) against this mode in fp32.
                const std::tuple<int64_t, int64_t, Precision> point { image, depth, precision };
                if (mode.exec == ExecMode::Plain)
                    plainAt[point] = row;
                else if (auto it = plainAt.find(point); it != plainAt.end())
                    addRatios(row, it->second, "plain");
                if (precision == Precision::Float32)
                    fp32Row = row;
                else
                    addRatios(row, fp32Row, "fp32");
                if (args.json)
                    std::cout << row.dump() << std::endl;
                rows.push_back(row);
            }
        }
    }
    if (args.json)
        return;
    TextTable table({ "image", "depth", "mode", "precision", "median step", "held", "peak above held",
        "peak vs plain", "time vs plain", "peak vs fp32", "time vs fp32" });
    for (const auto& row : rows) {
        table.addRow({
            std::to_string(row["image"].get<int64_t>()) + "²",
            std::to_string(row["depth"].get<int64_t>()),
            row["mode"].get<std::string>(),
            row["precision"].get<std::string>(),
            formatNumber(row["median_step_s"].get<double>(), 3) + " s",
            formatBytes(row["held_bytes"].get<int64_t>()),
            formatBytes(row["peak_above_held_bytes"].get<int64_t>()),
            row.contains("peak_vs_plain") ? formatNumber(100.0 * row["peak_vs_plain"].get<double>(), 3) + " %" : "",
            row.contains("time_vs_plain") ? formatNumber(row["time_vs_plain"].get<double>(), 3) + "x" : "",
            row.contains("peak_vs_fp32") ? formatNumber(100.0 * row["peak_vs_fp32"].get<double>(), 3) + " %" : "",
            row.contains("time_vs_fp32") ? formatNumber(row["time_vs_fp32"].get<double>(), 3) + "x" : "",
        });
    }
    std::cout << args.model.model << " " << args.model.task << ", batch " << args.model.batch << ", first image "
              << rows.front()["image"] << "², " << rows.front()["tokens"] << " tokens, alpha " << args.alpha
              << ", beta " << args.beta << ", " << args.repeats << " repeats, " << rows.front()["threads"]
              << " threads\n";
    table.print(std::cout);
    if (!args.profile)
        return;
    TextTable scopes({ "image", "depth", "mode", "precision", "thread", "scope", "calls", "total", "of step" });
    for (const auto& row : rows) {
        for (const auto& scope : row["profile"]) {
            scopes.addRow({ std::to_string(row["image"].get<int64_t>()) + "²", std::to_string(row["depth"].get<int64_t>()),
                row["mode"].get<std::string>(), row["precision"].get<std::string>(), scope["thread"].get<std::string>(),
                scope["scope"].get<std::string>(), std::to_string(scope["calls"].get<int64_t>()),
                formatNumber(scope["seconds"].get<double>(), 3) + " s",
                formatNumber(100.0 * scope["share_of_step"].get<double>(), 3) + " %" });
        }
    }
    std::cout << "\nprofile: one more step per row under LibTorch's RecordFunction (inclusive wall times; nested "
                 "scopes each count their whole time; helper: Dr2Stack's second thread or an intra-op worker; on CUDA the "
                 "host time of asynchronous kernels; of step: of that step's "
                 "wall time, so the two threads' shares can add up to more than 100 %)\n";
    scopes.print(std::cout);
}

} // namespace

void addBenchCommand(CLI::App& app)
{
    auto args = std::make_shared<BenchArgs>();
    args->model.batch = 8;
    auto* command = app.add_subcommand("bench",
        "Time and tensor memory of one training step (forward, loss, backward) per mode and depth. "
        "Memory is the peak of live tensor bytes above what is held before the step (parameters, gradients, batch).");
    addModelOptions(*command, args->model);
    command->add_option("--images", args->images,
        "comma-separated image sides to sweep (a memory-vs-resolution curve; default: --image alone)");
    command->add_option("--depths", args->depths, "comma-separated backbone depths (ViT layers; Swin blocks over all stages, scaled in the preset's proportions)")
        ->capture_default_str();
    command->add_option("--modes", args->modes, "comma-separated: plain, stored, checkpointed (without --segment-every: segments of about √N branches per "
                          "stage), reversible, reversible-overlap (reversible, the recompute of branch i-1 and the weight "
                          "gradients on a second thread during the backward of branch i; CPU)")->capture_default_str();
    command->add_option("--repeats", args->repeats, "measured steps per row (median reported)")->capture_default_str();
    command->add_option("--warmup", args->warmup, "unmeasured steps before measuring")->capture_default_str();
    command->add_option("--alpha", args->alpha, "alpha for stored and reversible modes (plain and checkpointed ignore it)")->capture_default_str();
    command->add_option("--beta", args->beta, "beta for stored and reversible modes (plain and checkpointed ignore it)")->capture_default_str();
    command->add_option("--autocast", args->autocast,
        "bf16 or fp16 (CUDA): also run every mode under this autocast, with its memory and time against fp32")
        ->capture_default_str();
    command->add_flag("--json", args->json, "one JSON object per row on stdout");
    command->add_flag("--profile", args->profile,
        "after each row, one more step timed per scope (the dr2:: scopes of the reversible backward and the GEMMs, "
        "per thread), printed as a second table (JSON: each row's \"profile\")");
    command->callback([args] { runBench(*args); });
}

} // namespace dr2::cli
