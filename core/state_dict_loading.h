#pragma once

#include "core/state_dict.h"

#include <torch/nn/module.h>

#include <functional>
#include <string>
#include <vector>

namespace dr2 {

/// How copyStateDict treats one checkpoint; every hook is optional.
struct StateDictCopyOptions {
    std::string source; ///< the file, for messages
    /// The file's spelling of an internal name (for messages); identity when empty.
    std::function<std::string(const std::string&)> externalName;
    /// Internal names to leave out of the copy; they are returned in StateDictCopyReport::skipped.
    std::function<bool(const std::string&)> skip;
    /// Module tensors that may legitimately be absent from the file (not reported missing).
    std::function<bool(const std::string&)> optional;
    /// Adapts a file tensor to its target before the shape check (e.g. resizing a position table); returns the
    /// value to copy and may add a note.
    std::function<torch::Tensor(const std::string& name, const torch::Tensor& value, const torch::Tensor& target,
        std::vector<std::string>& notes)>
        adapt;
    bool allowMissing = false; ///< false: a module tensor absent from the file is an error
};

/// What copyStateDict did.
struct StateDictCopyReport {
    std::vector<std::string> missingKeys; ///< module tensors not in the file (internal names), left as they were
    std::vector<std::string> unexpectedKeys; ///< file tensors the module has no place for (file names)
    std::vector<std::string> nanTensors; ///< file names of tensors holding NaN or Inf (a warning)
    std::vector<std::string> notes; ///< dtype conversions, adaptations
    StateDict skipped; ///< the tensors options.skip left out (internal names)
};

/// Copies `tensors` (already renamed to the module's names) into `module`'s parameters and buffers. A shape
/// mismatch throws ("loading checkpoint F: tensor blocks.1.attn.qkv.weight: expected [96, 32], found [32, 96]"),
/// and so do missing tensors unless allowed. Values are converted to the target's dtype (reported once).
StateDictCopyReport copyStateDict(
    torch::nn::Module& module, const StateDict& tensors, const StateDictCopyOptions& options = {});

} // namespace dr2
