#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dr2 {

/// Writes a file so that it either appears complete under its final name or not at all.
///
/// The data goes to a temporary file in the same directory (".NAME.tmp-PID-N"), which commit() flushes with
/// fsync and renames over `path` (then fsyncs the directory). Until commit(), `path` is untouched; if a write
/// fails (full disk, file-size limit, permissions) or the object is destroyed without commit(), the temporary
/// file is removed. Errors throw std::runtime_error naming the path and the cause (ENOSPC, EFBIG, EACCES, ...).
class AtomicFile {
public:
    /// Creates the temporary file next to `path`; throws if the directory is not writable.
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    /// Appends bytes. On failure the temporary file is removed and the object is unusable.
    void write(const void* data, size_t size);
    /// Appends a string.
    void write(std::string_view text) { write(text.data(), text.size()); }
    /// Bytes written so far.
    size_t size() const { return m_written; }
    /// Flushes to disk and renames to the final path.
    void commit();
    /// The final path.
    const std::string& path() const { return m_path; }
    /// The temporary path (exists until commit() or destruction).
    const std::string& temporaryPath() const { return m_temporaryPath; }

private:
    [[noreturn]] void fail(const std::string& action, int error);
    void discard();

    std::string m_path;
    std::string m_temporaryPath;
    int m_fd = -1;
    size_t m_written = 0;
    bool m_committed = false;
};

/// Writes `contents` to `path` atomically (AtomicFile in one call).
void writeFileAtomically(const std::string& path, std::string_view contents);

} // namespace dr2
