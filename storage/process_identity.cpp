#include "storage/process_identity.h"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/types.h>
#include <unistd.h>

namespace dr2 {
namespace {

    std::string readBootId()
    {
        std::ifstream in("/proc/sys/kernel/random/boot_id");
        std::string id;
        std::getline(in, id);
        return id;
    }

    // Field 22 of /proc/PID/stat: start time after boot in clock ticks; -1 when the process is gone or a zombie
    // (a killed writer whose parent has not reaped it yet is dead for our purposes). The command name (field 2)
    // may contain spaces and parentheses, so parse from the last ')'.
    int64_t readStartTicks(int64_t pid)
    {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(in, line))
            return -1;
        const auto close = line.rfind(')');
        if (close == std::string::npos)
            return -1;
        std::istringstream fields(line.substr(close + 2));
        std::string field;
        // After ')' come fields 3..: state is field 3, start time is field 22 -> the 20th token here.
        for (int i = 3; i <= 22; ++i) {
            if (!(fields >> field))
                return -1;
            if (i == 3 && (field == "Z" || field == "X"))
                return -1;
        }
        try {
            return std::stoll(field);
        } catch (...) {
            return -1;
        }
    }

} // namespace

ProcessIdentity ProcessIdentity::current()
{
    ProcessIdentity identity;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0)
        identity.host = host;
    identity.bootId = readBootId();
    identity.pid = getpid();
    identity.startTicks = readStartTicks(identity.pid);
    return identity;
}

ProcessIdentity::Liveness ProcessIdentity::liveness() const
{
    if (pid <= 0)
        return Liveness::Dead;
    const ProcessIdentity self = current();
    if (host != self.host)
        return Liveness::Unknown;
    if (!bootId.empty() && !self.bootId.empty() && bootId != self.bootId)
        return Liveness::Dead; // the machine rebooted since
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
        return Liveness::Dead;
    const int64_t ticks = readStartTicks(pid);
    if (ticks < 0)
        return Liveness::Dead; // gone (or a zombie already reaped) between the two checks
    return ticks == startTicks ? Liveness::Alive : Liveness::Dead; // otherwise the pid was reused
}

} // namespace dr2
