#pragma once

#include <string>
#include <vector>

namespace dr2 {

/// The precision branches compute in: float32 (autocast off) or autocast to a 16-bit type. Torch-free, so configs
/// can name it; core/autocast.h turns it into an autocast scope.
enum class Precision {
    Float32,
    BFloat16,
    Float16,
};

/// Parses "fp32" / "bf16" / "fp16"; throws std::invalid_argument naming `what` and the allowed values.
Precision parsePrecision(const std::string& name, const std::string& what = "precision");
/// Parses with the default wording (for tables of parse functions).
inline Precision parsePrecisionName(const std::string& name)
{
    return parsePrecision(name);
}
/// The short name used in configs and output ("fp32", "bf16", "fp16").
std::string toString(Precision precision);
/// Every precision, fp32 first.
std::vector<Precision> allPrecisions();

} // namespace dr2
