#pragma once

#include <string>

struct sqlite3;

namespace dr2 {

/// One open SQLite connection (RAII). Not shared between threads: each thread opens its own.
/// Errors throw std::runtime_error naming the database file and the statement.
class SqliteConnection {
public:
    /// How to open the file.
    enum class Mode { ReadWrite, ReadWriteCreate };

    /// Opens `path`; busy waits up to `busyTimeoutMs` for locks held by other connections.
    SqliteConnection(const std::string& path, Mode mode, int busyTimeoutMs = 10000);
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    /// Runs one or more statements without results.
    void exec(const std::string& sql);
    /// The first column of the first row of a query returning one integer (e.g. a PRAGMA).
    long long queryInt(const std::string& sql);
    /// Rowid of the last INSERT on this connection.
    long long lastInsertRowId() const;
    /// Rows changed by the last statement.
    int changes() const;
    /// The file this connection opened.
    const std::string& path() const { return m_path; }
    /// The raw handle, for SqliteStatement.
    sqlite3* handle() const { return m_db; }
    /// Throws std::runtime_error "<path>: <what>: <sqlite message>" for a non-OK result code.
    void check(int resultCode, const std::string& what) const;

private:
    sqlite3* m_db = nullptr;
    std::string m_path;
};

/// A transaction that rolls back unless commit() is called (BEGIN IMMEDIATE: takes the write lock up front,
/// so a concurrent writer waits on the busy timeout instead of failing on upgrade).
class SqliteTransaction {
public:
    /// Begins the transaction.
    explicit SqliteTransaction(SqliteConnection& connection);
    ~SqliteTransaction();
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    /// Commits; after this the destructor does nothing.
    void commit();

private:
    SqliteConnection& m_connection;
    bool m_open = true;
};

} // namespace dr2
