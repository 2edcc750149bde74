#include "storage/sqlite_statement.h"

#include "storage/sqlite_connection.h"

#include <sqlite3.h>

#include <stdexcept>

namespace dr2 {

SqliteStatement::SqliteStatement(SqliteConnection& connection, const std::string& sql)
    : m_connection(connection)
    , m_sql(sql)
{
    m_connection.check(
        sqlite3_prepare_v2(connection.handle(), sql.c_str(), -1, &m_statement, nullptr), "preparing '" + sql + "'");
}

SqliteStatement::~SqliteStatement()
{
    sqlite3_finalize(m_statement);
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value)
{
    m_connection.check(sqlite3_bind_int64(m_statement, index, value), "binding parameter of '" + m_sql + "'");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value)
{
    m_connection.check(sqlite3_bind_double(m_statement, index, value), "binding parameter of '" + m_sql + "'");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const std::string& value)
{
    m_connection.check(
        sqlite3_bind_text(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT),
        "binding parameter of '" + m_sql + "'");
    return *this;
}

SqliteStatement& SqliteStatement::bindNull(int index)
{
    m_connection.check(sqlite3_bind_null(m_statement, index), "binding parameter of '" + m_sql + "'");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const std::optional<int64_t>& value)
{
    return value ? bind(index, *value) : bindNull(index);
}

bool SqliteStatement::step()
{
    const int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    // Read the message before reset(), which may replace it.
    const std::string message = sqlite3_errmsg(m_connection.handle());
    sqlite3_reset(m_statement);
    throw std::runtime_error("run database '" + m_connection.path() + "': running '" + m_sql + "': " + message);
}

void SqliteStatement::run()
{
    while (step()) { }
    reset();
}

void SqliteStatement::reset()
{
    sqlite3_reset(m_statement);
    sqlite3_clear_bindings(m_statement);
}

int64_t SqliteStatement::columnInt(int index) const
{
    return sqlite3_column_int64(m_statement, index);
}

double SqliteStatement::columnDouble(int index) const
{
    return sqlite3_column_double(m_statement, index);
}

std::string SqliteStatement::columnText(int index) const
{
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(m_statement, index));
    return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(m_statement, index))) : std::string();
}

bool SqliteStatement::columnIsNull(int index) const
{
    return sqlite3_column_type(m_statement, index) == SQLITE_NULL;
}

} // namespace dr2
