#pragma once

#include "core/backbone.h"
#include "core/state_dict.h"
#include "training/task.h"

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>

namespace dr2 {

/// A backbone with its task's head: what a run trains, probes and exports. Submodules "backbone" and "head".
class NetworkImpl : public torch::nn::Module {
public:
    /// `task` must have built its head (Task::buildHead) for `backbone`.
    NetworkImpl(BackbonePtr backbone, std::shared_ptr<Task> task);

    /// Input → the task's prediction (logits for classification).
    torch::Tensor forward(const torch::Tensor& input);

    Backbone& backbone() const { return *m_backbone; }
    const BackbonePtr& backbonePtr() const { return m_backbone; }
    Task& task() const { return *m_task; }
    const std::shared_ptr<Task>& taskPtr() const { return m_task; }

    /// Every parameter and buffer in the product's own checkpoint layout: the backbone's names, then the head's
    /// as "head.*" (what export and native checkpoints write, and the families' loaders read as "dr2" names).
    StateDict exportTensors() const;

private:
    BackbonePtr m_backbone;
    std::shared_ptr<Task> m_task;
};
TORCH_MODULE(Network);

} // namespace dr2
