#pragma once

// Small helpers the families' loaders share to take tensor names apart and rename them
// ("blocks.3.attn.qkv.weight" → layer 3, "attn.qkv.weight").

#include <cctype>
#include <cstdint>
#include <string>

namespace dr2::tensor_names {

inline bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

inline bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// "prefix<digits>.rest" → index and rest; false for any other shape (at most 9 digits, so no overflow).
inline bool splitIndexed(const std::string& name, const std::string& prefix, int64_t& index, std::string& rest)
{
    if (!startsWith(name, prefix))
        return false;
    const size_t pos = prefix.size();
    size_t end = pos;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end])) && end - pos < 9)
        ++end;
    if (end == pos || end >= name.size() || name[end] != '.')
        return false;
    index = std::stoll(name.substr(pos, end - pos));
    rest = name.substr(end + 1);
    return true;
}

/// Applies `from → to` when `name` is `from` (a whole-name rule) or starts with it (a prefix rule: `from` ends in '.').
inline bool applyRule(const std::string& name, const std::string& from, const std::string& to, std::string& out)
{
    const bool prefix = !from.empty() && from.back() == '.';
    if (prefix ? startsWith(name, from) : name == from) {
        out = to + name.substr(from.size());
        return true;
    }
    return false;
}

} // namespace dr2::tensor_names
