#include "core/weight_gradients.h"

#include "core/autocast.h"

#include <ATen/ExpandUtils.h>
#include <ATen/record_function.h>
#include <torch/autograd.h>
#include <torch/custom_class.h>
#include <torch/nn/functional/linear.h>

#include <utility>

namespace dr2 {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// This thread's sink (DeferWeightGradients). Thread-local, not process-wide: the helper thread of an overlapped
// backward defers while the calling thread, in the same process, builds ordinary graphs.
thread_local std::weak_ptr<WeightGradientSink> t_sink;

/// The sink a deferred node's backward hands its job to, held weakly (see DeferWeightGradients).
struct SinkHandle : torch::CustomClassHolder {
    explicit SinkHandle(std::weak_ptr<WeightGradientSink> s)
        : sink(std::move(s))
    {
    }
    std::weak_ptr<WeightGradientSink> sink;
};

/// y = x·Wᵀ + b whose backward returns only ∂L/∂x and defers the weight gradients (see the header).
class DeferredLinear : public torch::autograd::Function<DeferredLinear> {
public:
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
        const torch::Tensor& bias, c10::intrusive_ptr<SinkHandle> sink)
    {
        ctx->save_for_backward({ x, weight, bias });
        ctx->saved_data["sink"] = at::IValue::make_capsule(std::move(sink));
        return torch::nn::functional::linear(x, weight, bias); // LinearImpl::forward's computation
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads)
    {
        const torch::Tensor& g = grads[0];
        if (!g.defined())
            return { torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor() };
        auto saved = ctx->get_saved_variables();
        const torch::Tensor& x = saved[0];
        const torch::Tensor& weight = saved[1];
        const torch::Tensor& bias = saved[2];
        // The layer as a product of flattened rows, as F::linear's addmm or matmul computes it: the same GEMMs in
        // the same layout as autograd's backward of those (mm_mat1_backward / mm_mat2_backward, sum_to for the
        // bias), so the gradients are the same numbers (Dr2Stack and WeightGradients tests compare them bit for bit).
        torch::Tensor g2 = g.reshape({ -1, g.size(-1) });
        torch::Tensor gx = x.requires_grad() ? g2.mm(weight).view(x.sizes()) : torch::Tensor();
        WeightGradientJob job { g2, x.reshape({ -1, x.size(-1) }), weight, bias };
        auto holder = ctx->saved_data["sink"].toCapsule();
        if (auto sink = static_cast<SinkHandle*>(holder.get())->sink.lock())
            sink->defer(std::move(job));
        else
            job.accumulate(job.compute());
        return { gx, torch::Tensor(), torch::Tensor(), torch::Tensor() };
    }
};

} // namespace

WeightGradientJob::Result WeightGradientJob::compute() const
{
    RECORD_USER_SCOPE("dr2::weight_gradients");
    torch::NoGradGuard noGrad;
    Result result;
    result.weight = gradOutput.t().mm(input);
    if (bias.defined() && bias.requires_grad())
        result.bias = at::sum_to(gradOutput, bias.sizes());
    return result;
}

void WeightGradientJob::accumulate(const Result& result) const
{
    torch::NoGradGuard noGrad;
    auto add = [](const torch::Tensor& parameter, const torch::Tensor& grad) {
        if (!grad.defined())
            return;
        torch::Tensor& slot = parameter.mutable_grad();
        if (slot.defined())
            slot.add_(grad);
        else
            slot = grad.detach(); // not a view (sum_to's bias gradient is one): optimizers detach_() .grad in place
    };
    add(weight, result.weight);
    add(bias, result.bias);
}

DeferWeightGradients::DeferWeightGradients(std::weak_ptr<WeightGradientSink> sink)
    : m_previous(std::exchange(t_sink, std::move(sink)))
{
}

DeferWeightGradients::~DeferWeightGradients()
{
    t_sink = std::move(m_previous);
}

torch::Tensor linearLayer(const torch::nn::Linear& layer, const torch::Tensor& x)
{
    const torch::Tensor& weight = layer->weight;
    const bool defer = !t_sink.expired() && torch::GradMode::is_enabled() && weight.requires_grad()
        && !AutocastState::current().any();
    if (!defer)
        return torch::nn::functional::linear(x, weight, layer->bias); // what LinearImpl::forward computes
    return DeferredLinear::apply(x, weight, layer->bias, c10::make_intrusive<SinkHandle>(t_sink));
}

} // namespace dr2
