#pragma once

#include "training/train_events.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <ostream>

namespace dr2::cli {

/// Prints Trainer events: a one-line progress bar on a terminal, plain lines otherwise, or one JSON object per
/// event with --json. Also turns Ctrl-C into a clean cancel at the next iteration boundary.
class ProgressPrinter : public TrainObserver {
public:
    enum class Style { Terminal, Lines, Json };
    ProgressPrinter(Style style, std::ostream& out, std::function<void()> cancel);

    /// Terminal when stdout is a TTY, else Lines; Json when asked.
    static Style chooseStyle(bool json);
    /// Installs the SIGINT handler that requests a cancel (checked at each iteration).
    static void installInterruptHandler();

    void onStarted(const RunStartedEvent& event) override;
    void onIteration(const IterationEvent& event) override;
    void onEvaluation(const EvaluationEvent& event) override;
    void onProbe(const ProbeEvent& event) override;
    void onSegmentChange(const SegmentEvent& event) override;
    void onAutoEnd(const AutoEndEvent& event) override;
    void onLog(const std::string& level, const std::string& text) override;
    void onFinished(const RunFinishedEvent& event) override;

private:
    void endBar();
    Style m_style;
    std::ostream& m_out;
    std::function<void()> m_cancel;
    int64_t m_total = 0;
    int64_t m_perEpoch = 1;
    int64_t m_start = 0;
    std::vector<MetricInfo> m_metrics; ///< the task's, from onStarted
    bool m_barOpen = false;
    bool m_cancelRequested = false;
    std::chrono::steady_clock::time_point m_startTime;
    std::chrono::steady_clock::time_point m_lastPrint;
};

} // namespace dr2::cli
