#include "core/precision.h"

#include <stdexcept>

namespace dr2 {

Precision parsePrecision(const std::string& name, const std::string& what)
{
    for (Precision precision : allPrecisions())
        if (name == toString(precision))
            return precision;
    throw std::invalid_argument(what + " '" + name + "': expected fp32, bf16 or fp16");
}

std::string toString(Precision precision)
{
    switch (precision) {
    case Precision::Float32:
        return "fp32";
    case Precision::BFloat16:
        return "bf16";
    case Precision::Float16:
        return "fp16";
    }
    return "?";
}

std::vector<Precision> allPrecisions()
{
    return { Precision::Float32, Precision::BFloat16, Precision::Float16 };
}

} // namespace dr2
