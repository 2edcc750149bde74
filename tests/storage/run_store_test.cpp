// The run registry: schema, migrations, runs and their rows, interrupted runs.
#include "storage/process_identity.h"
#include "storage/run_store.h"
#include "storage/schema_migrations.h"
#include "storage/sqlite_connection.h"
#include "storage/sqlite_statement.h"
#include "tests/storage/temp_dir.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using namespace dr2;

namespace {

std::set<std::string> tableNames(SqliteConnection& connection)
{
    std::set<std::string> names;
    SqliteStatement query(connection, "SELECT name FROM sqlite_master WHERE type = 'table'");
    while (query.step())
        names.insert(query.columnText(0));
    return names;
}

// A pid that surely belonged to a process that has exited: fork a child and reap it.
int64_t deadPid()
{
    const pid_t child = ::fork();
    if (child == 0)
        ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

} // namespace

TEST(RunStore, CreatesSchemaWithWalAndForeignKeys)
{
    test::TempDir dir;
    RunStore store(dir.file("sub/dir/runs.sqlite")); // parent directories are created
    EXPECT_EQ(store.schemaVersion(), SchemaMigrations::latestVersion());
    EXPECT_EQ(SchemaMigrations::latestVersion(), 3);
    const auto tables = tableNames(store.connection());
    for (const char* table : { "runs", "scalar_names", "scalars", "evaluations", "probes", "events", "artifacts" })
        EXPECT_TRUE(tables.count(table)) << table;
    SqliteStatement mode(store.connection(), "PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.columnText(0), "wal");
    EXPECT_EQ(store.connection().queryInt("PRAGMA foreign_keys"), 1);
}

TEST(RunStore, MigratesVersionOneDatabaseKeepingData)
{
    test::TempDir dir;
    const std::string path = dir.file("old.sqlite");
    {
        // What a build with schema version 1 wrote: no writer identity columns.
        SqliteConnection old(path, SqliteConnection::Mode::ReadWriteCreate);
        SchemaMigrations::migrate(old, /*targetVersion=*/1);
        ASSERT_EQ(SchemaMigrations::currentVersion(old), 1);
        old.exec("INSERT INTO runs (id, name, created_at, finished_at, status, config_json) VALUES "
                 "(1, 'done', '2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', 'finished', '{\"lr\": 0.1}'),"
                 "(2, 'was-running', '2026-01-02T00:00:00.000Z', NULL, 'running', '{}')");
        old.exec("INSERT INTO scalar_names (id, name) VALUES (1, 'loss')");
        old.exec("INSERT INTO scalars VALUES (1, 1, 0, 2.5), (1, 1, 1, 2.0), (2, 1, 0, 3.0)");
        EXPECT_THROW(old.exec("SELECT writer_pid FROM runs"), std::runtime_error);
    }
    RunStore store(path);
    EXPECT_EQ(store.schemaVersion(), 3);
    const auto done = store.findRun(1);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, RunStatus::Finished);
    EXPECT_EQ(done->configJson, "{\"lr\": 0.1}");
    EXPECT_EQ(done->writerPid, 0);
    const auto points = store.scalars(1, "loss");
    ASSERT_EQ(points.size(), 2u);
    EXPECT_DOUBLE_EQ(points[1].value, 2.0);
    // A run left `running` by a build that recorded no writer cannot be alive: it is interrupted, data kept.
    const auto wasRunning = store.findRun(2);
    ASSERT_TRUE(wasRunning);
    EXPECT_EQ(wasRunning->status, RunStatus::Interrupted);
    EXPECT_EQ(store.scalarCount(2), 1);
    EXPECT_EQ(store.interruptedOnOpen(), std::vector<int64_t> { 2 });
}

TEST(RunStore, MigratesVersionTwoDatabaseKeepingRunsWithoutSetup)
{
    test::TempDir dir;
    const std::string path = dir.file("v2.sqlite");
    int64_t id = 0;
    {
        // What a build with schema version 2 wrote: no setup, primary metric or metric list.
        SqliteConnection old(path, SqliteConnection::Mode::ReadWriteCreate);
        SchemaMigrations::migrate(old, /*targetVersion=*/2);
        ASSERT_EQ(SchemaMigrations::currentVersion(old), 2);
        old.exec("INSERT INTO runs (id, name, created_at, finished_at, status, strategy, model_summary, config_json, "
                 "final_metrics_json, peak_memory_bytes) VALUES (7, 'old-conv', '2026-01-01T00:00:00.000Z', "
                 "'2026-01-01T01:00:00.000Z', 'finished', 'conventional', 'vit 64d×4', '{\"data\": {}}', "
                 "'{\"best_top1\": 0.8, \"final_top1\": 0.75}', 1234)");
        old.exec("INSERT INTO evaluations (run_id, iteration, split, metrics_json) VALUES "
                 "(7, 99, 'val', '{\"top1\": 0.75, \"loss\": 0.6}')");
        EXPECT_THROW(old.exec("SELECT setup_json FROM runs"), std::runtime_error);
        id = 7;
    }
    RunStore store(path);
    EXPECT_EQ(store.schemaVersion(), 3);
    const auto run = store.findRun(id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->name, "old-conv");
    EXPECT_EQ(run->status, RunStatus::Finished);
    EXPECT_EQ(run->modelSummary, "vit 64d×4");
    EXPECT_EQ(run->finalMetricsJson, "{\"best_top1\": 0.8, \"final_top1\": 0.75}");
    EXPECT_EQ(run->peakMemoryBytes.value_or(0), 1234);
    EXPECT_EQ(run->setupJson, ""); // not recorded: readers fall back to what they derive
    EXPECT_EQ(run->primaryMetric, "");
    EXPECT_EQ(run->metricsJson, "");
    const auto evaluations = store.evaluations(id);
    ASSERT_EQ(evaluations.size(), 1u);
    EXPECT_DOUBLE_EQ(evaluations[0].metrics.at("top1"), 0.75);
    // The upgraded database takes new runs with a setup next to the old one.
    RunRecord next;
    next.name = "new";
    next.setupJson = R"({"backbone":"vit","task":"classification"})";
    next.primaryMetric = "top1";
    const int64_t nextId = store.createRun(next);
    EXPECT_GT(nextId, id);
    EXPECT_EQ(store.listRuns().size(), 2u);
    EXPECT_EQ(store.findRun(nextId)->setupJson, next.setupJson);
}

TEST(RunStore, KeepsSetupPrimaryMetricAndMetricListAsWritten)
{
    test::TempDir dir;
    const std::string path = dir.file("runs.sqlite");
    RunRecord run;
    run.name = "setup";
    run.setupJson = R"({"backbone":"vit 64d×4 (8 branches, 4 heads), 40² patch 4","classes":[5,6,7],)"
                    R"("data_root":"/data/fmnist","dataset":"fashion-mnist","task":"classification"})";
    run.primaryMetric = "loss";
    run.metricsJson = R"([{"name":"loss","label":"loss","higher_is_better":false,"fraction":false}])";
    int64_t id = 0;
    {
        RunStore store(path);
        id = store.createRun(run);
        store.finishRun(id, RunStatus::Finished, R"({"primary_metric":"loss","best_loss":0.2})");
    }
    RunStore reopened(path); // what another process reads
    const auto read = reopened.findRun(id);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->setupJson, run.setupJson);
    EXPECT_EQ(read->primaryMetric, "loss");
    EXPECT_EQ(read->metricsJson, run.metricsJson);
    reopened.reopenRun(id); // resuming keeps them
    EXPECT_EQ(reopened.findRun(id)->setupJson, run.setupJson);
    EXPECT_EQ(reopened.listRuns().front().primaryMetric, "loss");

    RunRecord broken;
    broken.name = "broken";
    broken.setupJson = "vit 64d×4"; // a label, not a JSON object
    try {
        reopened.createRun(broken);
        FAIL() << "created a run with a setup that is not JSON";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("setupJson"), std::string::npos) << error.what();
    }
    broken.setupJson.clear();
    broken.metricsJson = R"({"name": "top1"})";
    EXPECT_THROW(reopened.createRun(broken), std::invalid_argument);
    EXPECT_EQ(reopened.listRuns().size(), 1u);
}

TEST(RunStore, RefusesDatabaseFromNewerBuild)
{
    test::TempDir dir;
    const std::string path = dir.file("future.sqlite");
    {
        RunStore store(path);
        store.connection().exec("PRAGMA user_version = 99");
    }
    try {
        RunStore store(path);
        FAIL() << "opened a database with schema version 99";
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("schema version 99"), std::string::npos) << message;
        EXPECT_NE(message.find("expected at most 3"), std::string::npos) << message;
        EXPECT_NE(message.find(path), std::string::npos) << message;
    }
}

TEST(RunStore, RejectsFileThatIsNotADatabase)
{
    test::TempDir dir;
    const std::string path = dir.file("notes.txt");
    std::ofstream(path) << "this is not an SQLite database, just some text that is long enough to be a header";
    try {
        RunStore store(path);
        FAIL() << "opened a text file as a database";
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find("not a database"), std::string::npos) << message;
    }
    EXPECT_THROW(RunStore(dir.file("missing.sqlite"), /*createIfMissing=*/false), std::runtime_error);
}

TEST(RunStore, RecordsRunsAndTheirRows)
{
    test::TempDir dir;
    RunStore store(dir.file("runs.sqlite"));
    RunRecord run;
    run.name = "vit-ti fmnist";
    run.strategy = "dr2net";
    run.modelSummary = "vit-ti depth 12";
    run.sourceCheckpoint = "/data/vit.safetensors";
    run.sourceSha256 = std::string(64, 'a');
    run.configJson = R"({"alpha": 1})";
    run.tags = { "baseline", "fmnist" };
    run.notes = "first try";
    const int64_t id = store.createRun(run);

    RunBatch batch;
    batch.scalars = { { 0, "loss", 2.0 }, { 1, "loss", 1.5 }, { 0, "lr", 0.1 }, { 1, "loss", 1.25 } };
    batch.evaluations.push_back({ 1, "val", { { "accuracy", 0.5 }, { "loss", 1.1 } } });
    ProbeRecord probe;
    probe.iteration = 1;
    probe.alpha = 0.9;
    probe.beta = 0.2;
    probe.metrics = { { "mse", 1e-6 }, { "rel_l2", std::nan("") } };
    probe.perBranch = { { "mse", { 1e-7, 2e-7, 3e-7 } } };
    batch.probes.push_back(probe);
    batch.events.push_back({ {}, 1, "info", "started" });
    batch.artifacts.push_back({ 0, "/tmp/a.h5", "arrays", "", 0, {} });
    store.writeBatch(id, batch);
    store.finishRun(id, RunStatus::Finished, R"({"val_accuracy": 0.5})", 123456);

    const RunRecord stored = store.resolveRun("vit-ti fmnist");
    EXPECT_EQ(stored.id, id);
    EXPECT_EQ(stored.status, RunStatus::Finished);
    EXPECT_FALSE(stored.finishedAt.empty());
    EXPECT_EQ(stored.strategy, "dr2net");
    EXPECT_EQ(stored.sourceSha256, std::string(64, 'a'));
    EXPECT_EQ(stored.tags, (std::vector<std::string> { "baseline", "fmnist" }));
    EXPECT_EQ(stored.finalMetricsJson, R"({"val_accuracy": 0.5})");
    EXPECT_EQ(stored.peakMemoryBytes.value_or(-1), 123456);
    EXPECT_EQ(stored.writerPid, ProcessIdentity::current().pid);
    EXPECT_EQ(store.resolveRun(std::to_string(id)).name, "vit-ti fmnist");

    // The repeated (run, loss, 1) point replaced the earlier one.
    const auto loss = store.scalars(id, "loss");
    ASSERT_EQ(loss.size(), 2u);
    EXPECT_DOUBLE_EQ(loss[1].value, 1.25);
    const auto series = store.scalarSeries(id);
    ASSERT_EQ(series.size(), 2u);
    EXPECT_EQ(series[0].name, "loss");
    EXPECT_EQ(series[0].count, 2);
    EXPECT_DOUBLE_EQ(series[0].lastValue, 1.25);
    EXPECT_DOUBLE_EQ(series[0].maxValue, 2.0);

    const auto evaluations = store.evaluations(id);
    ASSERT_EQ(evaluations.size(), 1u);
    EXPECT_DOUBLE_EQ(evaluations[0].metrics.at("accuracy"), 0.5);
    const auto probes = store.probes(id);
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_DOUBLE_EQ(probes[0].alpha, 0.9);
    EXPECT_DOUBLE_EQ(probes[0].metrics.at("mse"), 1e-6);
    EXPECT_TRUE(std::isnan(probes[0].metrics.at("rel_l2"))); // NaN survives as JSON null
    EXPECT_EQ(probes[0].perBranch.at("mse"), (std::vector<double> { 1e-7, 2e-7, 3e-7 }));
    ASSERT_EQ(store.events(id).size(), 1u);
    EXPECT_EQ(store.events(id)[0].iteration.value_or(-1), 1);
    ASSERT_EQ(store.artifacts(id).size(), 1u);
    EXPECT_EQ(store.artifacts(id)[0].kind, "arrays");

    // Names: a second run with the same name makes the name ambiguous; ids still work.
    const int64_t second = store.createRun(run);
    try {
        store.resolveRun("vit-ti fmnist");
        FAIL() << "ambiguous name resolved";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("ambiguous"), std::string::npos) << error.what();
    }
    EXPECT_THROW(store.resolveRun("no such run"), std::runtime_error);

    // Delete cascades to every table.
    store.deleteRun(id);
    EXPECT_FALSE(store.findRun(id));
    EXPECT_EQ(store.scalarCount(id), 0);
    EXPECT_EQ(store.connection().queryInt("SELECT COUNT(*) FROM probes"), 0);
    EXPECT_EQ(store.connection().queryInt("SELECT COUNT(*) FROM artifacts"), 0);
    EXPECT_EQ(store.listRuns().size(), 1u);
    EXPECT_EQ(store.listRuns()[0].id, second);
}

TEST(RunStore, MarksRunsOfDeadWritersInterruptedAndKeepsLiveOnes)
{
    test::TempDir dir;
    const std::string path = dir.file("runs.sqlite");
    int64_t live = 0, dead = 0, otherHost = 0;
    {
        RunStore store(path);
        live = store.createRun({});
        dead = store.createRun({});
        otherHost = store.createRun({});
        store.writeBatch(dead, RunBatch { { { 0, "loss", 1.0 } }, {}, {}, {}, {}, std::nullopt });
        store.connection().exec(
            "UPDATE runs SET writer_pid = " + std::to_string(deadPid()) + " WHERE id = " + std::to_string(dead));
        store.connection().exec("UPDATE runs SET writer_host = 'elsewhere.example', writer_pid = 1 WHERE id = "
            + std::to_string(otherHost));
    }
    RunStore store(path);
    EXPECT_EQ(store.findRun(live)->status, RunStatus::Running); // this process is alive
    EXPECT_EQ(store.findRun(dead)->status, RunStatus::Interrupted);
    EXPECT_EQ(store.findRun(otherHost)->status, RunStatus::Running); // cannot be checked from here
    EXPECT_EQ(store.scalarCount(dead), 1);
    const auto events = store.events(dead);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].level, "warning");
    EXPECT_NE(events[0].message.find("interrupted"), std::string::npos);
}

TEST(ProcessIdentity, TellsLiveFromDeadAndReusedPids)
{
    ProcessIdentity self = ProcessIdentity::current();
    EXPECT_GT(self.startTicks, 0);
    EXPECT_FALSE(self.bootId.empty());
    EXPECT_EQ(self.liveness(), ProcessIdentity::Liveness::Alive);
    ProcessIdentity reused = self;
    reused.startTicks += 1; // same pid, different process start: the pid was reused
    EXPECT_EQ(reused.liveness(), ProcessIdentity::Liveness::Dead);
    ProcessIdentity rebooted = self;
    rebooted.bootId = "00000000-0000-0000-0000-000000000000";
    EXPECT_EQ(rebooted.liveness(), ProcessIdentity::Liveness::Dead);
    ProcessIdentity gone = self;
    gone.pid = deadPid();
    EXPECT_EQ(gone.liveness(), ProcessIdentity::Liveness::Dead);
}
