#pragma once

#include "storage/run_records.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dr2 {

class SqliteConnection;

/// Rows of one run to write in one transaction (what RunRecorder collects between commits).
struct RunBatch {
    std::vector<ScalarPoint> scalars;
    std::vector<EvaluationRecord> evaluations;
    std::vector<ProbeRecord> probes;
    std::vector<EventRecord> events;
    std::vector<ArtifactRecord> artifacts;
    /// Peak memory of the run so far (raises the stored value; kept if the process dies later).
    std::optional<int64_t> peakMemoryBytes;
    /// True when nothing is to be written.
    bool empty() const
    {
        return scalars.empty() && evaluations.empty() && probes.empty() && events.empty() && artifacts.empty()
            && !peakMemoryBytes;
    }
};

/// The run registry: one SQLite database per workspace (see storage/README.md for the schema and location).
///
/// Opening sets WAL mode and foreign keys, migrates an older schema, and marks runs whose writer process
/// has died as `interrupted`. One RunStore is one connection: use it from one thread at a time; readers on
/// other threads open their own RunStore (WAL lets them read while a recorder writes).
class RunStore {
public:
    /// Opens (and by default creates, with its parent directory) the database at `path`.
    explicit RunStore(const std::string& path, bool createIfMissing = true);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    /// The default database: $DR2_DB, else $XDG_DATA_HOME/dr2net/runs.sqlite, else
    /// ~/.local/share/dr2net/runs.sqlite.
    static std::string defaultPath();

    /// The database file.
    const std::string& path() const;
    /// The schema version of the open database (SchemaMigrations::latestVersion() after open).
    int schemaVersion();
    /// Runs this open marked `interrupted` because their writer had died.
    const std::vector<int64_t>& interruptedOnOpen() const { return m_interrupted; }

    // --- runs
    /// Inserts a new run with status `running`, created now, written by the calling process; returns its id.
    int64_t createRun(const RunRecord& run);
    /// Marks an existing run `running` again, written by the calling process (resuming it).
    void reopenRun(int64_t runId);
    /// Sets the final status, finish time, final metrics and peak memory of a run.
    void finishRun(int64_t runId, RunStatus status, const std::string& finalMetricsJson = "{}",
        std::optional<int64_t> peakMemoryBytes = std::nullopt);
    /// Replaces the notes of a run.
    void setNotes(int64_t runId, const std::string& notes);
    /// Replaces the tags of a run.
    void setTags(int64_t runId, const std::vector<std::string>& tags);
    /// All runs, newest first.
    std::vector<RunRecord> listRuns();
    /// The run with this id, if any.
    std::optional<RunRecord> findRun(int64_t runId);
    /// The run named by a user: a numeric id, or a unique name. Throws naming the database when there is
    /// no such run, or listing the ids when the name is ambiguous.
    RunRecord resolveRun(const std::string& idOrName);
    /// Deletes a run and everything recorded for it (not the files its artifacts point to).
    void deleteRun(int64_t runId);

    // --- recorded rows
    /// Writes a batch in one transaction. Scalars at an iteration already stored are replaced (resume).
    void writeBatch(int64_t runId, const RunBatch& batch);
    /// Records one artifact now; returns its id.
    int64_t addArtifact(int64_t runId, const ArtifactRecord& artifact);
    /// Updates the hash and size of an artifact (e.g. the HDF5 file once closed).
    void updateArtifact(int64_t artifactId, const std::string& sha256, int64_t bytes);

    /// Summary of each scalar series of a run, by name.
    std::vector<ScalarSeriesInfo> scalarSeries(int64_t runId);
    /// The points of one series (all series when `name` is empty), by name then iteration.
    std::vector<ScalarPoint> scalars(int64_t runId, const std::string& name = {});
    /// Number of scalar points of a run.
    int64_t scalarCount(int64_t runId);
    /// Evaluations of a run, by iteration.
    std::vector<EvaluationRecord> evaluations(int64_t runId);
    /// Probes of a run, by iteration.
    std::vector<ProbeRecord> probes(int64_t runId);
    /// Events of a run, oldest first; only the last `limit` when limit > 0.
    std::vector<EventRecord> events(int64_t runId, int64_t limit = 0);
    /// Artifacts of a run.
    std::vector<ArtifactRecord> artifacts(int64_t runId);

    /// The underlying connection (tests, migrations).
    SqliteConnection& connection();

private:
    int64_t scalarNameId(const std::string& name);
    void markDeadRunsInterrupted();
    RunRecord requireRun(int64_t runId);

    std::unique_ptr<SqliteConnection> m_connection;
    std::map<std::string, int64_t> m_nameIds;
    std::vector<int64_t> m_interrupted;
};

} // namespace dr2
