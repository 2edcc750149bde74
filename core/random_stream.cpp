#include "core/random_stream.h"

#include "core/device.h"

#include <ATen/CPUGeneratorImpl.h>

namespace dr2 {
namespace {

// The innermost scope of this thread. A raw pointer: scopes live on the stack and unlink themselves.
thread_local RandomStreamScope* t_current = nullptr;

std::pair<int, int> keyOf(const c10::Device& device)
{
    return { static_cast<int>(device.type()), device.has_index() ? static_cast<int>(device.index()) : -1 };
}

} // namespace

bool generatorMatches(const at::Generator& generator, const c10::Device& device)
{
    if (!generator.defined())
        return false;
    const c10::Device own = generator.device();
    if (own.type() != device.type())
        return false;
    return !own.has_index() || !device.has_index() || own.index() == device.index();
}

RandomStream::RandomStream(uint64_t seed, const c10::Device& device)
    : m_seed(seed)
    , m_device(device)
    , m_main(makeGenerator(device, seed))
{
}

at::Generator& RandomStream::generator(const c10::Device& device)
{
    if (generatorMatches(m_main, device))
        return m_main;
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_others.find(keyOf(device));
    if (it == m_others.end())
        it = m_others.emplace(keyOf(device), makeGenerator(device, m_seed)).first; // std::map: stable references
    return it->second;
}

RandomStreamScope::RandomStreamScope(RandomStream& stream)
    : m_stream(&stream)
    , m_previous(t_current)
{
    t_current = this;
}

RandomStreamScope::RandomStreamScope(at::Generator generator)
    : m_generator(std::move(generator))
    , m_previous(t_current)
{
    t_current = this;
}

RandomStreamScope::~RandomStreamScope()
{
    t_current = m_previous;
}

at::Generator RandomStreamScope::generatorFor(const c10::Device& device) const
{
    if (m_stream)
        return m_stream->generator(device);
    return generatorMatches(m_generator, device) ? m_generator : at::Generator();
}

at::Generator currentGenerator(const c10::Device& device)
{
    for (const RandomStreamScope* scope = t_current; scope; scope = scope->m_previous) {
        at::Generator gen = scope->generatorFor(device);
        if (gen.defined())
            return gen;
    }
    return defaultGenerator(device);
}

namespace {
std::recursive_mutex& defaultSeedMutex()
{
    static std::recursive_mutex mutex;
    return mutex;
}
} // namespace

SeededDefaultGenerator::SeededDefaultGenerator(uint64_t seed)
    : m_lock(defaultSeedMutex())
{
    at::Generator gen = defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    m_saved = gen.get_state();
    gen.set_current_seed(seed);
}

SeededDefaultGenerator::~SeededDefaultGenerator()
{
    at::Generator gen = defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(m_saved);
}

} // namespace dr2
