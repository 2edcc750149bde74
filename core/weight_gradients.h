#pragma once

// Linear layers whose weight gradients can be set aside during a backward and computed by another thread.
//
// The backward of y = x·Wᵀ + b is two GEMMs of equal size: ∂L/∂x = g·W, which the rest of the backward waits for,
// and ∂L/∂W = gᵀ·x (with ∂L/∂b = Σ g), which nothing else in the backward reads. Autograd computes both in one node.
// Dr2Stack's overlapped reversible backward (RecomputeOverlap) builds its recomputed branches with linearLayer()
// inside a DeferWeightGradients scope: their backward then computes ∂L/∂x at once and hands the weight-gradient
// GEMM to a WeightGradientSink, which runs it on whichever of the two threads is free. Everywhere else
// linearLayer() is the layer's own forward.

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <memory>

namespace dr2 {

/// One linear layer's set-aside weight gradient: ∂L/∂W = gᵀ·x and ∂L/∂b = Σ g over the rows of the flattened
/// output gradient g [M, out] and layer input x [M, in].
struct WeightGradientJob {
    torch::Tensor gradOutput; ///< [M, out]
    torch::Tensor input; ///< [M, in]
    torch::Tensor weight; ///< [out, in], a parameter that requires grad
    torch::Tensor bias; ///< [out] or undefined

    struct Result {
        torch::Tensor weight;
        torch::Tensor bias; ///< undefined when the layer has no bias that requires grad
    };
    /// The two gradients, computed as autograd's backward of F::linear computes them (the same GEMM, the same sum).
    Result compute() const;
    /// Adds `result` to weight.grad and bias.grad the way autograd's AccumulateGrad does (the first gradient is
    /// stored, later ones added in place). Not thread-safe for the same parameters: a sink serialises it.
    void accumulate(const Result& result) const;
};

/// Where a deferred linear layer's backward hands its weight gradient. Implementations must compute and accumulate
/// every job before the backward that produced it returns.
class WeightGradientSink {
public:
    virtual ~WeightGradientSink() = default;
    virtual void defer(WeightGradientJob job) = 0;
};

/// While alive, linearLayer() calls on this thread that build a graph record a deferred node whose backward hands
/// its weight gradient to `sink`. The node holds the sink weakly: a graph back-propagated after the sink is gone
/// computes its weight gradients in place, as autograd would. Scopes nest; the previous sink comes back on exit.
class DeferWeightGradients {
public:
    explicit DeferWeightGradients(std::weak_ptr<WeightGradientSink> sink);
    ~DeferWeightGradients();
    DeferWeightGradients(const DeferWeightGradients&) = delete;
    DeferWeightGradients& operator=(const DeferWeightGradients&) = delete;

private:
    std::weak_ptr<WeightGradientSink> m_previous;
};

/// `layer`'s forward on x [..., in]. Inside a DeferWeightGradients scope, with grad mode on, a weight that requires
/// grad and no autocast (whose casts would have to be replayed in the backward), the weight gradient is deferred;
/// the value is the layer's own forward's (F::linear) either way.
torch::Tensor linearLayer(const torch::nn::Linear& layer, const torch::Tensor& x);

} // namespace dr2
