#pragma once

#include "core/state_dict.h"

#include <string>

namespace caffe2::serialize {
class PyTorchStreamReader;
}

namespace dr2 {

/// What a torch.save archive held and where its state dict was found.
struct TorchSaveContents {
    StateDict tensors; ///< the state dict's tensors, in file order
    std::string containerKey; ///< "" for a bare state dict, else the key it was under ("state_dict", "model", "module")
};

/// Reads a `torch.save` zip archive (PyTorch >= 1.6) holding a state dict, or a dict with the state dict under
/// "state_dict", "model" or "module". A restricted unpickler in the spirit of torch.load(weights_only=True):
/// only the opcodes torch.save emits and an allow-list of globals (collections.OrderedDict,
/// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, the typed storage classes); anything else
/// is refused with a message naming it. Throws std::runtime_error naming `source`.
TorchSaveContents readTorchSave(caffe2::serialize::PyTorchStreamReader& archive, const std::string& source);

} // namespace dr2
