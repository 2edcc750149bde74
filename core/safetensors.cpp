#include "core/safetensors.h"

#include "core/safetensors_header.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dr2 {

namespace {

at::ScalarType toScalarType(const std::string& dtype)
{
    static const std::map<std::string, at::ScalarType> kTypes = { { "F64", at::kDouble }, { "F32", at::kFloat },
        { "F16", at::kHalf }, { "BF16", at::kBFloat16 }, { "I64", at::kLong }, { "I32", at::kInt },
        { "I16", at::kShort }, { "I8", at::kChar }, { "U8", at::kByte }, { "BOOL", at::kBool } };
    return kTypes.at(dtype); // the header parser has rejected unknown names
}

std::string toDtypeName(at::ScalarType type, const std::string& name)
{
    switch (type) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default:
        throw std::invalid_argument("safetensors writer: tensor '" + name + "': dtype " + std::string(c10::toString(type))
            + " cannot be stored (expected a float, integer or bool dtype)");
    }
}

// A read-only mapping of a whole file, unmapped on destruction.
class MappedFile {
public:
    explicit MappedFile(const std::string& path)
    {
        m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (m_fd < 0)
            throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        struct stat info {};
        if (::fstat(m_fd, &info) != 0 || !S_ISREG(info.st_mode)) {
            ::close(m_fd);
            throw std::runtime_error("cannot read " + path + ": not a regular file");
        }
        m_size = static_cast<size_t>(info.st_size);
        if (m_size > 0) {
            void* address = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, m_fd, 0);
            if (address == MAP_FAILED) {
                ::close(m_fd);
                throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
            }
            m_data = static_cast<const uint8_t*>(address);
        }
    }
    ~MappedFile()
    {
        if (m_data)
            ::munmap(const_cast<uint8_t*>(m_data), m_size);
        ::close(m_fd);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return m_data ? m_data : reinterpret_cast<const uint8_t*>(""); }
    size_t size() const { return m_size; }

private:
    int m_fd = -1;
    const uint8_t* m_data = nullptr;
    size_t m_size = 0;
};

} // namespace

SafetensorsContents parseSafetensors(const uint8_t* data, size_t size, const std::string& source)
{
    const SafetensorsHeader header = parseSafetensorsHeader(data, size, source);
    SafetensorsContents contents;
    contents.metadata = header.metadata;
    contents.tensors.reserve(header.entries.size());
    for (const auto& entry : header.entries) {
        at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(toScalarType(entry.dtype)));
        // Offsets carry no alignment guarantee, so copy bytes instead of viewing the mapping.
        if (entry.end > entry.begin)
            std::memcpy(tensor.data_ptr(), data + header.dataStart + entry.begin, entry.end - entry.begin);
        contents.tensors.emplace_back(entry.name, std::move(tensor));
    }
    return contents;
}

SafetensorsContents readSafetensors(const std::string& path)
{
    MappedFile file(path);
    return parseSafetensors(file.data(), file.size(), path);
}

void writeSafetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata)
{
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::set<std::string> names;
    std::vector<at::Tensor> payload;
    uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        if (name == "__metadata__" || !names.insert(name).second)
            throw std::invalid_argument("safetensors writer " + path + ": tensor name '" + name
                + "' is reserved or appears more than once");
        if (!tensor.defined())
            throw std::invalid_argument("safetensors writer " + path + ": tensor '" + name + "' is undefined");
        const std::string dtype = toDtypeName(tensor.scalar_type(), name);
        at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
        const uint64_t bytes = data.nbytes();
        header[name] = { { "dtype", dtype }, { "shape", data.sizes().vec() }, { "data_offsets", { offset, offset + bytes } } };
        offset += bytes;
        payload.push_back(std::move(data));
    }
    std::string text = header.dump();
    // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
    text.append((8 - text.size() % 8) % 8, ' ');

    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    FILE* file = std::fopen(temp.c_str(), "wb");
    if (!file)
        throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    bool ok = true;
    uint8_t length[8];
    for (int i = 0; i < 8; ++i)
        length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    ok = ok && std::fwrite(length, 1, 8, file) == 8;
    ok = ok && std::fwrite(text.data(), 1, text.size(), file) == text.size();
    for (const auto& data : payload)
        ok = ok && (data.nbytes() == 0 || std::fwrite(data.data_ptr(), 1, data.nbytes(), file) == data.nbytes());
    ok = ok && std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
    const int savedErrno = errno;
    ok = std::fclose(file) == 0 && ok;
    if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(ok ? errno : savedErrno);
        std::remove(temp.c_str());
        throw std::runtime_error("cannot write " + path + ": " + reason);
    }
}

} // namespace dr2
