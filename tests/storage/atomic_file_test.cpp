// Atomic file writing and SHA-256: complete file or nothing, one clear error on a full disk.
#include "storage/atomic_file.h"
#include "storage/sha256.h"
#include "tests/storage/temp_dir.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dr2;

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    return contents.str();
}

} // namespace

TEST(AtomicFile, WritesCompleteFileAndLeavesNoTemporary)
{
    test::TempDir dir;
    const std::string path = dir.file("out.csv");
    writeFileAtomically(path, "a,b\n1,2\n");
    EXPECT_EQ(readFile(path), "a,b\n1,2\n");
    writeFileAtomically(path, "replaced\n");
    EXPECT_EQ(readFile(path), "replaced\n");
    EXPECT_EQ(dir.entries(), std::vector<std::string> { "out.csv" });
}

TEST(AtomicFile, UncommittedFileLeavesNothing)
{
    test::TempDir dir;
    const std::string path = dir.file("export.bin");
    writeFileAtomically(path, "old");
    {
        AtomicFile file(path);
        file.write("new contents that are never committed");
        EXPECT_EQ(readFile(path), "old"); // the final name is untouched until commit
    }
    EXPECT_EQ(readFile(path), "old");
    EXPECT_EQ(dir.entries(), std::vector<std::string> { "export.bin" });
}

TEST(AtomicFile, MissingDirectoryGivesOneClearError)
{
    test::TempDir dir;
    const std::string path = dir.file("no/such/dir/out.csv");
    try {
        writeFileAtomically(path, "x");
        FAIL() << "wrote into a missing directory";
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find("ENOENT"), std::string::npos) << message;
    }
}

// A file-size limit (ulimit -f) stands in for a full disk: the write fails with EFBIG part way through.
// It runs in a forked child so the limit does not affect the test runner; the child reports through a pipe.
TEST(AtomicFile, FileSizeLimitFailsCleanlyWithoutPartialFile)
{
    test::TempDir dir;
    const std::string path = dir.file("big.safetensors");
    writeFileAtomically(path, "previous version");
    int pipeFds[2];
    ASSERT_EQ(::pipe(pipeFds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(pipeFds[0]);
        std::signal(SIGXFSZ, SIG_IGN); // otherwise the kernel kills the process instead of returning EFBIG
        rlimit limit { rlim_t { 64 } * 1024, rlim_t { 64 } * 1024 };
        ::setrlimit(RLIMIT_FSIZE, &limit);
        std::string message = "no error";
        try {
            AtomicFile file(path);
            const std::string block(size_t { 16 } * 1024, 'x');
            for (int i = 0; i < 64; ++i) // 1 MiB in total
                file.write(block);
            file.commit();
        } catch (const std::exception& error) {
            message = error.what();
        }
        (void)!::write(pipeFds[1], message.data(), message.size());
        ::close(pipeFds[1]);
        ::_exit(0);
    }
    ::close(pipeFds[1]);
    std::string message;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0;)
        message.append(buffer, static_cast<size_t>(n));
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "the child died instead of reporting an error";
    EXPECT_NE(message.find("EFBIG"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("no file was written"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "expected one line: " << message;
    // The old file is intact and no temporary is left behind.
    EXPECT_EQ(readFile(path), "previous version");
    EXPECT_EQ(dir.entries(), std::vector<std::string> { "big.safetensors" });
}

TEST(Sha256, MatchesKnownVectorsForBytesAndFiles)
{
    EXPECT_EQ(sha256OfBytes("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256OfBytes("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    test::TempDir dir;
    std::string big(3 * 1024 * 1024 + 17, '\0'); // more than one read buffer
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 31 % 251);
    writeFileAtomically(dir.file("big"), big);
    EXPECT_EQ(sha256OfFile(dir.file("big")), sha256OfBytes(big.data(), big.size()));
    EXPECT_THROW(sha256OfFile(dir.file("missing")), std::runtime_error);
}
