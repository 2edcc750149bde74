#include "storage/run_store.h"

#include "storage/process_identity.h"
#include "storage/schema_migrations.h"
#include "storage/sqlite_connection.h"
#include "storage/sqlite_statement.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

namespace dr2 {
namespace {

    const char* kRunColumns
        = "id, name, created_at, finished_at, status, strategy, model_summary, source_checkpoint, "
          "source_sha256, config_json, tags_json, notes, final_metrics_json, peak_memory_bytes, "
          "writer_host, writer_boot_id, writer_pid, writer_start_ticks, setup_json, primary_metric, metrics_json";

    RunRecord readRun(const SqliteStatement& row, const std::string& dbPath)
    {
        RunRecord run;
        run.id = row.columnInt(0);
        run.name = row.columnText(1);
        run.createdAt = row.columnText(2);
        run.finishedAt = row.columnText(3);
        run.status = runStatusFromString(row.columnText(4));
        run.strategy = row.columnText(5);
        run.modelSummary = row.columnText(6);
        run.sourceCheckpoint = row.columnText(7);
        run.sourceSha256 = row.columnText(8);
        run.configJson = row.columnText(9);
        try {
            run.tags = nlohmann::json::parse(row.columnText(10)).get<std::vector<std::string>>();
        } catch (const std::exception& error) {
            throw std::runtime_error("run database '" + dbPath + "': run " + std::to_string(run.id)
                + ": tags_json: expected a JSON array of strings, found '" + row.columnText(10) + "'");
        }
        run.notes = row.columnText(11);
        run.finalMetricsJson = row.columnText(12);
        if (!row.columnIsNull(13))
            run.peakMemoryBytes = row.columnInt(13);
        run.writerHost = row.columnText(14);
        run.writerBootId = row.columnText(15);
        run.writerPid = row.columnInt(16);
        run.writerStartTicks = row.columnInt(17);
        run.setupJson = row.columnText(18);
        run.primaryMetric = row.columnText(19);
        run.metricsJson = row.columnText(20);
        return run;
    }

    std::map<std::string, double> parseMetrics(const std::string& text, const std::string& where)
    {
        std::map<std::string, double> metrics;
        try {
            // Keep the parsed document alive: items() only refers to it.
            const nlohmann::json json = nlohmann::json::parse(text);
            for (const auto& [key, value] : json.items())
                metrics[key] = value.is_null() ? std::nan("") : value.get<double>();
        } catch (const std::exception& error) {
            throw std::runtime_error(where + ": expected a JSON object of numbers: " + error.what());
        }
        return metrics;
    }

    // JSON has no NaN/Inf: store them as null so a diverged probe is still recorded.
    nlohmann::json metricsJson(const std::map<std::string, double>& metrics)
    {
        nlohmann::json json = nlohmann::json::object();
        for (const auto& [key, value] : metrics)
            json[key] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
        return json;
    }

    void makeDirectories(const std::string& directory)
    {
        if (directory.empty())
            return;
        std::string prefix;
        size_t position = 0;
        while (position != std::string::npos) {
            position = directory.find('/', position + 1);
            prefix = directory.substr(0, position);
            if (prefix.empty())
                continue;
            if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
                throw std::runtime_error(
                    "creating directory '" + prefix + "' for the run database: " + std::strerror(errno));
        }
    }

    bool fileExists(const std::string& path)
    {
        struct stat info { };
        return ::stat(path.c_str(), &info) == 0;
    }

} // namespace

RunStore::RunStore(const std::string& path, bool createIfMissing)
{
    if (path.empty())
        throw std::invalid_argument("run database path: expected a file name, found an empty string");
    if (!fileExists(path)) {
        if (!createIfMissing)
            throw std::runtime_error(
                "run database '" + path + "' does not exist (choose another with --db or the DR2_DB variable)");
        const auto slash = path.rfind('/');
        if (slash != std::string::npos && slash > 0)
            makeDirectories(path.substr(0, slash));
    }
    m_connection = std::make_unique<SqliteConnection>(
        path, createIfMissing ? SqliteConnection::Mode::ReadWriteCreate : SqliteConnection::Mode::ReadWrite);
    // A file that is not SQLite fails here, on the first read, with SQLite's "file is not a database".
    m_connection->exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a committed transaction survives a crash of the process (it is in the WAL, written
    // before COMMIT returns); only a power loss may drop the last commits, never corrupt the database.
    m_connection->exec("PRAGMA synchronous = NORMAL");
    m_connection->exec("PRAGMA foreign_keys = ON");
    SchemaMigrations::migrate(*m_connection);
    markDeadRunsInterrupted();
}

RunStore::~RunStore() = default;

std::string RunStore::defaultPath()
{
    if (const char* db = std::getenv("DR2_DB"); db && *db)
        return db;
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data)
        return std::string(data) + "/dr2net/runs.sqlite";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::string(home) + "/.local/share/dr2net/runs.sqlite";
    throw std::runtime_error("default run database: none of DR2_DB, XDG_DATA_HOME, HOME is set; pass --db FILE");
}

const std::string& RunStore::path() const
{
    return m_connection->path();
}

int RunStore::schemaVersion()
{
    return SchemaMigrations::currentVersion(*m_connection);
}

SqliteConnection& RunStore::connection()
{
    return *m_connection;
}

void RunStore::markDeadRunsInterrupted()
{
    std::vector<RunRecord> running;
    {
        SqliteStatement query(
            *m_connection, std::string("SELECT ") + kRunColumns + " FROM runs WHERE status = 'running' ORDER BY id");
        while (query.step())
            running.push_back(readRun(query, path()));
    }
    for (const RunRecord& run : running) {
        ProcessIdentity writer { run.writerHost, run.writerBootId, run.writerPid, run.writerStartTicks };
        if (writer.liveness() != ProcessIdentity::Liveness::Dead)
            continue;
        // Re-check under the write lock: the run may have been finished (or resumed) since the query.
        SqliteTransaction transaction(*m_connection);
        SqliteStatement update(*m_connection,
            "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running' "
            "AND writer_pid = ? AND writer_start_ticks = ? AND writer_boot_id = ?");
        update.bind(1, isoTimeNow()).bind(2, run.id).bind(3, run.writerPid).bind(4, run.writerStartTicks);
        update.bind(5, run.writerBootId);
        update.run();
        if (m_connection->changes() > 0) {
            SqliteStatement event(*m_connection,
                "INSERT INTO events (run_id, time, iteration, level, message) VALUES (?, ?, NULL, 'warning', ?)");
            event.bind(1, run.id).bind(2, isoTimeNow());
            event.bind(3,
                "marked interrupted: writer process " + std::to_string(run.writerPid) + " on '" + run.writerHost
                    + "' is no longer running");
            event.run();
            m_interrupted.push_back(run.id);
        }
        transaction.commit();
    }
}

int64_t RunStore::createRun(const RunRecord& run)
{
    // Opaque to the store, but a malformed document would only surface much later, in a reader.
    auto checkJson = [&run](const std::string& text, const char* field, bool wantObject) {
        if (text.empty())
            return;
        const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (wantObject ? !json.is_object() : !json.is_array())
            throw std::invalid_argument("run '" + run.name + "': " + field + ": expected a JSON "
                + (wantObject ? "object" : "array") + " or an empty string, found '" + text + "'");
    };
    checkJson(run.setupJson, "setupJson", /*wantObject=*/true);
    checkJson(run.metricsJson, "metricsJson", /*wantObject=*/false);
    const ProcessIdentity self = ProcessIdentity::current();
    SqliteStatement insert(*m_connection,
        "INSERT INTO runs (name, created_at, status, strategy, model_summary, source_checkpoint, source_sha256, "
        "config_json, tags_json, notes, final_metrics_json, peak_memory_bytes, writer_host, writer_boot_id, "
        "writer_pid, writer_start_ticks, setup_json, primary_metric, metrics_json) "
        "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, run.name).bind(2, run.createdAt.empty() ? isoTimeNow() : run.createdAt);
    insert.bind(3, run.strategy).bind(4, run.modelSummary).bind(5, run.sourceCheckpoint).bind(6, run.sourceSha256);
    insert.bind(7, run.configJson.empty() ? std::string("{}") : run.configJson);
    insert.bind(8, nlohmann::json(run.tags).dump()).bind(9, run.notes);
    insert.bind(10, run.finalMetricsJson.empty() ? std::string("{}") : run.finalMetricsJson);
    insert.bind(11, run.peakMemoryBytes);
    insert.bind(12, self.host).bind(13, self.bootId).bind(14, self.pid).bind(15, self.startTicks);
    insert.bind(16, run.setupJson).bind(17, run.primaryMetric).bind(18, run.metricsJson);
    insert.run();
    return m_connection->lastInsertRowId();
}

void RunStore::reopenRun(int64_t runId)
{
    requireRun(runId);
    const ProcessIdentity self = ProcessIdentity::current();
    SqliteStatement update(*m_connection,
        "UPDATE runs SET status = 'running', finished_at = NULL, writer_host = ?, writer_boot_id = ?, "
        "writer_pid = ?, writer_start_ticks = ? WHERE id = ?");
    update.bind(1, self.host).bind(2, self.bootId).bind(3, self.pid).bind(4, self.startTicks).bind(5, runId);
    update.run();
}

void RunStore::finishRun(
    int64_t runId, RunStatus status, const std::string& finalMetricsJson, std::optional<int64_t> peakMemoryBytes)
{
    requireRun(runId);
    SqliteStatement update(*m_connection,
        "UPDATE runs SET status = ?, finished_at = ?, final_metrics_json = ?, "
        "peak_memory_bytes = COALESCE(?, peak_memory_bytes) WHERE id = ?");
    update.bind(1, toString(status)).bind(2, isoTimeNow());
    update.bind(3, finalMetricsJson.empty() ? std::string("{}") : finalMetricsJson);
    update.bind(4, peakMemoryBytes).bind(5, runId);
    update.run();
}

void RunStore::setNotes(int64_t runId, const std::string& notes)
{
    requireRun(runId);
    SqliteStatement update(*m_connection, "UPDATE runs SET notes = ? WHERE id = ?");
    update.bind(1, notes).bind(2, runId);
    update.run();
}

void RunStore::setTags(int64_t runId, const std::vector<std::string>& tags)
{
    requireRun(runId);
    SqliteStatement update(*m_connection, "UPDATE runs SET tags_json = ? WHERE id = ?");
    update.bind(1, nlohmann::json(tags).dump()).bind(2, runId);
    update.run();
}

std::vector<RunRecord> RunStore::listRuns()
{
    std::vector<RunRecord> runs;
    SqliteStatement query(*m_connection, std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC");
    while (query.step())
        runs.push_back(readRun(query, path()));
    return runs;
}

std::optional<RunRecord> RunStore::findRun(int64_t runId)
{
    SqliteStatement query(*m_connection, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
    query.bind(1, runId);
    if (!query.step())
        return std::nullopt;
    return readRun(query, path());
}

RunRecord RunStore::requireRun(int64_t runId)
{
    auto run = findRun(runId);
    if (!run)
        throw std::runtime_error("run " + std::to_string(runId) + ": no such run in '" + path() + "'");
    return *run;
}

RunRecord RunStore::resolveRun(const std::string& idOrName)
{
    if (!idOrName.empty() && idOrName.find_first_not_of("0123456789") == std::string::npos) {
        try {
            if (auto run = findRun(std::stoll(idOrName)))
                return *run;
        } catch (const std::out_of_range&) {
        }
    }
    std::vector<RunRecord> matches;
    SqliteStatement query(
        *m_connection, std::string("SELECT ") + kRunColumns + " FROM runs WHERE name = ? ORDER BY id");
    query.bind(1, idOrName);
    while (query.step())
        matches.push_back(readRun(query, path()));
    if (matches.size() == 1)
        return matches.front();
    if (matches.empty())
        throw std::runtime_error("run '" + idOrName + "': no run with this id or name in '" + path() + "'");
    std::string ids;
    for (const auto& run : matches)
        ids += (ids.empty() ? "" : ", ") + std::to_string(run.id);
    throw std::runtime_error("run '" + idOrName + "': the name is ambiguous in '" + path()
        + "', expected a unique name, found runs " + ids + "; use an id");
}

void RunStore::deleteRun(int64_t runId)
{
    requireRun(runId);
    SqliteTransaction transaction(*m_connection);
    SqliteStatement remove(*m_connection, "DELETE FROM runs WHERE id = ?");
    remove.bind(1, runId);
    remove.run();
    transaction.commit();
}

int64_t RunStore::scalarNameId(const std::string& name)
{
    if (auto it = m_nameIds.find(name); it != m_nameIds.end())
        return it->second;
    SqliteStatement insert(*m_connection, "INSERT OR IGNORE INTO scalar_names (name) VALUES (?)");
    insert.bind(1, name);
    insert.run();
    SqliteStatement query(*m_connection, "SELECT id FROM scalar_names WHERE name = ?");
    query.bind(1, name);
    if (!query.step())
        throw std::runtime_error("run database '" + path() + "': scalar name '" + name + "' missing after insert");
    const int64_t id = query.columnInt(0);
    m_nameIds[name] = id;
    return id;
}

void RunStore::writeBatch(int64_t runId, const RunBatch& batch)
{
    if (batch.empty())
        return;
    try {
        SqliteTransaction transaction(*m_connection);
        if (!batch.scalars.empty()) {
            SqliteStatement insert(*m_connection,
                "INSERT OR REPLACE INTO scalars (run_id, name_id, iteration, value) VALUES (?, ?, ?, ?)");
            for (const ScalarPoint& point : batch.scalars) {
                insert.bind(1, runId).bind(2, scalarNameId(point.name)).bind(3, point.iteration);
                // SQLite stores NaN as NULL; a diverged loss stays visible as a gap rather than an error.
                insert.bind(4, point.value);
                insert.run();
            }
        }
        if (!batch.evaluations.empty()) {
            SqliteStatement insert(
                *m_connection, "INSERT INTO evaluations (run_id, iteration, split, metrics_json) VALUES (?, ?, ?, ?)");
            for (const EvaluationRecord& evaluation : batch.evaluations) {
                insert.bind(1, runId).bind(2, evaluation.iteration).bind(3, evaluation.split);
                insert.bind(4, metricsJson(evaluation.metrics).dump());
                insert.run();
            }
        }
        if (!batch.probes.empty()) {
            SqliteStatement insert(*m_connection,
                "INSERT INTO probes (run_id, iteration, alpha, beta, metrics_json, per_branch_json) "
                "VALUES (?, ?, ?, ?, ?, ?)");
            for (const ProbeRecord& probe : batch.probes) {
                nlohmann::json perBranch = nlohmann::json::object();
                for (const auto& [metric, values] : probe.perBranch) {
                    nlohmann::json list = nlohmann::json::array();
                    for (double value : values)
                        list.push_back(std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr));
                    perBranch[metric] = std::move(list);
                }
                insert.bind(1, runId).bind(2, probe.iteration).bind(3, probe.alpha).bind(4, probe.beta);
                insert.bind(5, metricsJson(probe.metrics).dump()).bind(6, perBranch.dump());
                insert.run();
            }
        }
        if (!batch.events.empty()) {
            SqliteStatement insert(
                *m_connection, "INSERT INTO events (run_id, time, iteration, level, message) VALUES (?, ?, ?, ?, ?)");
            for (const EventRecord& event : batch.events) {
                insert.bind(1, runId).bind(2, event.time.empty() ? isoTimeNow() : event.time);
                insert.bind(3, event.iteration).bind(4, event.level).bind(5, event.message);
                insert.run();
            }
        }
        if (!batch.artifacts.empty()) {
            SqliteStatement insert(*m_connection,
                "INSERT INTO artifacts (run_id, path, kind, sha256, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)");
            for (const ArtifactRecord& artifact : batch.artifacts) {
                insert.bind(1, runId).bind(2, artifact.path).bind(3, artifact.kind).bind(4, artifact.sha256);
                insert.bind(5, artifact.bytes).bind(6, artifact.createdAt.empty() ? isoTimeNow() : artifact.createdAt);
                insert.run();
            }
        }
        if (batch.peakMemoryBytes) {
            SqliteStatement update(*m_connection,
                "UPDATE runs SET peak_memory_bytes = MAX(COALESCE(peak_memory_bytes, 0), ?) WHERE id = ?");
            update.bind(1, *batch.peakMemoryBytes).bind(2, runId);
            update.run();
        }
        transaction.commit();
    } catch (...) {
        // Names inserted by the rolled-back transaction do not exist any more.
        m_nameIds.clear();
        throw;
    }
}

int64_t RunStore::addArtifact(int64_t runId, const ArtifactRecord& artifact)
{
    RunBatch batch;
    batch.artifacts.push_back(artifact);
    writeBatch(runId, batch);
    return m_connection->lastInsertRowId();
}

void RunStore::updateArtifact(int64_t artifactId, const std::string& sha256, int64_t bytes)
{
    SqliteStatement update(*m_connection, "UPDATE artifacts SET sha256 = ?, bytes = ? WHERE id = ?");
    update.bind(1, sha256).bind(2, bytes).bind(3, artifactId);
    update.run();
    if (m_connection->changes() == 0)
        throw std::runtime_error("artifact " + std::to_string(artifactId) + ": no such artifact in '" + path() + "'");
}

std::vector<ScalarSeriesInfo> RunStore::scalarSeries(int64_t runId)
{
    std::vector<ScalarSeriesInfo> series;
    SqliteStatement query(*m_connection,
        "SELECT n.name, COUNT(*), MIN(s.iteration), MAX(s.iteration), MIN(s.value), MAX(s.value), "
        "(SELECT value FROM scalars WHERE run_id = s.run_id AND name_id = s.name_id ORDER BY iteration DESC LIMIT 1) "
        "FROM scalars s JOIN scalar_names n ON n.id = s.name_id WHERE s.run_id = ? GROUP BY s.name_id ORDER BY n.name");
    query.bind(1, runId);
    while (query.step()) {
        ScalarSeriesInfo info;
        info.name = query.columnText(0);
        info.count = query.columnInt(1);
        info.firstIteration = query.columnInt(2);
        info.lastIteration = query.columnInt(3);
        info.minValue = query.columnIsNull(4) ? std::nan("") : query.columnDouble(4);
        info.maxValue = query.columnIsNull(5) ? std::nan("") : query.columnDouble(5);
        info.lastValue = query.columnIsNull(6) ? std::nan("") : query.columnDouble(6);
        series.push_back(info);
    }
    return series;
}

std::vector<ScalarPoint> RunStore::scalars(int64_t runId, const std::string& name)
{
    std::vector<ScalarPoint> points;
    SqliteStatement query(*m_connection,
        "SELECT n.name, s.iteration, s.value FROM scalars s JOIN scalar_names n ON n.id = s.name_id "
        "WHERE s.run_id = ? AND (? = '' OR n.name = ?) ORDER BY n.name, s.iteration");
    query.bind(1, runId).bind(2, name).bind(3, name);
    while (query.step())
        points.push_back(
            { query.columnInt(1), query.columnText(0), query.columnIsNull(2) ? std::nan("") : query.columnDouble(2) });
    return points;
}

int64_t RunStore::scalarCount(int64_t runId)
{
    SqliteStatement query(*m_connection, "SELECT COUNT(*) FROM scalars WHERE run_id = ?");
    query.bind(1, runId);
    query.step();
    return query.columnInt(0);
}

std::vector<EvaluationRecord> RunStore::evaluations(int64_t runId)
{
    std::vector<EvaluationRecord> records;
    SqliteStatement query(*m_connection,
        "SELECT iteration, split, metrics_json, id FROM evaluations WHERE run_id = ? ORDER BY iteration, id");
    query.bind(1, runId);
    while (query.step()) {
        EvaluationRecord record;
        record.iteration = query.columnInt(0);
        record.split = query.columnText(1);
        record.metrics = parseMetrics(query.columnText(2),
            "run database '" + path() + "': evaluation " + std::to_string(query.columnInt(3)) + ": metrics_json");
        records.push_back(std::move(record));
    }
    return records;
}

std::vector<ProbeRecord> RunStore::probes(int64_t runId)
{
    std::vector<ProbeRecord> records;
    SqliteStatement query(*m_connection,
        "SELECT iteration, alpha, beta, metrics_json, per_branch_json, id FROM probes WHERE run_id = ? "
        "ORDER BY iteration, id");
    query.bind(1, runId);
    while (query.step()) {
        const std::string where = "run database '" + path() + "': probe " + std::to_string(query.columnInt(5));
        ProbeRecord record;
        record.iteration = query.columnInt(0);
        record.alpha = query.columnDouble(1);
        record.beta = query.columnDouble(2);
        record.metrics = parseMetrics(query.columnText(3), where + ": metrics_json");
        try {
            const nlohmann::json perBranch = nlohmann::json::parse(query.columnText(4));
            for (const auto& [metric, values] : perBranch.items()) {
                auto& list = record.perBranch[metric];
                for (const auto& value : values)
                    list.push_back(value.is_null() ? std::nan("") : value.get<double>());
            }
        } catch (const std::exception& error) {
            throw std::runtime_error(where + ": per_branch_json: expected {metric: [numbers]}: " + error.what());
        }
        records.push_back(std::move(record));
    }
    return records;
}

std::vector<EventRecord> RunStore::events(int64_t runId, int64_t limit)
{
    std::vector<EventRecord> records;
    SqliteStatement query(*m_connection,
        "SELECT time, iteration, level, message FROM (SELECT * FROM events WHERE run_id = ? ORDER BY id DESC "
        "LIMIT ?) ORDER BY id");
    query.bind(1, runId).bind(2, limit > 0 ? limit : int64_t(-1));
    while (query.step()) {
        EventRecord record;
        record.time = query.columnText(0);
        if (!query.columnIsNull(1))
            record.iteration = query.columnInt(1);
        record.level = query.columnText(2);
        record.message = query.columnText(3);
        records.push_back(std::move(record));
    }
    return records;
}

std::vector<ArtifactRecord> RunStore::artifacts(int64_t runId)
{
    std::vector<ArtifactRecord> records;
    SqliteStatement query(
        *m_connection, "SELECT id, path, kind, sha256, bytes, created_at FROM artifacts WHERE run_id = ? ORDER BY id");
    query.bind(1, runId);
    while (query.step())
        records.push_back({ query.columnInt(0), query.columnText(1), query.columnText(2), query.columnText(3),
            query.columnInt(4), query.columnText(5) });
    return records;
}

} // namespace dr2
