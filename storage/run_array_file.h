#pragma once

#include "storage/run_records.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dr2 {

/// The HDF5 file of one run: probes along the run (the probed α/β path with overall and per-branch errors),
/// gradient-error heatmaps over α × β, and the memory timeline. Layout: storage/README.md.
///
/// Datasets along the run are chunked and extendible; every dataset carries a `units` attribute and the root
/// carries the run id. flush() (H5Fflush) makes everything written so far readable after a crash.
class RunArrayFile {
public:
    /// How to open the file.
    enum class Mode {
        Create, ///< a new file; fails if it exists
        Append, ///< an existing file of the same run, to continue writing (resume)
        Read, ///< read only
    };

    /// Opens or creates `path`. `runId` is written on Create and checked on Append (ignored on Read).
    RunArrayFile(const std::string& path, Mode mode, int64_t runId = 0);
    ~RunArrayFile();
    RunArrayFile(const RunArrayFile&) = delete;
    RunArrayFile& operator=(const RunArrayFile&) = delete;

    /// Appends one probe to /probes. Per-branch vectors must keep the length of earlier probes.
    void appendProbe(const ProbeRecord& probe);
    /// Writes one heatmap as the group /heatmaps/NAME (fails if it exists).
    void writeHeatmap(const HeatmapRecord& heatmap);
    /// Appends samples to /memory.
    void appendMemory(const std::vector<MemorySample>& samples);
    /// Drops what was recorded after `iteration`: probe and memory rows with a larger iteration (rows are in
    /// iteration order) and heatmaps whose `iteration` is larger. A resumed run calls this with the iteration
    /// of its checkpoint, so the steps it recomputes are not recorded twice. Returns the rows and heatmaps dropped.
    size_t discardAfter(int64_t iteration);
    /// Writes everything buffered to the file (H5Fflush).
    void flush();
    /// Flushes and closes; the destructor does this too, without throwing.
    void close();

    /// The run id stored in the root attribute `run_id`.
    int64_t runId() const;
    /// The file's path.
    const std::string& path() const { return m_path; }
    /// All probes (NaN where a metric was not recorded for a probe).
    std::vector<ProbeRecord> readProbes() const;
    /// Names of the heatmap groups.
    std::vector<std::string> heatmapNames() const;
    /// One heatmap.
    HeatmapRecord readHeatmap(const std::string& name) const;
    /// The memory timeline.
    std::vector<MemorySample> readMemory() const;
    /// A string attribute of an object ("/" for the root), e.g. the units of a dataset.
    std::string stringAttribute(const std::string& objectPath, const std::string& name) const;

    /// The units written for a gradient-error metric ("mse" -> "gradient^2", "rel_l2" -> "1", ...).
    static std::string metricUnits(const std::string& metric);

private:
    void requireWritable(const char* what) const;

    std::string m_path;
    int64_t m_file = -1; // hid_t
    Mode m_mode;
};

} // namespace dr2
