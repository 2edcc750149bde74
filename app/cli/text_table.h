#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace dr2::cli {

/// A plain-text table with right-aligned columns, for terminal output.
class TextTable {
public:
    explicit TextTable(std::vector<std::string> header);
    void addRow(std::vector<std::string> cells);
    void print(std::ostream& out) const;

private:
    std::vector<std::vector<std::string>> m_rows;
};

/// Bytes as "12.3 MiB" (binary units).
std::string formatBytes(int64_t bytes);
/// A number with `digits` significant digits in %g style.
std::string formatNumber(double value, int digits = 4);
/// A fraction as a percentage with one decimal: 0.69 -> "69.0 %" (columns of accuracies line up).
std::string formatPercent(double fraction);

} // namespace dr2::cli
