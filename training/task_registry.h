#pragma once

#include "training/task.h"

#include <memory>
#include <string>
#include <vector>

namespace dr2 {

/// What a task needs to know from the run's config and data.
struct TaskOptions {
    std::string name = "classification";
    int64_t numClasses = 0; ///< classification: classes in the data
    double labelSmoothing = 0.0; ///< classification: of the training loss
};

/// The task registered under options.name; throws std::invalid_argument listing taskNames().
std::unique_ptr<Task> createTask(const TaskOptions& options);
/// The registered task names (the config's "task" choices).
std::vector<std::string> taskNames();

} // namespace dr2
