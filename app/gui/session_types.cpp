#include "app/gui/session_types.h"

namespace dr2 {

void registerSessionTypes()
{
    qRegisterMetaType<RunStartedInfo>();
    qRegisterMetaType<RunProgress>();
    qRegisterMetaType<EvaluationInfo>();
    qRegisterMetaType<ProbeInfo>();
    qRegisterMetaType<SegmentInfo>();
    qRegisterMetaType<RunFinishedInfo>();
    qRegisterMetaType<SweepResult>();
}

} // namespace dr2
