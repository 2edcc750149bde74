#pragma once

#include "core/grad_probe.h"
#include "training/schedule.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// Sent once when a run starts (or resumes).
struct RunStartedEvent {
    std::string name;
    std::string strategy;
    std::string configJson; ///< the full, validated config
    std::string modelSummary; ///< e.g. "vit 192d×12 (24 branches), 56² patch 4, 5 classes"
    std::string device; ///< describeDevice() line
    int threads = 1;
    int64_t parameters = 0;
    int64_t trainableParameters = 0;
    int64_t branches = 0;
    int64_t iterationsPerEpoch = 0;
    int64_t totalIterations = 0;
    int64_t startIteration = 0; ///< > 0 when resumed
    std::vector<std::pair<int64_t, Coefficients>> plannedPath; ///< (iteration, α/β) at each schedule update
};

/// Sent after every optimizer step.
struct IterationEvent {
    int64_t iteration = 0;
    int64_t epoch = 0;
    double loss = 0.0;
    double learningRate = 0.0;
    double alpha = 1.0;
    double beta = 0.0;
    double gradNorm = 0.0; ///< global gradient norm before clipping
    double stepSeconds = 0.0;
    double samplesPerSecond = 0.0;
    int64_t currentBytes = 0; ///< tensor bytes alive after the step
    int64_t peakBytes = 0; ///< highest tensor bytes during the step
    int64_t heldBytes = 0; ///< tensor bytes alive before the step (parameters, gradients, optimizer state, batch)
    int64_t segmentLength = 0; ///< reversible segment length in branches (0: not reversible)
};

/// Sent after each evaluation on the validation set.
struct EvaluationEvent {
    int64_t iteration = 0;
    int64_t epoch = 0;
    double loss = 0.0;
    double top1 = 0.0; ///< fraction in [0, 1]
    double top5 = 0.0;
    int64_t samples = 0;
};

/// Sent after each gradient-error probe at the current α, β.
struct ProbeEvent {
    int64_t iteration = 0;
    GradErrorReport report;
};

/// Sent when the error-bounded segment choice changes the segment length.
struct SegmentEvent {
    int64_t iteration = 0;
    double alpha = 0.0;
    double beta = 0.0;
    int64_t segmentLength = 0;
    double measuredMse = 0.0;
};

/// Sent once when the automatic end point was chosen from probes along the path.
struct AutoEndEvent {
    Coefficients chosen;
    double targetMse = 0.0;
    std::vector<std::pair<Coefficients, double>> probes; ///< (point, MSE) in path order
};

/// Sent when a run ends, whatever the reason.
struct RunFinishedEvent {
    std::string status; ///< finished | failed | cancelled
    std::string message; ///< why it failed, or empty
    int64_t iterations = 0; ///< iterations completed
    double bestTop1 = 0.0;
    double finalTop1 = 0.0;
    double finalLoss = 0.0;
    int64_t peakBytes = 0; ///< highest tensor bytes of any step (everything alive: data, model, optimizer)
    int64_t peakStepBytes = 0; ///< highest peak above the bytes held before a step (activations, temporaries)
    double seconds = 0.0;
    double secondsPerIteration = 0.0;
    std::string checkpointPath; ///< last resumable checkpoint, if any
};

/// Receives Trainer events on the training thread. Implementations must return quickly (queue the work).
class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    virtual void onStarted(const RunStartedEvent&) { }
    virtual void onIteration(const IterationEvent&) { }
    virtual void onEvaluation(const EvaluationEvent&) { }
    virtual void onProbe(const ProbeEvent&) { }
    virtual void onSegmentChange(const SegmentEvent&) { }
    virtual void onAutoEnd(const AutoEndEvent&) { }
    virtual void onLog(const std::string& /*level*/, const std::string& /*text*/) { }
    virtual void onFinished(const RunFinishedEvent&) { }
};

} // namespace dr2
