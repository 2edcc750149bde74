#pragma once

#include "core/backbone.h"
#include "core/grad_probe.h"
#include "training/schedule.h"
#include "training/task.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// How a run ended.
enum class RunOutcome {
    Finished,
    Failed, ///< NaN/Inf loss or gradient (RunFinishedEvent::message says where)
    Cancelled,
};
/// "finished", "failed" or "cancelled".
std::string toString(RunOutcome outcome);

/// What makes runs comparable in Table 2: strategies are compared only within one setup.
struct RunSetup {
    std::string backbone; ///< BackboneDescription::summary, e.g. "vit 192d×6 (12 branches, 3 heads), 40² patch 4"
    std::string task; ///< task name, e.g. "classification"
    std::string dataset; ///< config data.dataset
    std::string dataRoot; ///< config data.root
    std::vector<int64_t> classes; ///< config data.classes (empty: all)

    bool operator==(const RunSetup& other) const;
    bool operator!=(const RunSetup& other) const { return !(*this == other); }
};

/// Sent once when a run starts (or resumes).
struct RunStartedEvent {
    std::string name;
    std::string strategy;
    std::string configJson; ///< the full, validated config
    std::string modelSummary; ///< e.g. "vit 192d×12 (24 branches, 3 heads), 56² patch 4, 5 classes"
    BackboneDescription backbone; ///< family, stages, branches per stage, parameters
    std::string task; ///< task name ("classification")
    std::vector<MetricInfo> metrics; ///< what evaluations report, primary first
    RunSetup setup;
    std::string sourceCheckpoint; ///< the pretrained weights the run starts from; empty: random initialisation
    std::string checkpointDir; ///< where resumable checkpoints go (config checkpoint.dir), empty: none
    std::string device; ///< describeDevice() line
    int threads = 1;
    bool recomputeOverlap = false; ///< the reversible backward recomputes on a second thread (config recompute_overlap)
    int worldSize = 1; ///< data-parallel ranks training together (1: one process)
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
    MetricMap metrics; ///< the task's metrics, including "loss"
    int64_t samples = 0;
};

/// A few fixed validation samples with the task's dense prediction, sent after each evaluation of a dense task
/// (segmentation), because people would rather look than read. Plain bytes, so observers need no torch.
struct PredictionPreviewEvent {
    /// One sample: its input image, ground truth and prediction at the model's input size.
    struct Sample {
        std::vector<uint8_t> image; ///< height × width × channels, row-major, 0–255 (the un-normalised input)
        std::vector<uint8_t> truth; ///< height × width class indices; kIgnoreLabel (255) where no label counts
        std::vector<uint8_t> prediction; ///< height × width class indices (argmax of the head)
    };
    int64_t iteration = 0;
    int64_t epoch = 0;
    int64_t height = 0;
    int64_t width = 0;
    int64_t channels = 1; ///< 1 (grey) or 3 (RGB)
    std::vector<std::string> classNames; ///< class index → name; index 0 is "background" for the built-in scenes
    std::vector<Sample> samples;
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
    RunOutcome outcome = RunOutcome::Finished;
    std::string message; ///< why it failed, or empty
    int64_t iterations = 0; ///< iterations completed
    std::string primaryMetric; ///< the task's primary metric name ("top1")
    double bestPrimary = 0.0; ///< best value of the primary metric over the evaluations
    MetricMap finalMetrics; ///< the last evaluation (empty when none ran)
    double finalLoss = 0.0; ///< training loss of the last iteration
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
    virtual void onPreview(const PredictionPreviewEvent&) { }
    virtual void onSegmentChange(const SegmentEvent&) { }
    virtual void onAutoEnd(const AutoEndEvent&) { }
    virtual void onLog(const std::string& /*level*/, const std::string& /*text*/) { }
    virtual void onFinished(const RunFinishedEvent&) { }
};

} // namespace dr2
