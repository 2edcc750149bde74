#pragma once

#include "core/precision.h"

#include <string>

namespace dr2 {

/// The /heatmaps group name of a sweep's map computed under `precision`: `base` for float32, else
/// base + "_" + toString(precision) ("sweep_bf16"), so one run's arrays can hold a sweep in several precisions.
std::string precisionHeatmapName(const std::string& base, Precision precision);

/// The precision a heatmap's name says its map was computed under: the suffix precisionHeatmapName() adds
/// ("_bf16", "_fp16"), Float32 for any other name. Readers that pick one map of a run prefer the float32 one.
Precision heatmapNamePrecision(const std::string& name);

} // namespace dr2
