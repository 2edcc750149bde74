// dr2net-cli forward: runs a checkpoint's backbone and head as a Dr²Net on a tensor from a safetensors file.
#include "app/cli/checkpoint_args.h"
#include "app/cli/commands.h"

#include "core/safetensors.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <iostream>
#include <memory>
#include <sstream>

namespace dr2::cli {
namespace {

struct ForwardArgs {
    CheckpointArgs checkpoint;
    std::string input;
    std::string out;
    double alpha = 1.0;
    double beta = 0.0;
    std::string firstSkip = "scaled";
    std::string mode = "stored";
};

std::string number(double value)
{
    std::ostringstream text;
    text.precision(17);
    text << value;
    return text.str();
}

void runForward(const ForwardArgs& args)
{
    BackboneLoadOptions options = loadOptionsFrom(args.checkpoint);
    options.stack.alpha = args.alpha;
    options.stack.beta = args.beta;
    options.stack.firstSkip = parseFirstSkip(args.firstSkip);
    options.stack.mode = parseExecMode(args.mode);
    if (options.stack.mode == ExecMode::Reversible && args.beta == 0.0)
        throw std::invalid_argument("--beta 0 with --mode reversible: β must be non-zero to reconstruct activations");
    // The backbone comes without its classifier; the classification head rebuilt from the file's tensors
    // reproduces it (or replaces it for another --num-classes).
    CheckpointNetwork loaded = loadCheckpointNetwork(readCheckpoint(args.checkpoint.path), args.checkpoint, options);
    const BackboneLoadReport& report = loaded.report;
    printLoadWarnings(report);

    const SafetensorsContents inputs = readSafetensors(args.input);
    const torch::Tensor* input = findTensor(inputs.tensors, "input");
    if (!input)
        throw std::invalid_argument("input file " + args.input + ": expected a tensor named 'input', found "
            + std::to_string(inputs.tensors.size()) + " other tensors");
    torch::Tensor output;
    {
        torch::NoGradGuard noGrad;
        loaded.backbone->eval();
        const torch::Tensor x = input->to(torch::kFloat32);
        // A file without a classifier (and no --num-classes) gives the backbone's pooled features.
        if (loaded.network.is_empty()) {
            output = loaded.backbone->forwardFeatures(x).pooled;
        } else {
            loaded.network->eval();
            output = loaded.network->forward(x);
        }
    }
    writeSafetensors(args.out, { { "output", output } },
        { { "checkpoint", args.checkpoint.path }, { "mode", args.mode }, { "alpha", number(args.alpha) },
            { "beta", number(args.beta) }, { "first_skip", args.firstSkip } });
    std::cout << "wrote " << args.out << ": output " << c10::str(output.sizes()) << " (" << toString(report.format)
              << ", " << report.naming << " names, mode " << args.mode << ", alpha " << args.alpha << ", beta "
              << args.beta << ")" << std::endl;
}

} // namespace

void addForwardCommand(CLI::App& app)
{
    auto args = std::make_shared<ForwardArgs>();
    CLI::App* command = app.add_subcommand("forward",
        "Run a checkpoint as a Dr²Net on the tensor 'input' of a safetensors file; write 'output'");
    addCheckpointOptions(*command, args->checkpoint);
    command->add_option("--input", args->input, "safetensors file with a tensor named 'input' ([B, C, H, W] or "
                                                "[B, C, T, H, W])")
        ->required();
    command->add_option("--out", args->out, "safetensors file to write 'output' to")->required();
    command->add_option("--alpha", args->alpha, "scale of the residual path")->capture_default_str();
    command->add_option("--beta", args->beta, "scale of the dual path")->capture_default_str();
    command->add_option("--first-skip", args->firstSkip, "y_0 = beta*x_0 (scaled) or x_0 (input)")
        ->check(CLI::IsMember({ "scaled", "input" }))
        ->capture_default_str();
    command->add_option("--mode", args->mode, "plain, stored, reversible or checkpointed")
        ->check(CLI::IsMember({ "plain", "stored", "reversible" }))
        ->capture_default_str();
    command->callback([args] { runForward(*args); });
}

} // namespace dr2::cli
