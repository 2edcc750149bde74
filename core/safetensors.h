#pragma once

#include "core/state_dict.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace dr2 {

/// Tensors and metadata read from a safetensors file.
struct SafetensorsContents {
    StateDict tensors;
    Metadata metadata;
};

/// Reads a safetensors file (memory-mapped; the header is validated before any tensor is allocated).
/// Throws std::runtime_error with one line naming the file, the tensor and expected vs found.
SafetensorsContents readSafetensors(const std::string& path);

/// Parses a whole safetensors file held in memory; `source` names it in error messages.
SafetensorsContents parseSafetensors(const uint8_t* data, size_t size, const std::string& source);

/// Writes tensors (any device; stored as contiguous little-endian CPU data) and string metadata to `path`
/// atomically: a temporary file next to it is written, flushed, synced and renamed over `path`.
/// Throws std::invalid_argument for duplicate names or dtypes safetensors cannot hold, std::runtime_error
/// for I/O failures (the temporary file is removed).
void writeSafetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata = {});

} // namespace dr2
