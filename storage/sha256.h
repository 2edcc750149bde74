#pragma once

#include <cstddef>
#include <string>

namespace dr2 {

/// Lowercase hex SHA-256 of a file's contents (OpenSSL EVP). Throws naming the path when it cannot be read.
std::string sha256OfFile(const std::string& path);
/// Lowercase hex SHA-256 of a buffer.
std::string sha256OfBytes(const void* data, size_t size);

} // namespace dr2
