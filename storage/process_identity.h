#pragma once

#include <cstdint>
#include <string>

namespace dr2 {

/// Who a process is, precisely enough to tell later whether it is still alive: host name, kernel boot id,
/// pid, and the process start time in clock ticks since boot (so a reused pid is not mistaken for the writer).
struct ProcessIdentity {
    std::string host;
    std::string bootId;
    int64_t pid = 0;
    int64_t startTicks = 0;

    /// The calling process.
    static ProcessIdentity current();

    /// What is known about a recorded writer.
    enum class Liveness { Alive, Dead, Unknown };
    /// Alive, Dead, or Unknown when the writer ran on another host (its processes cannot be seen from here).
    /// A writer with no identity (pid 0, e.g. a run from schema version 1) is Dead.
    Liveness liveness() const;
};

} // namespace dr2
