#pragma once

#include "app/recording/heatmap_sweep.h"
#include "core/backbone_registry.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace dr2::cli {

/// Model and batch options shared by bench, gradcheck and heatmap.
struct ModelArgs {
    std::string model = "vit-ti";
    int64_t depth = 0; ///< 0: the preset's depth
    int64_t imageSize = 0; ///< 0: the preset's
    int64_t patchSize = 0;
    int64_t window = 0; ///< 0: the preset's (Swin)
    int64_t frames = 0; ///< 0: the preset's (video presets)
    int64_t heads = 0;
    int64_t numClasses = 10;
    std::string task = "classification"; ///< or "segmentation" (a dense head; a random class per pixel)
    int64_t batch = 2;
    double dropout = 0.0;
    double dropPath = 0.0;
    std::string firstSkip = "scaled";
    int64_t segmentEvery = 0; ///< 0: one reversible segment
    uint64_t seed = 0;
    int threads = 0; ///< 0: LibTorch's default
    std::string device = "cpu";
};

/// Registers --model, --depth, --image, ... on a subcommand.
void addModelOptions(CLI::App& command, ModelArgs& args);

/// Applies --threads and --seed, and returns the device (throws on an unavailable one).
c10::Device setUpRuntime(const ModelArgs& args);

/// The backbone the arguments describe: the preset (checked here, so an unknown one fails before any work) with
/// the overrides; the backbone's family validates the rest when it is built.
BackboneSpec backboneSpecFrom(const ModelArgs& args);

/// The probe network the arguments describe on `device`: the backbone of backboneSpecFrom() with a fresh
/// classification head of --classes classes, built from --seed, cut into --segment-every segments.
ProbeNetworkSource probeSourceFrom(const ModelArgs& args, const c10::Device& device);

} // namespace dr2::cli
