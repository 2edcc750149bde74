#include "core/checkpoint.h"

#include "core/safetensors.h"
#include "core/torch_pickle.h"

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <fstream>
#include <stdexcept>

namespace dr2 {

namespace {

constexpr const char* kTried = "tried safetensors, torch.save zip (PyTorch >= 1.6) and TorchScript";

bool isZip(const std::string& head)
{
    return head.size() >= 4 && head.compare(0, 4, "PK\x03\x04", 4) == 0;
}

// c10::Error messages carry a backtrace; keep the first line.
std::string firstLine(const std::string& text)
{
    return text.substr(0, text.find('\n'));
}

void readZip(LoadedCheckpoint& checkpoint)
{
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
    try {
        archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(checkpoint.path);
    } catch (const c10::Error& error) {
        throw std::runtime_error("checkpoint " + checkpoint.path + ": a zip archive but not a PyTorch archive ("
            + firstLine(error.what_without_backtrace()) + "); " + kTried);
    }
    // torch.jit.save always writes constants.pkl and code/; torch.save writes neither.
    const bool hasCode = archive->hasRecord("constants.pkl");
    if (!archive->hasRecord("data.pkl"))
        throw std::runtime_error("checkpoint " + checkpoint.path
            + ": a zip archive but not a PyTorch archive (no data.pkl record); " + kTried);
    if (!hasCode) {
        checkpoint.format = CheckpointFormat::TorchSave;
        TorchSaveContents contents = readTorchSave(*archive, checkpoint.path);
        checkpoint.tensors = std::move(contents.tensors);
        if (!contents.containerKey.empty())
            checkpoint.notes.push_back("state dict read from key '" + contents.containerKey + "'");
        return;
    }
    archive.reset();
    checkpoint.format = CheckpointFormat::TorchScript;
    torch::jit::Module module;
    try {
        module = torch::jit::load(checkpoint.path, c10::Device(c10::kCPU));
    } catch (const c10::Error& error) {
        throw std::runtime_error("TorchScript archive " + checkpoint.path + ": " + firstLine(error.what_without_backtrace()));
    }
    for (const auto& parameter : module.named_parameters(/*recurse=*/true))
        checkpoint.tensors.emplace_back(parameter.name, parameter.value.detach());
    for (const auto& buffer : module.named_buffers(/*recurse=*/true))
        checkpoint.tensors.emplace_back(buffer.name, buffer.value.detach());
}

void stripDataParallelPrefix(LoadedCheckpoint& checkpoint)
{
    const std::string prefix = "module.";
    if (checkpoint.tensors.empty())
        return;
    for (const auto& [name, tensor] : checkpoint.tensors)
        if (name.compare(0, prefix.size(), prefix) != 0)
            return;
    for (auto& [name, tensor] : checkpoint.tensors)
        name.erase(0, prefix.size());
    checkpoint.notes.push_back("DataParallel prefix 'module.' stripped");
}

} // namespace

std::string toString(CheckpointFormat format)
{
    switch (format) {
    case CheckpointFormat::Safetensors: return "safetensors";
    case CheckpointFormat::TorchSave: return "torch.save";
    case CheckpointFormat::TorchScript: return "torchscript";
    }
    return "unknown";
}

LoadedCheckpoint readCheckpoint(const std::string& path)
{
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw std::runtime_error("checkpoint " + path + ": cannot open the file");
    std::string head(16, '\0');
    file.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(file.gcount()));
    file.close();

    LoadedCheckpoint checkpoint;
    checkpoint.path = path;
    if (head.empty())
        throw std::runtime_error("checkpoint " + path + ": the file is empty; " + kTried);
    if (isZip(head)) {
        readZip(checkpoint);
    } else if (static_cast<uint8_t>(head[0]) == 0x80 && head.size() > 1 && head[1] <= 5) {
        throw std::runtime_error("checkpoint " + path
            + ": a legacy (PyTorch < 1.6, non-zip) torch.save file; re-save it with a current torch.save; " + kTried);
    } else if (head.size() > 8 && head[8] == '{') {
        checkpoint.format = CheckpointFormat::Safetensors;
        SafetensorsContents contents = readSafetensors(path);
        checkpoint.tensors = std::move(contents.tensors);
        checkpoint.metadata = std::move(contents.metadata);
    } else {
        // Not obviously anything: let the safetensors parser say what is wrong, and list what was tried.
        try {
            SafetensorsContents contents = readSafetensors(path);
            checkpoint.format = CheckpointFormat::Safetensors;
            checkpoint.tensors = std::move(contents.tensors);
            checkpoint.metadata = std::move(contents.metadata);
        } catch (const std::runtime_error& error) {
            throw std::runtime_error("checkpoint " + path + ": unrecognised format (" + kTried
                + "; no zip signature; as safetensors: " + error.what() + ")");
        }
    }
    stripDataParallelPrefix(checkpoint);
    return checkpoint;
}

} // namespace dr2
