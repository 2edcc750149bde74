#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace dr2 {

/// Random generators owned by one run (a training run, a gradient probe pass, a sweep), independent of
/// LibTorch's process-wide default generators.
///
/// Why: dropout and drop-path masks are replayed by the reversible backward; if they came from the
/// default generator, any other thread that draws from it or calls torch::manual_seed (a GUI sweep next
/// to a training run) would change the masks between forward and replay and silently corrupt the
/// gradients. A stream holds one generator per device, each seeded with the stream's seed (like
/// torch::manual_seed seeds every device), created on first use.
///
/// Draws from one stream are not meant to happen on two threads at once (a run is one sequence of
/// forwards and backwards); the bookkeeping itself is thread-safe.
class RandomStream {
public:
    /// A stream seeded with `seed`; its generator for `device` is created now (others on first use).
    explicit RandomStream(uint64_t seed, const c10::Device& device = c10::Device(c10::kCPU));
    RandomStream(const RandomStream&) = delete;
    RandomStream& operator=(const RandomStream&) = delete;

    /// The seed every generator of this stream started from.
    uint64_t seed() const { return m_seed; }
    /// The device given at construction.
    const c10::Device& device() const { return m_device; }
    /// The generator of the device given at construction (stays valid as long as the stream).
    at::Generator& generator() { return m_main; }
    /// The generator of `device` (CPU, or a CUDA device when available), created seeded on first use;
    /// throws std::invalid_argument for other devices.
    at::Generator& generator(const c10::Device& device);

private:
    uint64_t m_seed;
    c10::Device m_device;
    at::Generator m_main;
    std::mutex m_mutex;
    std::map<std::pair<int, int>, at::Generator> m_others; // (device type, index) → generator
};

/// Makes a stream (or one generator) current on this thread until the scope ends; scopes nest, and the
/// previous one is current again afterwards. Must be destroyed on the thread that created it.
///
/// Code that draws randomness inside Dr2Stack branches must take its generator from currentGenerator(),
/// so that the stack can capture it in the forward and make the same generator current again for the
/// recompute in the backward (which may run on another thread).
class RandomStreamScope {
public:
    /// Makes every generator of `stream` current (it must outlive the scope).
    explicit RandomStreamScope(RandomStream& stream);
    /// Makes `generator` current for draws on its own device; draws on other devices see the enclosing
    /// scope (or the default generator).
    explicit RandomStreamScope(at::Generator generator);
    ~RandomStreamScope();
    RandomStreamScope(const RandomStreamScope&) = delete;
    RandomStreamScope& operator=(const RandomStreamScope&) = delete;

    /// The generator this scope provides for `device`, or an undefined one when it provides none.
    at::Generator generatorFor(const c10::Device& device) const;

private:
    friend at::Generator currentGenerator(const c10::Device& device);
    RandomStream* m_stream = nullptr;
    at::Generator m_generator;
    RandomStreamScope* m_previous = nullptr;
};

/// The generator random draws on `device` should use on this thread: the innermost RandomStreamScope's,
/// else LibTorch's default generator of `device` (the behaviour of code that sets no scope).
at::Generator currentGenerator(const c10::Device& device);

/// True when `generator` belongs to `device` (same type; same index, or either has none).
bool generatorMatches(const at::Generator& generator, const c10::Device& device);

/// For code that still needs the process-wide default CPU generator seeded (model construction:
/// torch::nn::init takes no generator): holds a process-wide lock so such sections do not reseed under
/// each other, seeds the default CPU generator with `seed`, and on destruction puts back the state it had
/// before, so draws outside the section are not disturbed by it. Re-entrant on one thread. Draws from
/// the default generator by code outside any such section can still interleave: keep run randomness on
/// a RandomStream.
class SeededDefaultGenerator {
public:
    /// Locks, saves the default CPU generator's state and seeds it with `seed`.
    explicit SeededDefaultGenerator(uint64_t seed);
    /// Restores the saved state and unlocks.
    ~SeededDefaultGenerator();
    SeededDefaultGenerator(const SeededDefaultGenerator&) = delete;
    SeededDefaultGenerator& operator=(const SeededDefaultGenerator&) = delete;

private:
    std::unique_lock<std::recursive_mutex> m_lock;
    at::Tensor m_saved;
};

} // namespace dr2
