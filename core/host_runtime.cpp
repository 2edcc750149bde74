#include "core/host_runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dr2 {

namespace {

/// True when the user tunes malloc through the environment already: their setting wins.
bool environmentTunesMalloc()
{
    for (const char* name : { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_" })
        if (std::getenv(name))
            return true;
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    return tunables && std::strstr(tunables, "glibc.malloc.");
}

HostAllocatorTuning applyAllocatorTuning()
{
    HostAllocatorTuning tuning;
    const char* optOut = std::getenv("DR2_MALLOC_TUNING");
    if (optOut && std::strcmp(optOut, "0") == 0) {
        tuning.description = "glibc malloc: left as it is (DR2_MALLOC_TUNING=0)";
        return tuning;
    }
    if (environmentTunesMalloc()) {
        tuning.description = "glibc malloc: left as the environment sets it";
        return tuning;
    }
#if defined(__GLIBC__)
    constexpr int kMmapThreshold = 32 << 20; // glibc's upper limit on 64-bit (4 MiB · sizeof(long))
    constexpr int kTrimThreshold = 1 << 30;
    // Setting either also turns off glibc's dynamic adjustment of both.
    tuning.applied = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
    tuning.description = tuning.applied ? "glibc malloc: mmap threshold 32 MiB, trim threshold 1 GiB (freed tensor "
                                          "memory is reused by the next step)"
                                        : "glibc malloc: mallopt refused the thresholds; left as it is";
#else
    tuning.description = "malloc: not glibc, left as it is";
#endif
    return tuning;
}

} // namespace

const HostAllocatorTuning& tuneHostAllocator()
{
    static const HostAllocatorTuning tuning = applyAllocatorTuning();
    return tuning;
}

namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();

/// OpenBLAS's thread-count functions, when the process has OpenBLAS loaded (LibTorch's BLAS on Debian).
struct OpenBlas {
    SetThreads set = nullptr;
    GetThreads get = nullptr;
    static const OpenBlas& instance()
    {
        static const OpenBlas blas = [] {
            OpenBlas found;
            found.set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
            found.get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
            if (!found.set || !found.get)
                found = OpenBlas();
            return found;
        }();
        return blas;
    }
};

std::mutex g_blasMutex;
int g_blasScopes = 0; // live SingleThreadedBlas scopes, guarded by g_blasMutex
int g_blasThreadsBefore = 0; // OpenBLAS's thread count when the first of them started

} // namespace

int openBlasThreads()
{
    const OpenBlas& blas = OpenBlas::instance();
    return blas.get ? blas.get() : 0;
}

int processesOnThisMachine()
{
    const char* value = std::getenv("LOCAL_WORLD_SIZE");
    if (value == nullptr || *value == '\0')
        return 1;
    char* end = nullptr;
    const long count = std::strtol(value, &end, 10);
    return *end == '\0' && count >= 1 && count <= 4096 ? static_cast<int>(count) : 1;
}

SingleThreadedBlas::SingleThreadedBlas()
{
    const OpenBlas& blas = OpenBlas::instance();
    if (!blas.set)
        return;
    std::lock_guard<std::mutex> lock(g_blasMutex);
    if (g_blasScopes++ == 0) {
        g_blasThreadsBefore = blas.get();
        if (g_blasThreadsBefore != 1)
            blas.set(1);
    }
}

SingleThreadedBlas::~SingleThreadedBlas()
{
    const OpenBlas& blas = OpenBlas::instance();
    if (!blas.set)
        return;
    std::lock_guard<std::mutex> lock(g_blasMutex);
    if (--g_blasScopes == 0 && g_blasThreadsBefore != 1)
        blas.set(g_blasThreadsBefore);
}

} // namespace dr2
