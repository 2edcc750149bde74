#include "storage/atomic_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace dr2 {
namespace {

    std::string describeErrno(int error)
    {
        switch (error) {
        case ENOSPC:
            return "no space left on the device (ENOSPC)";
        case EDQUOT:
            return "disk quota exceeded (EDQUOT)";
        case EFBIG:
            return "file too large for the file-size limit or the file system (EFBIG)";
        case EACCES:
        case EPERM:
            return std::string("permission denied (") + (error == EACCES ? "EACCES" : "EPERM") + ")";
        case EROFS:
            return "read-only file system (EROFS)";
        case ENOENT:
            return "the directory does not exist (ENOENT)";
        case ENOTDIR:
            return "a component of the path is not a directory (ENOTDIR)";
        case EIO:
            return "input/output error (EIO)";
        default:
            return std::strerror(error);
        }
    }

    std::string directoryOf(const std::string& path)
    {
        const auto slash = path.rfind('/');
        if (slash == std::string::npos)
            return ".";
        return slash == 0 ? "/" : path.substr(0, slash);
    }

    std::string baseNameOf(const std::string& path)
    {
        const auto slash = path.rfind('/');
        return slash == std::string::npos ? path : path.substr(slash + 1);
    }

    std::atomic<unsigned> g_counter { 0 };

} // namespace

AtomicFile::AtomicFile(std::string path)
    : m_path(std::move(path))
{
    if (m_path.empty() || m_path.back() == '/')
        throw std::invalid_argument("output file '" + m_path + "': expected a file name");
    m_temporaryPath = directoryOf(m_path) + "/." + baseNameOf(m_path) + ".tmp-" + std::to_string(::getpid()) + "-"
        + std::to_string(g_counter++);
    m_fd = ::open(m_temporaryPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (m_fd < 0) {
        const int error = errno;
        throw std::runtime_error("writing '" + m_path + "': cannot create a temporary file in '" + directoryOf(m_path)
            + "': " + describeErrno(error));
    }
}

AtomicFile::~AtomicFile()
{
    if (!m_committed)
        discard();
}

void AtomicFile::discard()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    if (!m_temporaryPath.empty())
        ::unlink(m_temporaryPath.c_str());
    m_temporaryPath.clear();
}

void AtomicFile::fail(const std::string& action, int error)
{
    const size_t written = m_written;
    discard();
    throw std::runtime_error("writing '" + m_path + "': " + action + " failed after " + std::to_string(written)
        + " bytes: " + describeErrno(error) + "; no file was written");
}

void AtomicFile::write(const void* data, size_t size)
{
    if (m_fd < 0)
        throw std::logic_error("writing '" + m_path + "': the file was already committed or has failed");
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
        // Bounded chunks keep a short write on a nearly full disk from retrying a huge buffer.
        const size_t chunk = size < (size_t(1) << 30) ? size : (size_t(1) << 30);
        const ssize_t n = ::write(m_fd, bytes, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("write", errno);
        }
        if (n == 0)
            fail("write", ENOSPC);
        bytes += n;
        size -= static_cast<size_t>(n);
        m_written += static_cast<size_t>(n);
    }
}

void AtomicFile::commit()
{
    if (m_fd < 0)
        throw std::logic_error("writing '" + m_path + "': the file was already committed or has failed");
    // Delayed allocation can report ENOSPC only at fsync or close, so both are checked.
    if (::fsync(m_fd) != 0)
        fail("flushing (fsync)", errno);
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) {
        const int error = errno;
        m_fd = -1;
        ::unlink(m_temporaryPath.c_str());
        m_temporaryPath.clear();
        throw std::runtime_error(
            "writing '" + m_path + "': closing failed: " + describeErrno(error) + "; no file was written");
    }
    if (::rename(m_temporaryPath.c_str(), m_path.c_str()) != 0) {
        const int error = errno;
        ::unlink(m_temporaryPath.c_str());
        m_temporaryPath.clear();
        throw std::runtime_error("writing '" + m_path
            + "': renaming the temporary file into place failed: " + describeErrno(error) + "; no file was written");
    }
    m_committed = true;
    // Make the rename itself durable; failure here does not un-write the file, so it is not an error.
    const int directory = ::open(directoryOf(m_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory >= 0) {
        ::fsync(directory);
        ::close(directory);
    }
}

void writeFileAtomically(const std::string& path, std::string_view contents)
{
    AtomicFile file(path);
    file.write(contents);
    file.commit();
}

} // namespace dr2
