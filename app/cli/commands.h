#pragma once

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

} // namespace dr2::cli
