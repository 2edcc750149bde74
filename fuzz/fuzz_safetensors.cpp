// libFuzzer target: the safetensors header parser must reject any input with std::runtime_error, never crash,
// read out of bounds or allocate more than the input justifies.
#include "core/safetensors_header.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    try {
        const dr2::SafetensorsHeader header = dr2::parseSafetensorsHeader(data, size, "fuzz-input");
        // Every accepted entry must lie inside the input.
        for (const auto& entry : header.entries)
            if (entry.begin > entry.end || header.dataStart + entry.end > size)
                std::abort();
    } catch (const std::runtime_error&) {
    }
    return 0;
}
