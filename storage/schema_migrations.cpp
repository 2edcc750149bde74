#include "storage/schema_migrations.h"

#include "storage/sqlite_connection.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace dr2 {
namespace {

    // Never edit a migration once released: a database at version N has run exactly migrations 1..N.
    const std::vector<const char*> kMigrations = {
        // 1: initial schema.
        R"sql(
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')),
    strategy TEXT NOT NULL DEFAULT '',
    model_summary TEXT NOT NULL DEFAULT '',
    source_checkpoint TEXT NOT NULL DEFAULT '',
    source_sha256 TEXT NOT NULL DEFAULT '',
    config_json TEXT NOT NULL DEFAULT '{}',
    tags_json TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    final_metrics_json TEXT NOT NULL DEFAULT '{}',
    peak_memory_bytes INTEGER
);
CREATE INDEX runs_by_name ON runs(name);
CREATE TABLE scalar_names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE scalars (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name_id INTEGER NOT NULL REFERENCES scalar_names(id),
    iteration INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, name_id, iteration)
) WITHOUT ROWID;
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    split TEXT NOT NULL,
    metrics_json TEXT NOT NULL
);
CREATE INDEX evaluations_by_run ON evaluations(run_id, iteration);
CREATE TABLE probes (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    alpha REAL NOT NULL,
    beta REAL NOT NULL,
    metrics_json TEXT NOT NULL,
    per_branch_json TEXT NOT NULL
);
CREATE INDEX probes_by_run ON probes(run_id, iteration);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    time TEXT NOT NULL,
    iteration INTEGER,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX events_by_run ON events(run_id, id);
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    bytes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX artifacts_by_run ON artifacts(run_id);
)sql",
        // 2: who writes a running run, so a dead writer's run can be marked interrupted.
        R"sql(
ALTER TABLE runs ADD COLUMN writer_host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN writer_boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN writer_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN writer_start_ticks INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_status ON runs(status);
)sql",
        // 3: what makes runs comparable (setup) and how their results are read (primary metric, metric list),
        // written when the run is created. Rows from before stay empty: readers fall back to what they derived.
        R"sql(
ALTER TABLE runs ADD COLUMN setup_json TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN primary_metric TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN metrics_json TEXT NOT NULL DEFAULT '';
)sql",
    };

} // namespace

int SchemaMigrations::latestVersion()
{
    return static_cast<int>(kMigrations.size());
}

int SchemaMigrations::currentVersion(SqliteConnection& connection)
{
    return static_cast<int>(connection.queryInt("PRAGMA user_version"));
}

void SchemaMigrations::migrate(SqliteConnection& connection, int targetVersion)
{
    if (targetVersion < 0)
        targetVersion = latestVersion();
    if (targetVersion > latestVersion())
        throw std::invalid_argument("schema migration target " + std::to_string(targetVersion) + ": expected at most "
            + std::to_string(latestVersion()));
    // Check and migrate under the write lock, so two processes opening an old database do not both migrate.
    SqliteTransaction transaction(connection);
    const int current = currentVersion(connection);
    if (current > latestVersion())
        throw std::runtime_error("run database '" + connection.path() + "': schema version " + std::to_string(current)
            + " is newer than this build supports (expected at most " + std::to_string(latestVersion())
            + "); open it with a newer dr2net");
    for (int version = current + 1; version <= targetVersion; ++version) {
        try {
            connection.exec(kMigrations[static_cast<size_t>(version - 1)]);
        } catch (const std::exception& error) {
            throw std::runtime_error("migrating to schema version " + std::to_string(version) + ": " + error.what());
        }
        connection.exec("PRAGMA user_version = " + std::to_string(version));
    }
    transaction.commit();
}

} // namespace dr2
