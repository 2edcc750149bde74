#pragma once

#include <string>

namespace dr2 {

/// How the process heap treats tensor memory, set once at start by tuneHostAllocator().
struct HostAllocatorTuning {
    bool applied = false; ///< false: left as it was (not glibc, or the environment already tunes malloc)
    std::string description; ///< one line for logs ("glibc malloc: ..." or why nothing was changed)
};

/// Keeps freed tensor memory in the process heap for the next step instead of handing it back to the kernel.
///
/// A training step allocates and frees the same large activations every iteration (ViT-Ti at 224², batch 8: a
/// few hundred tensors of 1–5 MB). glibc serves allocations above its mmap threshold (128 KiB, adjusted upwards
/// only as such blocks are freed) with a fresh mmap, whose pages the kernel then faults in and zeroes one by one;
/// measured here that was 17 % of a plain step (0.62 s → 0.51 s, `dr2net-cli bench`). This raises the mmap
/// threshold to glibc's maximum (32 MiB: larger blocks are mapped as before) and the trim threshold to 1 GiB, so
/// memory freed by one step is reused by the next, as PyTorch's CUDA caching allocator does on a GPU. The cost:
/// the process's resident memory stays near its highest step peak (the tensor counts of MemoryMeter are unchanged).
///
/// Leaves malloc alone when the environment already sets it (GLIBC_TUNABLES naming glibc.malloc, MALLOC_*_
/// variables) or DR2_MALLOC_TUNING=0. Call at the start of main, before other threads exist; later calls change
/// nothing and return what the first one did.
const HostAllocatorTuning& tuneHostAllocator();

/// Runs OpenBLAS's own GEMM thread pool with one thread while at least one such scope is alive anywhere in the
/// process, then puts the previous count back (reference counted: scopes on several threads nest correctly).
///
/// For code that runs two GEMM-heavy threads side by side (the overlapped reversible backward): OpenBLAS's pool is
/// process-wide, and two callers sharing it contend instead of each using a core. Found at run time (dlsym):
/// a LibTorch built against another BLAS (MKL in the CUDA packages) makes this a no-op.
class SingleThreadedBlas {
public:
    SingleThreadedBlas();
    ~SingleThreadedBlas();
    SingleThreadedBlas(const SingleThreadedBlas&) = delete;
    SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

/// OpenBLAS's GEMM threads now, or 0 when the process's BLAS is not OpenBLAS (then SingleThreadedBlas does nothing).
int openBlasThreads();

/// How many processes of one job share this machine's cores: LOCAL_WORLD_SIZE (set by torchrun and by
/// `dr2net-cli train --nproc`) when it holds an integer from 1 to 4096, else 1.
int processesOnThisMachine();

} // namespace dr2
