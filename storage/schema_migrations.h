#pragma once

#include <string>

namespace dr2 {

class SqliteConnection;

/// The run database's schema, versioned with `PRAGMA user_version`.
///
/// Version 1: the initial schema (runs, scalar names and series, evaluations, probes, events, artifacts).
/// Version 2: the writer's process identity on each run (host, boot id, pid, process start time), used to
/// mark runs whose writer died as `interrupted`.
/// Version 3: the run's setup (opaque JSON, what Table 2 groups by), its primary metric and its metric list
/// (opaque JSON), written at creation; empty for runs recorded before.
/// A database written by an older build is migrated step by step on open, each step in one transaction.
class SchemaMigrations {
public:
    /// The version this build writes.
    static int latestVersion();
    /// The database's current version (0 for a new, empty file).
    static int currentVersion(SqliteConnection& connection);
    /// Migrates from the current version up to `targetVersion` (default: latest). Throws when the database
    /// is newer than this build knows, naming both versions.
    static void migrate(SqliteConnection& connection, int targetVersion = -1);
};

} // namespace dr2
