#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dr2 {

/// Named tensors in file order, as a PyTorch state dict holds them.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

/// String metadata stored with a checkpoint (safetensors "__metadata__").
using Metadata = std::map<std::string, std::string>;

/// The tensor named `name`, or nullptr.
inline const at::Tensor* findTensor(const StateDict& dict, const std::string& name)
{
    for (const auto& [key, tensor] : dict)
        if (key == name)
            return &tensor;
    return nullptr;
}

} // namespace dr2
