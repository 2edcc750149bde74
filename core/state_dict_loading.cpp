#include "core/state_dict_loading.h"

#include <torch/torch.h>

#include <map>
#include <set>
#include <stdexcept>

namespace dr2 {

StateDictCopyReport copyStateDict(torch::nn::Module& module, const StateDict& tensors, const StateDictCopyOptions& options)
{
    auto external = [&](const std::string& name) { return options.externalName ? options.externalName(name) : name; };
    const std::string prefix = "loading checkpoint " + options.source + ": ";
    std::map<std::string, torch::Tensor> targets;
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        targets[item.key()] = item.value();
    for (const auto& item : module.named_buffers(/*recurse=*/true))
        targets[item.key()] = item.value();

    StateDictCopyReport report;
    std::set<std::string> loaded;
    bool converted = false;
    torch::NoGradGuard noGrad;
    for (const auto& [name, source] : tensors) {
        if (options.skip && options.skip(name)) {
            report.skipped.emplace_back(name, source);
            continue;
        }
        const std::string fileName = external(name);
        auto target = targets.find(name);
        if (target == targets.end()) {
            report.unexpectedKeys.push_back(fileName);
            continue;
        }
        torch::Tensor value = options.adapt ? options.adapt(name, source, target->second, report.notes) : source;
        if (value.sizes() != target->second.sizes())
            throw std::runtime_error(prefix + "tensor " + fileName + ": expected " + c10::str(target->second.sizes())
                + ", found " + c10::str(value.sizes()));
        if (value.is_floating_point() && !torch::isfinite(value).all().item<bool>())
            report.nanTensors.push_back(fileName);
        if (value.scalar_type() != target->second.scalar_type() && !converted) {
            report.notes.push_back(std::string("converted ") + c10::toString(value.scalar_type()) + " tensors to "
                + c10::toString(target->second.scalar_type()));
            converted = true;
        }
        target->second.copy_(value);
        loaded.insert(name);
    }
    for (const auto& [name, tensor] : targets) {
        if (loaded.count(name) || (options.skip && options.skip(name)) || (options.optional && options.optional(name)))
            continue;
        report.missingKeys.push_back(name);
    }
    if (!report.missingKeys.empty() && !options.allowMissing) {
        std::string names;
        for (size_t i = 0; i < report.missingKeys.size() && i < 6; ++i)
            names += (i ? ", " : "") + external(report.missingKeys[i]);
        throw std::runtime_error(prefix + std::to_string(report.missingKeys.size())
            + " tensors of the inferred architecture are missing from the file: " + names
            + (report.missingKeys.size() > 6 ? ", ..." : ""));
    }
    return report;
}

} // namespace dr2
