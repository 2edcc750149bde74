#include "core/safetensors_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

namespace dr2 {

namespace {

using Json = nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& source, const std::string& what)
{
    throw std::runtime_error("safetensors file " + source + ": " + what);
}

std::string knownDtypes()
{
    return "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";
}

uint64_t readLe64(const uint8_t* p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i)
        value = (value << 8) | p[i];
    return value;
}

// A JSON integer that fits the type, or an error naming the tensor and the field.
uint64_t asUnsigned(const Json& value, const std::string& source, const std::string& where)
{
    if (!value.is_number_unsigned())
        fail(source, where + ": expected a non-negative integer, found " + value.dump());
    return value.get<uint64_t>();
}

} // namespace

size_t safetensorsElementSize(const std::string& dtype)
{
    if (dtype == "F64" || dtype == "I64")
        return 8;
    if (dtype == "F32" || dtype == "I32")
        return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16")
        return 2;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL")
        return 1;
    return 0;
}

SafetensorsHeader parseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& source)
{
    if (size < 8)
        fail(source, "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    const uint64_t headerLength = readLe64(data);
    if (headerLength > size - 8)
        fail(source, "header length " + std::to_string(headerLength) + " exceeds the file (" + std::to_string(size)
                + " bytes, at most " + std::to_string(size - 8) + " available)");
    if (headerLength > kSafetensorsMaxHeader)
        fail(source, "header length " + std::to_string(headerLength) + " exceeds the limit of "
                + std::to_string(kSafetensorsMaxHeader) + " bytes");
    if (headerLength < 2)
        fail(source, "header length " + std::to_string(headerLength) + " is too short for a JSON object");

    SafetensorsHeader header;
    header.dataStart = 8 + headerLength;
    const uint64_t dataSize = size - header.dataStart;
    const char* text = reinterpret_cast<const char*>(data + 8);

    // nlohmann keeps the last of duplicate keys silently; the callback sees every top-level key.
    std::set<std::string> seen;
    std::string duplicate;
    Json json;
    try {
        json = Json::parse(text, text + headerLength,
            [&](int depth, Json::parse_event_t event, Json& parsed) {
                if (event == Json::parse_event_t::key && depth == 1 && duplicate.empty()
                    && !seen.insert(parsed.get<std::string>()).second)
                    duplicate = parsed.get<std::string>();
                return true;
            });
    } catch (const Json::exception& error) {
        fail(source, std::string("header is not valid JSON (") + error.what() + ")");
    }
    if (!duplicate.empty())
        fail(source, "tensor name '" + duplicate + "' appears more than once in the header");
    if (!json.is_object())
        fail(source, "header: expected a JSON object, found " + std::string(json.type_name()));

    for (const auto& [name, value] : json.items()) {
        if (name == "__metadata__") {
            if (!value.is_object())
                fail(source, "__metadata__: expected an object of strings, found " + std::string(value.type_name()));
            for (const auto& [key, entry] : value.items()) {
                if (!entry.is_string())
                    fail(source, "__metadata__ key '" + key + "': expected a string, found " + entry.dump());
                header.metadata[key] = entry.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor '" + name + "'";
        if (!value.is_object())
            fail(source, where + ": expected an object with dtype, shape, data_offsets, found " + value.dump());
        SafetensorsEntry entry;
        entry.name = name;
        const auto dtype = value.find("dtype");
        const auto shape = value.find("shape");
        const auto offsets = value.find("data_offsets");
        if (dtype == value.end() || shape == value.end() || offsets == value.end())
            fail(source, where + ": expected keys dtype, shape and data_offsets, found " + value.dump());
        if (!dtype->is_string())
            fail(source, where + ": dtype: expected one of " + knownDtypes() + ", found " + dtype->dump());
        entry.dtype = dtype->get<std::string>();
        const size_t elementSize = safetensorsElementSize(entry.dtype);
        if (elementSize == 0)
            fail(source, where + ": unknown dtype '" + entry.dtype + "', expected one of " + knownDtypes());
        if (!shape->is_array())
            fail(source, where + ": shape: expected an array of sizes, found " + shape->dump());
        // Element count with overflow checks: a dimension list may claim more than any file holds.
        uint64_t bytes = elementSize;
        bool overflow = false;
        for (const auto& dim : *shape) {
            const uint64_t d = asUnsigned(dim, source, where + ": shape");
            if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                fail(source, where + ": shape: dimension " + std::to_string(d) + " is too large");
            entry.shape.push_back(static_cast<int64_t>(d));
            if (d != 0 && bytes > std::numeric_limits<uint64_t>::max() / d)
                overflow = true;
            else
                bytes *= d;
        }
        if (std::find(entry.shape.begin(), entry.shape.end(), 0) != entry.shape.end())
            bytes = 0, overflow = false;
        if (!offsets->is_array() || offsets->size() != 2)
            fail(source, where + ": data_offsets: expected [begin, end], found " + offsets->dump());
        entry.begin = asUnsigned((*offsets)[0], source, where + ": data_offsets");
        entry.end = asUnsigned((*offsets)[1], source, where + ": data_offsets");
        if (entry.begin > entry.end || entry.end > dataSize)
            fail(source, where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end)
                    + "] out of range: expected 0 <= begin <= end <= " + std::to_string(dataSize)
                    + " (data section size)");
        if (overflow || bytes != entry.end - entry.begin)
            fail(source, where + ": size mismatch: dtype " + entry.dtype + " × shape needs "
                    + (overflow ? std::string("more than 2^64") : std::to_string(bytes)) + " bytes, data_offsets span "
                    + std::to_string(entry.end - entry.begin));
        header.entries.push_back(std::move(entry));
    }

    std::vector<const SafetensorsEntry*> byOffset;
    for (const auto& entry : header.entries)
        if (entry.end > entry.begin)
            byOffset.push_back(&entry);
    std::sort(byOffset.begin(), byOffset.end(),
        [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < byOffset.size(); ++i)
        if (byOffset[i]->begin < byOffset[i - 1]->end)
            fail(source, "tensors '" + byOffset[i - 1]->name + "' [" + std::to_string(byOffset[i - 1]->begin) + ", "
                    + std::to_string(byOffset[i - 1]->end) + "] and '" + byOffset[i]->name + "' ["
                    + std::to_string(byOffset[i]->begin) + ", " + std::to_string(byOffset[i]->end) + "] overlap");
    return header;
}

} // namespace dr2
