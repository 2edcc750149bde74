#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dr2 {

/// One tensor entry of a safetensors header, validated against the file it came from.
struct SafetensorsEntry {
    std::string name;
    std::string dtype; ///< F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL
    std::vector<int64_t> shape;
    uint64_t begin = 0; ///< byte offset into the data section
    uint64_t end = 0; ///< one past the last byte; end - begin == element size × product(shape)
};

/// The validated header of a safetensors file (no tensor data; torch-free, so the fuzzer can link it alone).
struct SafetensorsHeader {
    std::vector<SafetensorsEntry> entries; ///< in the order of the file's JSON header
    std::map<std::string, std::string> metadata; ///< the optional "__metadata__" string map
    uint64_t dataStart = 0; ///< absolute file offset of the data section (8 + header length)
};

/// Largest JSON header accepted (the reference implementation uses the same cap).
inline constexpr uint64_t kSafetensorsMaxHeader = 100ull * 1024 * 1024;

/// Bytes per element of a safetensors dtype name; 0 for an unknown name.
size_t safetensorsElementSize(const std::string& dtype);

/// Parses and validates the header of a safetensors file held in `data` (`size` bytes, the whole file):
/// header length within the file and below kSafetensorsMaxHeader, valid JSON, known dtypes, offsets
/// inside the data section, sizes equal to dtype × shape, no overlaps, no duplicate names.
/// Throws std::runtime_error with one line naming `source`, the tensor and expected vs found.
SafetensorsHeader parseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& source);

} // namespace dr2
