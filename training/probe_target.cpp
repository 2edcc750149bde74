#include "training/probe_target.h"

namespace dr2 {

GradProbeTarget makeProbeTarget(NetworkImpl& network, const torch::Tensor& input, const TaskTarget& target)
{
    GradProbeTarget probe;
    probe.model = &network;
    probe.stacks = network.backbone().stacks();
    probe.loss = [&network, input, target](c10::ScalarType dtype) {
        return network.task().probeLoss(network.forward(input.to(dtype)), target);
    };
    return probe;
}

} // namespace dr2
