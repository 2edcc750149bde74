#include "app/cli/progress_printer.h"

#include "app/cli/text_table.h"
#include "app/recording/recorded_run.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace dr2::cli {

namespace {

/// printf's %.Nf.
std::string formatFixed(double value, int decimals)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

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
    m_metrics = e.metrics;
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
        nlohmann::json line { { "event", "evaluation" }, { "iteration", e.iteration }, { "epoch", e.epoch } };
        for (const auto& [name, value] : e.metrics)
            line[name] = value;
        line["samples"] = e.samples;
        m_out << line.dump() << std::endl;
        return;
    }
    endBar();
    // The loss first, then the task's metrics in its order (fractions as percentages).
    std::string text = "eval epoch " + std::to_string(e.epoch + 1) + ":";
    auto it = e.metrics.find("loss");
    if (it != e.metrics.end())
        text += " loss " + formatFixed(it->second, 4);
    for (const MetricInfo& metric : m_metrics) {
        auto value = e.metrics.find(metric.name);
        if (metric.name == "loss" || value == e.metrics.end())
            continue;
        text += "  " + metric.label + " "
            + (metric.fraction ? formatFixed(100.0 * value->second, 2) + "%" : formatFixed(value->second, 4));
    }
    m_out << text << "  (" << e.samples << " images)" << std::endl;
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
    const std::string primary = e.primaryMetric;
    if (m_style == Style::Json) {
        // The results as the run database stores them (one naming rule: app/recording/run_metrics.h), plus the end.
        nlohmann::json line = nlohmann::json::parse(runResultsJson(runResultsOf(e)));
        line.update({ { "event", "finished" }, { "status", toString(e.outcome) }, { "message", e.message },
            { "checkpoint", e.checkpointPath } });
        m_out << line.dump() << std::endl;
        return;
    }
    endBar();
    MetricInfo info { primary, primary, true, true };
    for (const MetricInfo& metric : m_metrics)
        if (metric.name == primary)
            info = metric;
    auto shown = [&](double value) {
        return info.fraction ? formatFixed(100.0 * value, 2) + "%" : formatFixed(value, 4);
    };
    const auto final = e.finalMetrics.find(primary);
    m_out << toString(e.outcome) << " after " << e.iterations << " iterations: final " << info.label << " "
          << shown(final == e.finalMetrics.end() ? 0.0 : final->second) << " (best " << shown(e.bestPrimary)
          << "), peak " << formatBytes(e.peakBytes) << " (" << formatBytes(e.peakStepBytes) << " above held), "
          << formatDuration(e.seconds) << " (" << formatFixed(e.secondsPerIteration, 3) << " s/it)" << std::endl;
    if (!e.message.empty())
        m_out << e.message << std::endl;
}

} // namespace dr2::cli
