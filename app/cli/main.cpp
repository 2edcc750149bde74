// dr2net-cli: the headless front end of the Dr²Net Workbench.
#include "app/cli/commands.h"

#include "core/device.h"
#include "core/host_runtime.h"
#include "core/memory_meter.h"
#include "core/version.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv)
try {
    // Freed tensor memory stays in the heap for the next step (before any thread or tensor exists).
    dr2::tuneHostAllocator();
    // Count tensor memory from the first allocation on, so parameters are part of what is "held".
    dr2::MemoryMeter::forDevice(c10::Device(c10::kCPU));

    CLI::App app { "Dr²Net Workbench, headless: memory-efficient finetuning with reversible dual-residual networks",
        "dr2net-cli" };
    app.require_subcommand(1);
    app.set_version_flag("--version",
        std::string("dr2net-cli ") + DR2_VERSION + " (git " + DR2_GIT_REVISION + "), LibTorch " + TORCH_VERSION + ", CUDA "
            + (dr2::cudaAvailable() ? "available" : "not available") + "\n");
    dr2::cli::addBenchCommand(app);
    dr2::cli::addPlanCommand(app);
    dr2::cli::addGradcheckCommand(app);
    dr2::cli::addHeatmapCommand(app);
    dr2::cli::addInspectCommand(app);
    dr2::cli::addForwardCommand(app);
    dr2::cli::addPredictCommand(app);
    dr2::cli::addRunsCommand(app);
    dr2::cli::addExportCommand(app);
    dr2::cli::addDemoCommand(app);
    int exitStatus = 0;
    // --nproc starts workers with this command line again (less --nproc).
    dr2::cli::addTrainCommands(app, exitStatus, std::vector<std::string>(argv, argv + argc));
    dr2::cli::addStudyCommand(app, exitStatus);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    } catch (const c10::Error& error) {
        std::cerr << "dr2net-cli: error: " << error.what_without_backtrace() << std::endl;
        return 1;
    } catch (const std::exception& error) {
        std::cerr << "dr2net-cli: error: " << error.what() << std::endl;
        return 1;
    }
    return exitStatus;
} catch (const std::exception& error) {
    // Setting up the commands and reporting a parse error (app.exit) can throw too.
    std::cerr << "dr2net-cli: error: " << error.what() << std::endl;
    return 1;
}
