#include "training/train_events.h"

namespace dr2 {

std::string toString(RunOutcome outcome)
{
    switch (outcome) {
    case RunOutcome::Finished:
        return "finished";
    case RunOutcome::Failed:
        return "failed";
    case RunOutcome::Cancelled:
        return "cancelled";
    }
    return "?";
}

bool RunSetup::operator==(const RunSetup& other) const
{
    return backbone == other.backbone && task == other.task && dataset == other.dataset && dataRoot == other.dataRoot
        && classes == other.classes;
}

} // namespace dr2
