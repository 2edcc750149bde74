#include "app/cli/progress_printer.h"

#include "app/cli/text_table.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace dr2::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void onInterrupt(int)
{
    // A second Ctrl-C falls back to the default action (terminate) for an impatient user.
    g_interrupted = 1;
    std::signal(SIGINT, SIG_DFL);
}

std::string formatDuration(double seconds)
{
    const long s = std::lround(seconds);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}

} // namespace

ProgressPrinter::ProgressPrinter(Style style, std::ostream& out, std::function<void()> cancel)
    : m_style(style)
    , m_out(out)
    , m_cancel(std::move(cancel))
{
}

ProgressPrinter::Style ProgressPrinter::chooseStyle(bool json)
{
    if (json)
        return Style::Json;
    return isatty(STDOUT_FILENO) ? Style::Terminal : Style::Lines;
}

void ProgressPrinter::installInterruptHandler()
{
    g_interrupted = 0;
    std::signal(SIGINT, onInterrupt);
}

void ProgressPrinter::endBar()
{
    if (m_barOpen) {
        m_out << '\n';
        m_barOpen = false;
    }
}

void ProgressPrinter::onStarted(const RunStartedEvent& e)
{
    m_total = e.totalIterations;
    m_perEpoch = std::max<int64_t>(1, e.iterationsPerEpoch);
    m_start = e.startIteration;
    m_startTime = std::chrono::steady_clock::now();
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "started" }, { "name", e.name }, { "strategy", e.strategy },
                     { "model", e.modelSummary }, { "device", e.device }, { "threads", e.threads },
                     { "parameters", e.parameters }, { "trainable_parameters", e.trainableParameters },
                     { "branches", e.branches }, { "iterations_per_epoch", e.iterationsPerEpoch },
                     { "total_iterations", e.totalIterations }, { "start_iteration", e.startIteration } }
                     .dump()
              << std::endl;
        return;
    }
    m_out << "run " << e.name << ": " << e.strategy << ", " << e.modelSummary << "\n"
          << "  " << e.device << ", " << e.threads << " threads, " << e.parameters << " parameters ("
          << e.trainableParameters << " trainable), " << e.totalIterations << " iterations ("
          << e.iterationsPerEpoch << " per epoch)" << (e.startIteration ? ", resuming at " + std::to_string(e.startIteration) : "")
          << std::endl;
}

void ProgressPrinter::onIteration(const IterationEvent& e)
{
    if (g_interrupted && !m_cancelRequested) {
        m_cancelRequested = true;
        onLog("info", "interrupted: finishing this iteration, saving a checkpoint");
        if (m_cancel)
            m_cancel();
    }
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "iteration" }, { "iteration", e.iteration }, { "epoch", e.epoch },
                     { "loss", e.loss }, { "lr", e.learningRate }, { "alpha", e.alpha }, { "beta", e.beta },
                     { "grad_norm", e.gradNorm }, { "step_s", e.stepSeconds }, { "samples_per_s", e.samplesPerSecond },
                     { "current_bytes", e.currentBytes }, { "peak_bytes", e.peakBytes }, { "held_bytes", e.heldBytes },
                     { "segment_length", e.segmentLength } }
                     .dump()
              << std::endl;
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool last = e.iteration + 1 >= m_total;
    if (!last && now - m_lastPrint < std::chrono::milliseconds(m_style == Style::Terminal ? 100 : 5000))
        return;
    m_lastPrint = now;
    const double elapsed = std::chrono::duration<double>(now - m_startTime).count();
    const int64_t done = e.iteration + 1 - m_start;
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(m_total - e.iteration - 1) : 0.0;
    char line[256];
    std::snprintf(line, sizeof line, "epoch %lld it %lld/%lld  loss %.4f  α %.3f β %.3f  mem %s  %.2f s/it  ETA %s",
        static_cast<long long>(e.epoch) + 1, static_cast<long long>(e.iteration) + 1, static_cast<long long>(m_total),
        e.loss, e.alpha, e.beta, formatBytes(e.peakBytes).c_str(), e.stepSeconds, formatDuration(eta).c_str());
    if (m_style == Style::Terminal) {
        const int width = 24;
        const int filled = m_total ? static_cast<int>(width * (e.iteration + 1) / m_total) : width;
        m_out << "\r[" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(width - filled), ' ')
              << "] " << line << "\x1b[K" << std::flush;
        m_barOpen = true;
    } else {
        m_out << line << std::endl;
    }
}

void ProgressPrinter::onEvaluation(const EvaluationEvent& e)
{
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "evaluation" }, { "iteration", e.iteration }, { "epoch", e.epoch },
                     { "loss", e.loss }, { "top1", e.top1 }, { "top5", e.top5 }, { "samples", e.samples } }
                     .dump()
              << std::endl;
        return;
    }
    endBar();
    char line[160];
    std::snprintf(line, sizeof line, "eval epoch %lld: loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%lld images)",
        static_cast<long long>(e.epoch) + 1, e.loss, 100.0 * e.top1, 100.0 * e.top5, static_cast<long long>(e.samples));
    m_out << line << std::endl;
}

void ProgressPrinter::onProbe(const ProbeEvent& e)
{
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "probe" }, { "iteration", e.iteration }, { "alpha", e.report.alpha },
                     { "beta", e.report.beta }, { "mse", e.report.overall.mse }, { "max_abs", e.report.overall.maxAbs },
                     { "rel_l2", e.report.overall.relL2 }, { "finite", e.report.finite } }
                     .dump()
              << std::endl;
    }
}

void ProgressPrinter::onSegmentChange(const SegmentEvent& e)
{
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "segments" }, { "iteration", e.iteration }, { "alpha", e.alpha },
                     { "beta", e.beta }, { "segment_length", e.segmentLength }, { "mse", e.measuredMse } }
                     .dump()
              << std::endl;
        return;
    }
    endBar();
    m_out << "segments: " << e.segmentLength << " branches at α " << formatNumber(e.alpha, 3) << ", β "
          << formatNumber(e.beta, 3) << " (probe MSE " << formatNumber(e.measuredMse, 3) << ")" << std::endl;
}

void ProgressPrinter::onAutoEnd(const AutoEndEvent& e)
{
    if (m_style == Style::Json) {
        auto probes = nlohmann::json::array();
        for (const auto& [point, mse] : e.probes)
            probes.push_back({ { "alpha", point.alpha }, { "beta", point.beta }, { "mse", mse } });
        m_out << nlohmann::json { { "event", "auto_end" }, { "alpha", e.chosen.alpha }, { "beta", e.chosen.beta },
                     { "target_mse", e.targetMse }, { "probes", probes } }
                     .dump()
              << std::endl;
    }
}

void ProgressPrinter::onLog(const std::string& level, const std::string& text)
{
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "log" }, { "level", level }, { "text", text } }.dump() << std::endl;
        return;
    }
    endBar();
    m_out << (level == "info" ? "" : level + ": ") << text << std::endl;
}

void ProgressPrinter::onFinished(const RunFinishedEvent& e)
{
    if (m_style == Style::Json) {
        m_out << nlohmann::json { { "event", "finished" }, { "status", e.status }, { "message", e.message },
                     { "iterations", e.iterations }, { "best_top1", e.bestTop1 }, { "final_top1", e.finalTop1 },
                     { "final_loss", e.finalLoss }, { "peak_bytes", e.peakBytes }, { "peak_step_bytes", e.peakStepBytes }, { "seconds", e.seconds },
                     { "seconds_per_iteration", e.secondsPerIteration }, { "checkpoint", e.checkpointPath } }
                     .dump()
              << std::endl;
        return;
    }
    endBar();
    char line[256];
    std::snprintf(line, sizeof line,
        "%s after %lld iterations: final top-1 %.2f%% (best %.2f%%), peak %s (%s above held), %s (%.3f s/it)",
        e.status.c_str(), static_cast<long long>(e.iterations), 100.0 * e.finalTop1, 100.0 * e.bestTop1,
        formatBytes(e.peakBytes).c_str(), formatBytes(e.peakStepBytes).c_str(), formatDuration(e.seconds).c_str(),
        e.secondsPerIteration);
    m_out << line << std::endl;
    if (!e.message.empty())
        m_out << e.message << std::endl;
}

} // namespace dr2::cli
