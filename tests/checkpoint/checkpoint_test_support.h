#pragma once

#include "core/safetensors.h"
#include "core/state_dict.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace dr2::test {

/// A fixture file made by tests/fixtures/make_vit_checkpoints.py or make_swin_checkpoints.py.
inline std::string fixture(const std::string& name)
{
    return std::string(DR2_CHECKPOINT_FIXTURES) + "/" + name;
}

/// Tensor `name` of a safetensors fixture (a test failure, and an undefined tensor, when it is not there).
inline torch::Tensor fixtureTensor(const std::string& file, const std::string& name)
{
    const SafetensorsContents contents = readSafetensors(fixture(file));
    const torch::Tensor* tensor = findTensor(contents.tensors, name);
    EXPECT_NE(tensor, nullptr) << file << ": " << name;
    return tensor ? *tensor : torch::Tensor();
}

/// max |a − b| in float64.
inline double maxAbs(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

/// A per-process scratch directory, created on first use.
inline std::filesystem::path scratchDir()
{
    static const std::filesystem::path dir = [] {
        auto path = std::filesystem::temp_directory_path() / ("dr2_checkpoint_tests_" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
        return path;
    }();
    return dir;
}

/// Writes raw bytes to a scratch file and returns its path.
inline std::string writeBytes(const std::string& name, const std::string& bytes)
{
    std::string path = (scratchDir() / name).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

/// Runs `body`, expects it to throw std::exception, and returns the message.
template <typename Body>
std::string errorOf(Body&& body)
{
    try {
        body();
    } catch (const std::exception& error) {
        return error.what();
    }
    ADD_FAILURE() << "expected an exception";
    return {};
}

} // namespace dr2::test
