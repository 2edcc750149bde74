// dr2net-cli study: a study spec's runs, executed by copies of this program (`train`), recorded, resumable.
//
// Every run is a child process `dr2net-cli train --json ...` with its stderr (and its JSON events) in
// STUDY_DIR/runs/KEY/log. The database is the single source of truth about what is done: a run counts as finished
// when its record, tagged with the study and the run's key, says so. So a killed study is resumed by running the
// same command again: finished runs are skipped, an interrupted run continues from its checkpoint.
#include "app/cli/commands.h"
#include "app/cli/self_process.h"
#include "app/cli/text_table.h"
#include "app/recording/heatmap_sweep.h"
#include "app/recording/study_results.h"

#include "storage/run_store.h"
#include "training/study_spec.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace dr2::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
/// Events keep their fields in the order written ("event" first), which is what people and scripts read.
using EventJson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct StudyArgs {
    std::string spec;
    std::string dir;
    std::string db;
    std::string out;
    int workers = 1;
    bool quick = false;
    bool json = false;
    bool list = false;
    bool report = false;
    bool retryFailed = false;
};

volatile std::sig_atomic_t g_signal = 0;

extern "C" void onStudySignal(int signal)
{
    g_signal = signal;
}

/// One line of text for a run: its levels and seed, e.g. "strategy dr2net, seed 1".
std::string describeRun(const StudyRun& run)
{
    std::string text;
    for (const auto& [group, level] : run.levels)
        text += (text.empty() ? "" : " = ") + group + " " + level;
    return text + ", seed " + std::to_string(run.seed);
}

std::string formatDuration(double seconds)
{
    const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
    if (s < 60)
        return std::to_string(s) + " s";
    if (s < 3600)
        return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
    return std::to_string(s / 3600) + " h " + std::to_string((s % 3600) / 60) + " min";
}

/// The last lines of a log, for a failed run's message.
std::string tailOf(const fs::path& log, size_t lines)
{
    std::ifstream in(log);
    std::deque<std::string> last;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.front() == '{') // JSON events: the progress, not the error
            continue;
        last.push_back(line);
        if (last.size() > lines)
            last.pop_front();
    }
    std::string text;
    for (const auto& line : last)
        text += "  | " + line + "\n";
    return text;
}

void writeFileAtomically(const fs::path& path, const std::string& text)
{
    const fs::path partial = path.string() + ".partial";
    {
        std::ofstream out(partial);
        out << text;
        out.flush();
        if (!out)
            throw std::runtime_error("cannot write '" + partial.string() + "'");
    }
    fs::rename(partial, path);
}

/// Holds STUDY_DIR/lock for the runner's life: two runners of one study folder would start the same runs twice.
class StudyLock {
public:
    explicit StudyLock(const fs::path& dir)
    {
        const fs::path path = dir / "lock";
        m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m_fd < 0)
            throw std::runtime_error("study folder '" + dir.string() + "': cannot open " + path.string() + ": "
                + std::strerror(errno));
        if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(m_fd);
            throw std::runtime_error("study folder '" + dir.string() + "' is in use by another `dr2net-cli study` ("
                + path.string() + " is locked); wait for it, or give this one another --dir");
        }
    }
    ~StudyLock() { ::close(m_fd); }
    StudyLock(const StudyLock&) = delete;
    StudyLock& operator=(const StudyLock&) = delete;

private:
    int m_fd = -1;
};

/// One child `train` the runner waits for.
struct Job {
    std::string key; ///< the run's key, or "pretrain"
    std::string label; ///< for people
    fs::path folder; ///< STUDY_DIR/runs/KEY (its log goes there)
    std::vector<std::string> arguments;
    bool resume = false;
};

struct ActiveJob {
    Job job;
    pid_t pid = -1;
    int outFd = -1; ///< the child's stdout (JSON events)
    int logFd = -1; ///< the log, where its stderr goes and its events are copied
    std::string pending; ///< an incomplete line of stdout
    int64_t runId = 0;
    int64_t startIteration = 0;
    int64_t totalIterations = 0;
    int64_t iteration = 0;
    Clock::time_point started = Clock::now();
};

/// Executes a study's runs: the pretraining first, then the finetunes in `workers` child processes.
class StudyRunner {
public:
    StudyRunner(StudySpec spec, const StudyArgs& args)
        : m_spec(std::move(spec))
        , m_args(args)
    {
        m_db = fs::absolute(args.db.empty() ? RunStore::defaultPath() : args.db).string();
        m_dir = fs::absolute(args.dir.empty() ? StudySpec::defaultDirectory(m_db, m_spec.name) : args.dir);
        m_planned = m_spec.expand(m_dir.string());
    }

    int run()
    {
        fs::create_directories(m_dir);
        fs::create_directories(fs::path(m_db).parent_path());
        const StudyLock lock(m_dir);
        std::vector<StudyRunStatus> statuses = refresh();
        if (m_args.list) {
            printList(statuses);
            return 0;
        }
        if (!m_args.report) {
            announce(statuses);
            const int status = execute(statuses);
            if (status != 0 && status != 4)
                return status;
            statuses = refresh();
            report(statuses);
            return status;
        }
        report(statuses);
        return 0;
    }

private:
    std::vector<RunRecord> recordedRuns() const
    {
        if (!fs::exists(m_db))
            return {};
        RunStore store(m_db, /*createIfMissing=*/false);
        return store.listRuns();
    }

    std::vector<StudyRunStatus> refresh() const { return studyRunStatuses(m_spec, m_planned, recordedRuns()); }

    /// A finished run tagged `tag` is recorded.
    bool finishedRunTagged(const std::string& tag) const
    {
        const auto runs = recordedRuns();
        return std::any_of(runs.begin(), runs.end(), [&](const RunRecord& r) {
            return r.status == RunStatus::Finished && std::find(r.tags.begin(), r.tags.end(), tag) != r.tags.end();
        });
    }

    /// A finished pretraining run of this spec is recorded, and its weights are where the runs read them.
    bool pretrained() const
    {
        return finishedRunTagged(pretrainTag()) && fs::exists(m_spec.pretrainedPath(m_dir.string()));
    }

    std::string pretrainTag() const { return "study-pretrain:" + m_spec.pretrainKey(); }
    std::string heatmapTag() const { return "study-heatmap:" + m_spec.pretrainKey(); }

    /// The paper's Fig. 3 for this study: the gradient error of the pretrained network over α × β, on the first
    /// validation images of the finetune, recorded as a `heatmap` run with the study's tags. A few seconds for the
    /// built-in specs (25 points at batch 8); a failure is a warning, not the study's end: it only costs a figure.
    void sweepPretrainedHeatmap()
    {
        if (m_planned.empty() || finishedRunTagged(heatmapTag()))
            return;
        TrainConfig config = m_planned.front().config;
        config.strategy = Strategy::Dr2Net; // any strategy that starts from the pretrained weights
        config.name = m_spec.name + "-heatmap-pretrained";
        config.output.clear();
        HeatmapSweepRequest request;
        request.network.config = config;
        request.network.numClasses = config.data.classes.empty() ? 10 : int64_t(config.data.classes.size());
        request.network.batch = ProbeBatch::ConfigData;
        request.batch = 8;
        request.seed = static_cast<uint64_t>(config.seed);
        request.grid = { { 0.0, 0.25, 0.5, 0.75, 1.0 }, { 0.1, 0.25, 0.5, 0.75, 1.0 } };
        request.recording.databasePath = m_db;
        request.recording.runName = config.name;
        request.recording.tags = { "heatmap", m_spec.tag(), heatmapTag() };
        request.recording.heatmapName = "pretrained";
        say("  heatmap: gradient error of the pretrained network over " + std::to_string(request.grid.alphas.size())
            + " × " + std::to_string(request.grid.betas.size()) + " (α, β)");
        try {
            const HeatmapSweepResult result = runHeatmapSweep(request);
            if (m_args.json)
                emit(EventJson { { "event", "heatmap" }, { "run_id", result.runId } });
        } catch (const std::exception& e) {
            std::cerr << "dr2net-cli: warning: study " << m_spec.name << ": the pretrained network's heatmap failed ("
                      << e.what() << "); the report shows the α/β paths without it" << std::endl;
        }
    }

    void emit(const EventJson& event) const { std::cout << event.dump() << std::endl; }

    void say(const std::string& line) const
    {
        if (!m_args.json)
            std::cout << line << std::endl;
    }

    void announce(const std::vector<StudyRunStatus>& statuses) const
    {
        size_t finished = 0;
        size_t resumable = 0;
        size_t failed = 0;
        for (const auto& s : statuses) {
            finished += s.state == StudyRunState::Finished;
            resumable += s.state == StudyRunState::Resumable;
            failed += s.state == StudyRunState::Failed;
        }
        if (m_args.json) {
            emit(EventJson { { "event", "study" }, { "name", m_spec.name }, { "runs", statuses.size() }, { "finished", finished },
                { "resumable", resumable }, { "failed", failed }, { "workers", m_args.workers },
                { "dir", m_dir.string() }, { "database", m_db } });
            return;
        }
        std::cout << "study " << m_spec.name << ": " << statuses.size() << " runs (" << finished << " finished, "
                  << resumable << " to resume, " << failed << " failed), " << m_args.workers << " worker"
                  << (m_args.workers == 1 ? "" : "s") << "\n  folder " << m_dir.string() << "\n  database " << m_db
                  << std::endl;
    }

    /// The command line of a run: a fresh `train --config`, or `train --resume` from its checkpoint.
    Job jobFor(const StudyRunStatus& status, int threads) const
    {
        Job job;
        job.key = status.planned.key;
        job.label = describeRun(status.planned);
        job.folder = m_dir / "runs" / status.planned.key;
        fs::create_directories(job.folder);
        if (status.state == StudyRunState::Resumable) {
            job.resume = true;
            job.arguments = { "dr2net-cli", "train", "--resume", status.planned.config.checkpoint.dir, "--db", m_db,
                "--json" };
            return job;
        }
        TrainConfig config = status.planned.config;
        if (config.threads == 0)
            config.threads = threads;
        const fs::path file = job.folder / "config.json";
        writeFileAtomically(file, config.toJson().dump(2) + "\n");
        job.arguments = { "dr2net-cli", "train", "--config", file.string(), "--db", m_db, "--json", "--tag",
            m_spec.tag(), "--tag", StudySpec::runTag(status.planned.key) };
        // A fresh start: an old checkpoint of a failed attempt must not be mistaken for this one's.
        std::error_code ignored;
        fs::remove_all(config.checkpoint.dir, ignored);
        return job;
    }

    Job pretrainJob() const
    {
        Job job;
        job.key = "pretrain";
        job.label = "pretraining";
        TrainConfig config = *m_spec.pretrainConfig(m_dir.string());
        job.folder = fs::path(config.checkpoint.dir).parent_path();
        fs::create_directories(job.folder);
        if (hasResumableCheckpoint(config.checkpoint.dir)) {
            job.resume = true;
            job.arguments = { "dr2net-cli", "train", "--resume", config.checkpoint.dir, "--db", m_db, "--json" };
            return job;
        }
        if (config.threads == 0)
            config.threads = hardwareThreads();
        const fs::path file = job.folder / "config.json";
        writeFileAtomically(file, config.toJson().dump(2) + "\n");
        job.arguments = { "dr2net-cli", "train", "--config", file.string(), "--db", m_db, "--json", "--tag",
            m_spec.tag(), "--tag", pretrainTag() };
        return job;
    }

    static int hardwareThreads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

    /// Runs what is left: 0 when every run finished, 3 when interrupted, 4 when some run failed, 1 when the
    /// pretraining could not be done.
    int execute(const std::vector<StudyRunStatus>& statuses)
    {
        g_signal = 0;
        std::signal(SIGINT, onStudySignal);
        std::signal(SIGTERM, onStudySignal);
        m_total = statuses.size();
        m_finished = static_cast<size_t>(std::count_if(statuses.begin(), statuses.end(),
            [](const StudyRunStatus& s) { return s.state == StudyRunState::Finished; }));
        m_start = Clock::now();
        if (m_spec.pretrain && !pretrained()) {
            const std::vector<Job> pretrain { pretrainJob() };
            const int status = runJobs(pretrain, 1);
            if (status != 0 || !pretrained()) {
                restoreSignals();
                if (g_signal != 0)
                    return 3;
                std::cerr << "dr2net-cli: error: study " << m_spec.name << ": the pretraining did not finish (log "
                          << (pretrain.front().folder / "log").string() << "); the finetunes need its weights"
                          << std::endl;
                return 1;
            }
        }
        if (m_spec.pretrain)
            sweepPretrainedHeatmap();
        const int threads = std::max(1, hardwareThreads() / m_args.workers);
        std::vector<Job> jobs;
        size_t skippedFailed = 0;
        for (const auto& status : statuses) {
            switch (status.state) {
            case StudyRunState::Finished:
                continue;
            case StudyRunState::Running:
                say("  " + describeRun(status.planned) + ": recorded as running by a live process (run "
                    + std::to_string(status.record ? status.record->id : 0) + "): skipped");
                continue;
            case StudyRunState::Failed:
                if (!m_args.retryFailed) {
                    ++skippedFailed;
                    continue;
                }
                break;
            case StudyRunState::Pending:
            case StudyRunState::Resumable:
                break;
            }
            jobs.push_back(jobFor(status, threads));
        }
        if (skippedFailed > 0)
            say("  " + std::to_string(skippedFailed) + " failed run" + (skippedFailed == 1 ? "" : "s")
                + " not retried (--retry-failed starts them again)");
        // The finetunes' rate decides their ETA, not the pretraining's.
        m_start = Clock::now();
        m_doneIterations = 0;
        const int status = runJobs(jobs, m_args.workers);
        restoreSignals();
        if (g_signal != 0) {
            say("interrupted: rerun the same command to continue (finished runs are kept; interrupted ones resume "
                "from their checkpoints)");
            return 3;
        }
        return status != 0 || skippedFailed > 0 ? 4 : 0;
    }

    static void restoreSignals()
    {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
    }

    ActiveJob start(const Job& job) const
    {
        ActiveJob active;
        active.job = job;
        const fs::path log = job.folder / "log";
        active.logFd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (active.logFd < 0)
            throw std::runtime_error("cannot open the run log '" + log.string() + "': " + std::strerror(errno));
        int pipeFds[2];
        if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
            ::close(active.logFd);
            throw std::runtime_error(std::string("cannot make a pipe for a study run: ") + std::strerror(errno));
        }
        SelfProcess process;
        process.arguments = job.arguments;
        process.stdoutFd = pipeFds[1];
        process.stderrFd = active.logFd;
        process.what = "study run " + job.key;
        try {
            active.pid = startSelf(process);
        } catch (...) {
            ::close(pipeFds[0]);
            ::close(pipeFds[1]);
            ::close(active.logFd);
            throw;
        }
        ::close(pipeFds[1]);
        active.outFd = pipeFds[0];
        return active;
    }

    /// Reads what a child wrote; false at end of file.
    bool drain(ActiveJob& active)
    {
        char buffer[4096];
        const ssize_t n = ::read(active.outFd, buffer, sizeof buffer);
        if (n <= 0)
            return n < 0 && errno == EINTR;
        (void)!::write(active.logFd, buffer, static_cast<size_t>(n));
        active.pending.append(buffer, static_cast<size_t>(n));
        for (size_t end = active.pending.find('\n'); end != std::string::npos; end = active.pending.find('\n')) {
            const std::string line = active.pending.substr(0, end);
            active.pending.erase(0, end + 1);
            onEvent(active, line);
        }
        return true;
    }

    void onEvent(ActiveJob& active, const std::string& line)
    {
        const json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!event.is_object() || !event.contains("event"))
            return;
        const std::string kind = event.value("event", "");
        if (kind == "recording") {
            active.runId = event.value("run_id", int64_t { 0 });
            if (m_args.json)
                emit(EventJson { { "event", "run_recording" }, { "key", active.job.key }, { "run_id", active.runId } });
        } else if (kind == "started") {
            active.totalIterations = event.value("total_iterations", int64_t { 0 });
            active.startIteration = event.value("start_iteration", int64_t { 0 });
            active.iteration = active.startIteration;
            if (active.totalIterations > 0 && active.job.key != "pretrain")
                m_knownTotals.push_back(active.totalIterations);
        } else if (kind == "iteration") {
            active.iteration = event.value("iteration", active.iteration);
        }
    }

    /// Iterations per second over all workers since this runner started, and the seconds left at that rate.
    std::optional<double> eta(const std::vector<ActiveJob>& active, size_t queued) const
    {
        int64_t done = m_doneIterations;
        int64_t left = 0;
        for (const auto& a : active) {
            done += a.iteration - a.startIteration;
            left += std::max<int64_t>(0, a.totalIterations - a.iteration);
            if (a.totalIterations == 0)
                return std::nullopt;
        }
        if (queued > 0) {
            if (m_knownTotals.empty())
                return std::nullopt;
            int64_t sum = 0;
            for (int64_t t : m_knownTotals)
                sum += t;
            left += static_cast<int64_t>(queued) * sum / static_cast<int64_t>(m_knownTotals.size());
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - m_start).count();
        if (done <= 0 || seconds <= 0.0)
            return std::nullopt;
        return static_cast<double>(left) / (static_cast<double>(done) / seconds);
    }

    void printProgress(const std::vector<ActiveJob>& active, size_t queued) const
    {
        const auto seconds = eta(active, queued);
        if (m_args.json) {
            EventJson running = EventJson::array();
            for (const auto& a : active)
                running.push_back(EventJson { { "key", a.job.key }, { "iteration", a.iteration }, { "total", a.totalIterations } });
            emit(EventJson { { "event", "progress" }, { "finished", m_finished }, { "runs", m_total }, { "running", running },
                { "eta_s", seconds ? EventJson(*seconds) : EventJson(nullptr) } });
            return;
        }
        std::string line = "  progress: " + std::to_string(m_finished) + "/" + std::to_string(m_total) + " finished";
        for (const auto& a : active)
            line += "; " + a.job.label + " at " + std::to_string(a.iteration) + "/" + std::to_string(a.totalIterations);
        line += seconds ? "; ETA " + formatDuration(*seconds) : "; ETA after the first iterations";
        std::cout << line << std::endl;
    }

    void onEnded(const ActiveJob& active, int waitStatus)
    {
        const int code = exitCodeOf(waitStatus);
        const double seconds = std::chrono::duration<double>(Clock::now() - active.started).count();
        m_doneIterations += std::max<int64_t>(0, active.iteration - active.startIteration);
        std::string outcome = code == 0 ? "finished" : code == 3 ? "cancelled" : code == 4 ? "failed" : "error";
        std::optional<double> primary;
        std::string primaryLabel;
        if (code == 0 && active.runId != 0) {
            for (const auto& run : recordedRuns())
                if (run.id == active.runId) {
                    const RunResults results = readRunResults(run);
                    primary = results.bestPrimary;
                    primaryLabel = results.primaryMetric;
                }
        }
        if (code == 0 && active.job.key != "pretrain")
            ++m_finished;
        const fs::path log = active.job.folder / "log";
        if (m_args.json) {
            emit(EventJson { { "event", "run_finished" }, { "key", active.job.key }, { "label", active.job.label },
                { "outcome", outcome }, { "exit_code", code }, { "run_id", active.runId }, { "seconds", seconds },
                { "best_primary", primary ? EventJson(*primary) : EventJson(nullptr) }, { "log", log.string() } });
            return;
        }
        std::string line = "  " + outcome + ": " + active.job.label + " (run " + std::to_string(active.runId) + ", "
            + formatDuration(seconds);
        if (primary)
            line += ", best " + primaryLabel + " " + formatNumber(*primary);
        line += ")";
        if (code != 0 && code != 3)
            line += ": " + describeExit(waitStatus) + "; log " + log.string() + "\n" + tailOf(log, 4);
        std::cout << line << std::endl;
    }

    /// Runs `jobs`, at most `workers` at a time; 0 when every one finished.
    int runJobs(const std::vector<Job>& jobs, int workers)
    {
        std::deque<Job> queue(jobs.begin(), jobs.end());
        std::vector<ActiveJob> active;
        int forwarded = 0;
        int status = 0;
        auto lastProgress = Clock::now();
        while (!queue.empty() || !active.empty()) {
            while (g_signal == 0 && !queue.empty() && static_cast<int>(active.size()) < workers) {
                const Job job = queue.front();
                queue.pop_front();
                active.push_back(start(job));
                if (m_args.json)
                    emit(EventJson { { "event", "run_started" }, { "key", job.key }, { "label", job.label },
                        { "resume", job.resume }, { "log", (job.folder / "log").string() } });
                else
                    say(std::string("  ") + (job.resume ? "resuming: " : "started: ") + job.label + " (log "
                        + (job.folder / "log").string() + ")");
            }
            if (g_signal != 0 && forwarded != g_signal) {
                // Ctrl-C: every run stops after its iteration and saves a checkpoint; SIGTERM: they stop now.
                forwarded = g_signal;
                queue.clear();
                for (const auto& a : active)
                    ::kill(a.pid, forwarded == SIGINT ? SIGINT : SIGTERM);
            }
            std::vector<pollfd> fds;
            fds.reserve(active.size());
            for (const auto& a : active)
                fds.push_back({ a.outFd, POLLIN, 0 });
            ::poll(fds.data(), fds.size(), 500);
            for (size_t i = 0; i < active.size(); ++i) {
                ActiveJob& a = active[i];
                if (a.outFd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !drain(a)) {
                    ::close(a.outFd);
                    a.outFd = -1;
                }
            }
            for (auto it = active.begin(); it != active.end();) {
                int waitStatus = 0;
                if (it->outFd >= 0 || ::waitpid(it->pid, &waitStatus, WNOHANG) != it->pid) {
                    ++it;
                    continue;
                }
                ::close(it->logFd);
                if (exitCodeOf(waitStatus) != 0 && status == 0)
                    status = exitCodeOf(waitStatus);
                onEnded(*it, waitStatus);
                it = active.erase(it);
                lastProgress = Clock::now();
            }
            if (!active.empty() && Clock::now() - lastProgress > std::chrono::seconds(m_args.json ? 5 : 20)) {
                printProgress(active, queue.size());
                lastProgress = Clock::now();
            }
        }
        return status;
    }

    void printList(const std::vector<StudyRunStatus>& statuses) const
    {
        if (m_args.json) {
            EventJson runs = EventJson::array();
            for (const auto& s : statuses)
                runs.push_back(EventJson { { "key", s.planned.key }, { "label", describeRun(s.planned) }, { "seed", s.planned.seed },
                    { "state", toString(s.state) }, { "run_id", s.record ? EventJson(s.record->id) : EventJson(nullptr) } });
            emit(EventJson { { "event", "runs" }, { "name", m_spec.name }, { "runs", runs } });
            return;
        }
        std::cout << "study " << m_spec.name << " (" << statuses.size() << " runs; folder " << m_dir.string() << ")\n";
        TextTable table({ "key", "run", "state", "levels" });
        for (const auto& s : statuses)
            table.addRow({ s.planned.key, s.record ? std::to_string(s.record->id) : "-", toString(s.state),
                describeRun(s.planned) });
        table.print(std::cout);
    }

    void report(const std::vector<StudyRunStatus>& statuses) const
    {
        const StudySummary summary = summarizeStudy(m_spec, statuses);
        if (m_args.json)
            emit(EventJson { { "event", "summary" }, { "summary", EventJson::parse(studySummaryJson(summary)) } });
        else
            std::cout << "\n" << studySummaryMarkdown(summary);
        if (!m_args.out.empty()) {
            const bool asJson = fs::path(m_args.out).extension() == ".json";
            writeFileAtomically(m_args.out, asJson ? studySummaryJson(summary) + "\n" : studySummaryMarkdown(summary));
            say("wrote " + m_args.out);
        }
    }

    StudySpec m_spec;
    StudyArgs m_args;
    std::string m_db;
    fs::path m_dir;
    std::vector<StudyRun> m_planned;
    Clock::time_point m_start = Clock::now();
    int64_t m_doneIterations = 0; ///< by runs that ended, since this runner started
    std::vector<int64_t> m_knownTotals; ///< iterations of the runs seen starting (to estimate the queued ones)
    size_t m_total = 0;
    size_t m_finished = 0;
};

} // namespace

void addStudyCommand(CLI::App& app, int& exitStatus)
{
    auto args = std::make_shared<StudyArgs>();
    auto* study = app.add_subcommand("study",
        "Run a study: a base config and groups of levels (strategies, schedule order, policy, η, ...) over seeds, "
        "every run recorded and tagged with the study; then per-level tables (mean ± std over seeds) and the "
        "paper's claims as held / not held. Resumable: run the same command again after an interruption. "
        "Exit code 0 all finished, 3 interrupted, 4 some run failed.");
    study->add_option("--spec", args->spec, "study spec (JSON; see resources/studies/README.md), or a built-in name: "
                                            "paper-table2, paper-ablations")
        ->required();
    study->add_flag("--quick", args->quick, "the spec's quick profile (fewer seeds, less data: minutes, not hours)");
    study->add_option("--workers", args->workers, "runs trained at once, each in its own process (threads are shared "
                                                  "out among them)")
        ->check(CLI::Range(1, 64));
    study->add_option("--dir", args->dir, "study folder: run configs, logs, checkpoints, pretrained weights "
                                          "(default: studies/NAME beside the run database)");
    study->add_option("--db", args->db,
        "run database (default: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else ~/.local/share/dr2net/runs.sqlite)");
    study->add_option("--out", args->out, "also write the summary to FILE (.md, or .json for JSON)");
    study->add_flag("--json", args->json, "one JSON object per event on stdout");
    study->add_flag("--list", args->list, "list the runs and their states, then stop");
    study->add_flag("--report", args->report, "print the summary of what is recorded, run nothing");
    study->add_flag("--retry-failed", args->retryFailed, "start failed runs again (default: they are reported and kept)");
    study->callback([args, &exitStatus] {
        StudyRunner runner(StudySpec::load(StudySpec::resolve(args->spec), args->quick), *args);
        exitStatus = runner.run();
    });
}

} // namespace dr2::cli
