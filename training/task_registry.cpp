#include "training/task_registry.h"

#include "training/tasks/classification/classification_task.h"

#include <stdexcept>

namespace dr2 {

// The one place that names concrete tasks.
std::unique_ptr<Task> createTask(const TaskOptions& options)
{
    if (options.name == "classification")
        return std::make_unique<ClassificationTask>(options.numClasses, options.labelSmoothing);
    std::string names;
    for (const auto& n : taskNames())
        names += (names.empty() ? "" : ", ") + n;
    throw std::invalid_argument("task '" + options.name + "': expected one of " + names);
}

std::vector<std::string> taskNames()
{
    return { "classification" };
}

} // namespace dr2
