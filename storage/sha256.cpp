#include "storage/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace dr2 {
namespace {

    struct DigestContextDeleter {
        void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
    };
    using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

    DigestContext newSha256Context(const std::string& what)
    {
        DigestContext context(EVP_MD_CTX_new());
        if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
            throw std::runtime_error("SHA-256 of " + what + ": OpenSSL could not initialise the digest");
        return context;
    }

    std::string finish(EVP_MD_CTX* context, const std::string& what)
    {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        if (EVP_DigestFinal_ex(context, digest, &length) != 1)
            throw std::runtime_error("SHA-256 of " + what + ": OpenSSL could not finish the digest");
        static const char* hex = "0123456789abcdef";
        std::string text;
        for (unsigned int i = 0; i < length; ++i) {
            text += hex[digest[i] >> 4];
            text += hex[digest[i] & 15];
        }
        return text;
    }

} // namespace

std::string sha256OfFile(const std::string& path)
{
    const std::string what = "'" + path + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file)
        throw std::runtime_error("SHA-256 of " + what + ": cannot open: " + std::strerror(errno));
    DigestContext context = newSha256Context(what);
    std::vector<unsigned char> buffer(1 << 20);
    while (true) {
        const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
        if (n > 0 && EVP_DigestUpdate(context.get(), buffer.data(), n) != 1)
            throw std::runtime_error("SHA-256 of " + what + ": OpenSSL digest update failed");
        if (n < buffer.size()) {
            if (std::ferror(file.get()))
                throw std::runtime_error("SHA-256 of " + what + ": read error: " + std::strerror(errno));
            break;
        }
    }
    return finish(context.get(), what);
}

std::string sha256OfBytes(const void* data, size_t size)
{
    DigestContext context = newSha256Context("a buffer");
    if (EVP_DigestUpdate(context.get(), data, size) != 1)
        throw std::runtime_error("SHA-256 of a buffer: OpenSSL digest update failed");
    return finish(context.get(), "a buffer");
}

} // namespace dr2
