#include "training/task.h"

#include <stdexcept>

namespace dr2 {

TaskTarget TaskTarget::to(const c10::Device& device) const
{
    TaskTarget out;
    if (tensor.defined())
        out.tensor = tensor.to(device);
    for (const auto& [name, value] : named)
        out.named[name] = value.to(device);
    return out;
}

TaskTarget TaskTarget::head(int64_t count) const
{
    TaskTarget out;
    if (tensor.defined())
        out.tensor = tensor.narrow(0, 0, std::min(count, tensor.size(0)));
    for (const auto& [name, value] : named)
        out.named[name] = value.narrow(0, 0, std::min(count, value.size(0)));
    return out;
}

int64_t TaskTarget::samples() const
{
    if (tensor.defined())
        return tensor.size(0);
    if (!named.empty())
        return named.begin()->second.size(0);
    return 0;
}

} // namespace dr2
