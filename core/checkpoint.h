#pragma once

#include "core/state_dict.h"

#include <string>
#include <vector>

namespace dr2 {

/// The container a checkpoint file was written in (detected from its content, not its extension).
enum class CheckpointFormat {
    Safetensors, ///< safetensors: 8-byte header length, JSON header, raw little-endian data
    TorchSave, ///< torch.save zip archive (PyTorch >= 1.6) holding a state dict
    TorchScript, ///< torch.jit.save archive: its named parameters and buffers
};

/// "safetensors", "torch.save" or "torchscript".
std::string toString(CheckpointFormat format);

/// The tensors of a checkpoint file, whatever its container, in the file's own names.
struct LoadedCheckpoint {
    std::string path;
    CheckpointFormat format = CheckpointFormat::Safetensors;
    StateDict tensors;
    Metadata metadata; ///< safetensors "__metadata__"; empty for the other formats
    std::vector<std::string> notes; ///< what the reader did: container key used, DataParallel prefix stripped
};

/// Reads a safetensors, torch.save or TorchScript file (format detected by content) into CPU tensors.
/// A "module." prefix on every name (DataParallel) is stripped. Throws std::runtime_error with one line that
/// names the file and, for an unrecognised file, the formats tried.
LoadedCheckpoint readCheckpoint(const std::string& path);

} // namespace dr2
