#include "training/network.h"

#include <stdexcept>

namespace dr2 {

NetworkImpl::NetworkImpl(BackbonePtr backbone, std::shared_ptr<Task> task)
    : m_backbone(std::move(backbone))
    , m_task(std::move(task))
{
    if (!m_backbone || !m_task || !m_task->head())
        throw std::invalid_argument("network: needs a backbone and a task whose head is built");
    register_module("backbone", m_backbone);
    register_module("head", m_task->head());
}

torch::Tensor NetworkImpl::forward(const torch::Tensor& input)
{
    return m_task->predict(m_backbone->forwardFeatures(input));
}

StateDict NetworkImpl::exportTensors() const
{
    StateDict tensors;
    for (const auto& item : m_backbone->named_parameters(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach());
    for (const auto& item : m_backbone->named_buffers(/*recurse=*/true))
        tensors.emplace_back(item.key(), item.value().detach());
    for (const auto& item : m_task->head()->named_parameters(/*recurse=*/true))
        tensors.emplace_back("head." + item.key(), item.value().detach());
    for (const auto& item : m_task->head()->named_buffers(/*recurse=*/true))
        tensors.emplace_back("head." + item.key(), item.value().detach());
    return tensors;
}

} // namespace dr2
