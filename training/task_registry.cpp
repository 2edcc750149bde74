#include "training/task_registry.h"

#include "training/tasks/classification/classification_task.h"
#include "training/tasks/segmentation/segmentation_task.h"

#include <stdexcept>

namespace dr2 {

TaskOptions taskOptions(const std::string& name, int64_t numClasses)
{
    TaskOptions options;
    options.name = name;
    options.numClasses = numClasses;
    return options;
}

// The one place that names concrete tasks.
std::unique_ptr<Task> createTask(const TaskOptions& options)
{
    if (options.name == "classification")
        return std::make_unique<ClassificationTask>(options.numClasses, options.labelSmoothing);
    if (options.name == "segmentation") {
        std::vector<std::string> names = options.classNames;
        for (int64_t c = static_cast<int64_t>(names.size()); c < options.numClasses; ++c)
            names.push_back("class " + std::to_string(c));
        return std::make_unique<SegmentationTask>(std::move(names), options.headDim);
    }
    std::string names;
    for (const auto& n : taskNames())
        names += (names.empty() ? "" : ", ") + n;
    throw std::invalid_argument("task '" + options.name + "': expected one of " + names);
}

std::vector<std::string> taskNames()
{
    return { "classification", "segmentation" };
}

} // namespace dr2
