#pragma once

#include "training/task.h"

#include <memory>
#include <string>
#include <vector>

namespace dr2 {

/// What a task needs to know from the run's config and data.
struct TaskOptions {
    std::string name = "classification";
    int64_t numClasses = 0; ///< classes in the data
    double labelSmoothing = 0.0; ///< classification: of the training loss
    /// segmentation: class index → name (empty: "class 0" … "class numClasses−1")
    std::vector<std::string> classNames;
    int64_t headDim = 64; ///< segmentation: channels of the dense head
};

/// The options of task `name` with `numClasses` classes and every other option at its default.
TaskOptions taskOptions(const std::string& name, int64_t numClasses);

/// The task registered under options.name; throws std::invalid_argument listing taskNames().
std::unique_ptr<Task> createTask(const TaskOptions& options);
/// The registered task names (the config's "task" choices).
std::vector<std::string> taskNames();

} // namespace dr2
