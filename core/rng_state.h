#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace dr2 {

/// A snapshot of the default random generator of one device (CPU, or the current CUDA device).
///
/// Reversible backprop re-runs each branch in the backward; restoring the snapshot taken before the
/// forward makes dropout and drop-path draw the same masks. Reseeding instead would desynchronise them
/// (a pitfall seen in other reversible libraries).
class RngState {
public:
    /// Captures the default generator state of `device`'s type.
    static RngState capture(const c10::Device& device);

    /// True when this object holds a captured state.
    bool valid() const { return m_state.defined(); }

    /// Puts the captured state back into the generator it came from.
    void restore() const;

    /// The captured state as a uint8 tensor (for checkpoints).
    const at::Tensor& tensor() const { return m_state; }
    /// A state read back from a checkpoint, for `device`'s default generator.
    static RngState fromTensor(const c10::Device& device, at::Tensor state);

private:
    c10::Device m_device { c10::kCPU };
    at::Tensor m_state;
};

/// Runs a scope with the generator state of `device` forked: on destruction the state that was current
/// at construction is put back, so code inside may restore an older snapshot without disturbing the
/// random sequence seen by the code outside (like torch.random.fork_rng).
class RngFork {
public:
    explicit RngFork(const c10::Device& device);
    ~RngFork();
    RngFork(const RngFork&) = delete;
    RngFork& operator=(const RngFork&) = delete;

private:
    RngState m_saved;
};

} // namespace dr2
