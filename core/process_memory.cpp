#include "core/process_memory.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace dr2 {

int64_t residentBytesFromStatm(const std::string& statm, int64_t pageBytes)
{
    std::istringstream fields(statm);
    int64_t sizePages = 0;
    int64_t residentPages = 0;
    if (!(fields >> sizePages >> residentPages) || residentPages < 0 || pageBytes <= 0)
        return -1;
    return residentPages * pageBytes;
}

int64_t processResidentBytes()
{
    std::ifstream file("/proc/self/statm");
    std::string line;
    if (!file || !std::getline(file, line))
        return -1;
    return residentBytesFromStatm(line, static_cast<int64_t>(::sysconf(_SC_PAGESIZE)));
}

} // namespace dr2
