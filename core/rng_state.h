#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace dr2 {

/// A snapshot of one random generator's state: a given generator (a RandomStream's, or whatever
/// currentGenerator() returned), or the default generator of a device (CPU, or the current CUDA device).
///
/// Reversible backprop re-runs each branch in the backward; restoring the snapshot taken before the
/// forward makes dropout and drop-path draw the same masks. Reseeding instead would desynchronise them
/// (a pitfall seen in other reversible libraries).
class RngState {
public:
    /// Captures the default generator state of `device`'s type.
    static RngState capture(const c10::Device& device);
    /// Captures the state of `generator`; restore() puts it back into that same generator.
    static RngState capture(const at::Generator& generator);

    /// True when this object holds a captured state.
    bool valid() const { return m_state.defined(); }

    /// Puts the captured state back into the generator it came from.
    void restore() const;

    /// The captured state as a uint8 tensor (for checkpoints).
    const at::Tensor& tensor() const { return m_state; }
    /// A state read back from a checkpoint, for `device`'s default generator.
    static RngState fromTensor(const c10::Device& device, at::Tensor state);
    /// A state read back from a checkpoint, for `generator` (e.g. a RandomStream's).
    static RngState fromTensor(const at::Generator& generator, at::Tensor state);

private:
    at::Generator target() const;

    c10::Device m_device { c10::kCPU };
    at::Generator m_generator; // undefined: the default generator of m_device, looked up on restore
    at::Tensor m_state;
};

/// Runs a scope with the state of a generator forked: on destruction the state that was current at
/// construction is put back, so code inside may restore an older snapshot without disturbing the random
/// sequence seen by the code outside (like torch.random.fork_rng).
class RngFork {
public:
    /// Forks the default generator of `device`.
    explicit RngFork(const c10::Device& device);
    /// Forks `generator`.
    explicit RngFork(const at::Generator& generator);
    ~RngFork();
    RngFork(const RngFork&) = delete;
    RngFork& operator=(const RngFork&) = delete;

private:
    RngState m_saved;
};

} // namespace dr2
