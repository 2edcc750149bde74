#pragma once

#include <cstdint>
#include <optional>
#include <string>

struct sqlite3_stmt;

namespace dr2 {

class SqliteConnection;

/// A prepared statement (RAII) with 1-based binds and 0-based columns, reusable with reset().
class SqliteStatement {
public:
    /// Prepares `sql` on `connection`; throws naming the database and the statement.
    SqliteStatement(SqliteConnection& connection, const std::string& sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    /// Binds an integer to parameter `index` (1-based).
    SqliteStatement& bind(int index, int64_t value);
    /// Binds a double.
    SqliteStatement& bind(int index, double value);
    /// Binds text (copied).
    SqliteStatement& bind(int index, const std::string& value);
    /// Binds NULL.
    SqliteStatement& bindNull(int index);
    /// Binds an optional integer (NULL when empty).
    SqliteStatement& bind(int index, const std::optional<int64_t>& value);

    /// Steps once: true when a row is available, false when done. Throws on error.
    bool step();
    /// Steps a statement that returns no rows, then resets it for reuse.
    void run();
    /// Resets the statement and clears its bindings.
    void reset();

    /// Column `index` of the current row as an integer (0 for NULL).
    int64_t columnInt(int index) const;
    /// As a double (0 for NULL).
    double columnDouble(int index) const;
    /// As text (empty for NULL).
    std::string columnText(int index) const;
    /// True when the column is NULL.
    bool columnIsNull(int index) const;

private:
    SqliteConnection& m_connection;
    sqlite3_stmt* m_statement = nullptr;
    std::string m_sql;
};

} // namespace dr2
