#pragma once

#include <cstdint>
#include <string>

namespace dr2 {

/// Resident set size of this process in bytes, the figure `top` and `ps` show as RES/RSS: the second field of
/// /proc/self/statm times the page size. -1 where it cannot be read (not Linux). Torch-free and cheap (one small
/// read): the recorder and the GUI sample it once per iteration.
int64_t processResidentBytes();

/// The resident size in a statm line ("size resident shared ..." in pages) for `pageBytes`; -1 when the line has
/// no second number. Split out of processResidentBytes() so the parsing is testable.
int64_t residentBytesFromStatm(const std::string& statm, int64_t pageBytes);

} // namespace dr2
