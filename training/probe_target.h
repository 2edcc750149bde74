#pragma once

#include "core/grad_probe.h"
#include "training/network.h"

namespace dr2 {

/// The gradient probe's view of a network: every stage of its backbone, and the task's probe loss on a fixed
/// batch. The probe runs the loss twice per point, so `input` and `target` are copied into the closure and
/// converted to the probe's dtype each time; `network` must outlive the result.
GradProbeTarget makeProbeTarget(NetworkImpl& network, const torch::Tensor& input, const TaskTarget& target);

} // namespace dr2
