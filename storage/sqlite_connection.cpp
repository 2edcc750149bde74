#include "storage/sqlite_connection.h"

#include <sqlite3.h>

#include <stdexcept>

namespace dr2 {

SqliteConnection::SqliteConnection(const std::string& path, Mode mode, int busyTimeoutMs)
    : m_path(path)
{
    const int flags
        = SQLITE_OPEN_READWRITE | (mode == Mode::ReadWriteCreate ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &m_db, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
        sqlite3_close(m_db);
        m_db = nullptr;
        throw std::runtime_error("opening run database '" + path + "': " + message);
    }
    sqlite3_extended_result_codes(m_db, 1);
    sqlite3_busy_timeout(m_db, busyTimeoutMs);
}

SqliteConnection::~SqliteConnection()
{
    // sqlite3_close_v2 defers the close until any forgotten statements are finalized.
    if (m_db)
        sqlite3_close_v2(m_db);
}

void SqliteConnection::check(int resultCode, const std::string& what) const
{
    if (resultCode == SQLITE_OK || resultCode == SQLITE_ROW || resultCode == SQLITE_DONE)
        return;
    throw std::runtime_error("run database '" + m_path + "': " + what + ": " + sqlite3_errmsg(m_db));
}

void SqliteConnection::exec(const std::string& sql)
{
    char* error = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        const std::string message = error ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        const std::string shortSql = sql.size() > 80 ? sql.substr(0, 80) + "..." : sql;
        throw std::runtime_error("run database '" + m_path + "': executing '" + shortSql + "': " + message);
    }
}

long long SqliteConnection::queryInt(const std::string& sql)
{
    sqlite3_stmt* statement = nullptr;
    check(sqlite3_prepare_v2(m_db, sql.c_str(), -1, &statement, nullptr), "preparing '" + sql + "'");
    const int rc = sqlite3_step(statement);
    const long long value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    sqlite3_finalize(statement);
    check(rc, "running '" + sql + "'");
    return value;
}

long long SqliteConnection::lastInsertRowId() const
{
    return sqlite3_last_insert_rowid(m_db);
}

int SqliteConnection::changes() const
{
    return sqlite3_changes(m_db);
}

SqliteTransaction::SqliteTransaction(SqliteConnection& connection)
    : m_connection(connection)
{
    m_connection.exec("BEGIN IMMEDIATE");
}

SqliteTransaction::~SqliteTransaction()
{
    if (!m_open)
        return;
    try {
        m_connection.exec("ROLLBACK");
    } catch (...) {
        // A failed rollback leaves SQLite to roll back on close; nothing better to do in a destructor.
    }
}

void SqliteTransaction::commit()
{
    m_connection.exec("COMMIT");
    m_open = false;
}

} // namespace dr2
