#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace dr2::cli {

/// Adds `bench` (time and tensor memory of a training step per mode and depth).
void addBenchCommand(CLI::App& app);
/// Adds `gradcheck` (reversible against stored gradients at one α, β).
void addGradcheckCommand(CLI::App& app);
/// Adds `heatmap` (the gradient-error grid of the paper's Fig. 3).
void addHeatmapCommand(CLI::App& app);
/// Adds `inspect` (a checkpoint's format, naming, inferred architecture and metadata).
void addInspectCommand(CLI::App& app);
/// Adds `runs` (list, show, compare, delete, export-csv over the run database).
void addRunsCommand(CLI::App& app);
/// Adds `forward` (a checkpoint run as a Dr²Net on a safetensors input; checks numbers against PyTorch).
void addForwardCommand(CLI::App& app);

/// Adds `predict` (a segmentation checkpoint's masks for a folder of images).
void addPredictCommand(CLI::App& app);
/// Adds `plan` (predicted step memory per strategy, and what fits a budget).
void addPlanCommand(CLI::App& app);

/// Adds `demo` (the whole pipeline on Fashion-MNIST: pretrain, heatmap, three finetunes, export, a table).
void addDemoCommand(CLI::App& app);

/// Adds `export` (a recorded run's final weights as safetensors with the metadata that rebuilds the network).
void addExportCommand(CLI::App& app);

/// Adds `study` (a study spec's runs in child processes, resumable, then its tables and the paper's claims); the
/// outcome is stored in `exitStatus`.
void addStudyCommand(CLI::App& app, int& exitStatus);

/// Adds `pretrain`, `train` and `schedule`; a run's outcome is stored in `exitStatus`.
void addTrainCommands(CLI::App& app, int& exitStatus, const std::vector<std::string>& argv);

} // namespace dr2::cli
