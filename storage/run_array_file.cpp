#include "storage/run_array_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace dr2 {
namespace {

    constexpr const char* kFormat = "dr2net-run-arrays";
    constexpr int64_t kFormatVersion = 1;
    constexpr hsize_t kChunkRows = 256;

    /// Closes an HDF5 identifier when it goes out of scope.
    class Handle {
    public:
        Handle(hid_t id, herr_t (*closer)(hid_t))
            : m_id(id)
            , m_closer(closer)
        {
        }
        ~Handle()
        {
            if (m_id >= 0)
                m_closer(m_id);
        }
        Handle(const Handle&) = delete;
        Handle& operator=(const Handle&) = delete;
        operator hid_t() const { return m_id; }
        hid_t id() const { return m_id; }

    private:
        hid_t m_id;
        herr_t (*m_closer)(hid_t);
    };

    // The innermost (most specific) message of the current thread's HDF5 error stack.
    std::string hdf5Message()
    {
        std::string message;
        H5Ewalk2(
            H5E_DEFAULT, H5E_WALK_UPWARD,
            [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
                auto* text = static_cast<std::string*>(data);
                if (text->empty() && error->desc)
                    *text = error->desc;
                return 0;
            },
            &message);
        H5Eclear2(H5E_DEFAULT);
        return message.empty() ? "unknown HDF5 error" : message;
    }

    // The library prints its error stack to stderr by default; we report errors through exceptions instead.
    void silenceHdf5()
    {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }

    class Context {
    public:
        explicit Context(const std::string& path)
            : m_path(path)
        {
            silenceHdf5();
        }
        [[noreturn]] void fail(const std::string& what) const
        {
            throw std::runtime_error("HDF5 file '" + m_path + "': " + what + ": " + hdf5Message());
        }
        /// Throws when `id` (an identifier, or an herr_t status) is negative; returns it otherwise.
        hid_t check(hid_t id, const std::string& what) const
        {
            if (id < 0)
                fail(what);
            return id;
        }

    private:
        const std::string& m_path;
    };

    void validateName(const std::string& name, const std::string& what)
    {
        const bool ok = !name.empty() && name != "." && name != ".."
            && name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
                == std::string::npos;
        if (!ok)
            throw std::invalid_argument(what + " '" + name + "': expected letters, digits, '_', '.' or '-'");
    }

    bool linkExists(hid_t location, const std::string& name)
    {
        return H5Lexists(location, name.c_str(), H5P_DEFAULT) > 0;
    }

    void writeStringAttribute(const Context& context, hid_t object, const std::string& name, const std::string& value)
    {
        if (H5Aexists(object, name.c_str()) > 0)
            context.check(H5Adelete(object, name.c_str()), "replacing attribute");
        // Variable-length UTF-8: h5py reads it as str.
        Handle type(context.check(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
        context.check(H5Tset_size(type, H5T_VARIABLE), "string type");
        context.check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
        Handle space(context.check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
        Handle attribute(context.check(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                             "creating attribute " + name),
            H5Aclose);
        const char* text = value.c_str();
        context.check(H5Awrite(attribute, type, &text), "writing attribute");
    }

    void writeInt64Attribute(const Context& context, hid_t object, const std::string& name, int64_t value)
    {
        if (H5Aexists(object, name.c_str()) > 0)
            context.check(H5Adelete(object, name.c_str()), "replacing attribute");
        Handle space(context.check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
        Handle attribute(context.check(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                             "creating attribute " + name),
            H5Aclose);
        context.check(H5Awrite(attribute, H5T_NATIVE_INT64, &value), "writing attribute");
    }

    std::string readStringAttribute(const Context& context, hid_t object, const std::string& name)
    {
        Handle attribute(
            context.check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute '" + name + "'"), H5Aclose);
        Handle fileType(context.check(H5Aget_type(attribute), "attribute type"), H5Tclose);
        if (H5Tget_class(fileType) != H5T_STRING)
            throw std::runtime_error("attribute '" + name + "': expected a string");
        Handle space(context.check(H5Aget_space(attribute), "attribute space"), H5Sclose);
        if (H5Tis_variable_str(fileType) > 0) {
            Handle memType(context.check(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
            H5Tset_size(memType, H5T_VARIABLE);
            H5Tset_cset(memType, H5Tget_cset(fileType));
            char* text = nullptr;
            context.check(H5Aread(attribute, memType, &text), "reading attribute");
            std::string value = text ? text : "";
            H5Dvlen_reclaim(memType, space, H5P_DEFAULT, &text);
            return value;
        }
        // Fixed-length strings (as other tools may write them).
        const size_t size = H5Tget_size(fileType);
        if (size > (1u << 20))
            throw std::runtime_error(
                "attribute '" + name + "': string of " + std::to_string(size) + " bytes, expected at most 1 MiB");
        std::string value(size, '\0');
        context.check(H5Aread(attribute, fileType, value.data()), "reading attribute");
        value.resize(std::strlen(value.c_str()));
        return value;
    }

    int64_t readInt64Attribute(const Context& context, hid_t object, const std::string& name)
    {
        Handle attribute(
            context.check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute '" + name + "'"), H5Aclose);
        int64_t value = 0;
        context.check(H5Aread(attribute, H5T_NATIVE_INT64, &value), "reading attribute");
        return value;
    }

    /// Creates an extendible dataset of `rows` × `cols` (1-D when cols == 0), NaN-filled for floating point.
    hid_t createExtendible(const Context& context, hid_t group, const std::string& name, hid_t fileType, hsize_t rows,
        hsize_t cols, const std::string& units)
    {
        const int rank = cols ? 2 : 1;
        hsize_t dims[2] = { rows, cols };
        hsize_t maxDims[2] = { H5S_UNLIMITED, cols };
        hsize_t chunk[2]
            = { cols ? std::max<hsize_t>(1, kChunkRows / std::max<hsize_t>(1, cols / 16)) : kChunkRows, cols };
        Handle space(context.check(H5Screate_simple(rank, dims, maxDims), "dataspace of " + name), H5Sclose);
        Handle properties(context.check(H5Pcreate(H5P_DATASET_CREATE), "dataset properties"), H5Pclose);
        context.check(H5Pset_chunk(properties, rank, chunk), "chunking");
        if (H5Tget_class(fileType) == H5T_FLOAT) {
            const double nan = std::numeric_limits<double>::quiet_NaN();
            context.check(H5Pset_fill_value(properties, H5T_NATIVE_DOUBLE, &nan), "fill value");
        }
        hid_t dataset
            = context.check(H5Dcreate2(group, name.c_str(), fileType, space, H5P_DEFAULT, properties, H5P_DEFAULT),
                "creating dataset " + name);
        writeStringAttribute(context, dataset, "units", units);
        return dataset;
    }

    hsize_t datasetRows(const Context& context, hid_t dataset, hsize_t* cols = nullptr)
    {
        Handle space(context.check(H5Dget_space(dataset), "dataset space"), H5Sclose);
        hsize_t dims[2] = { 0, 0 };
        const int rank = H5Sget_simple_extent_ndims(space);
        if (rank < 1 || rank > 2)
            throw std::runtime_error("dataset rank " + std::to_string(rank) + ": expected 1 or 2");
        H5Sget_simple_extent_dims(space, dims, nullptr);
        if (cols)
            *cols = rank == 2 ? dims[1] : 0;
        return dims[0];
    }

    /// Writes `rows` rows at row `start`, extending the dataset first when needed.
    void writeRows(const Context& context, hid_t dataset, hid_t memType, const void* data, hsize_t start, hsize_t rows)
    {
        hsize_t cols = 0;
        const hsize_t current = datasetRows(context, dataset, &cols);
        const int rank = cols ? 2 : 1;
        if (start + rows > current) {
            hsize_t extent[2] = { start + rows, cols };
            context.check(H5Dset_extent(dataset, extent), "extending dataset");
        }
        Handle fileSpace(context.check(H5Dget_space(dataset), "dataset space"), H5Sclose);
        hsize_t offset[2] = { start, 0 };
        hsize_t count[2] = { rows, cols };
        context.check(
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nullptr, count, nullptr), "selecting rows");
        Handle memSpace(context.check(H5Screate_simple(rank, count, nullptr), "memory space"), H5Sclose);
        context.check(H5Dwrite(dataset, memType, memSpace, fileSpace, H5P_DEFAULT, data), "writing rows");
    }

    void extendTo(const Context& context, hid_t dataset, hsize_t rows)
    {
        hsize_t cols = 0;
        if (datasetRows(context, dataset, &cols) >= rows)
            return;
        hsize_t extent[2] = { rows, cols };
        context.check(H5Dset_extent(dataset, extent), "extending dataset");
    }

    template <typename T>
    std::vector<T> readAll(
        const Context& context, hid_t dataset, hid_t memType, hsize_t* rowsOut = nullptr, hsize_t* colsOut = nullptr)
    {
        hsize_t cols = 0;
        const hsize_t rows = datasetRows(context, dataset, &cols);
        const hsize_t total = rows * std::max<hsize_t>(cols, 1);
        // The file's claimed size bounds the allocation: refuse absurd extents instead of allocating them.
        if (total > (hsize_t(1) << 31))
            throw std::runtime_error("dataset of " + std::to_string(total) + " elements: expected at most 2^31");
        std::vector<T> values(total);
        if (total > 0)
            context.check(H5Dread(dataset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "reading dataset");
        if (rowsOut)
            *rowsOut = rows;
        if (colsOut)
            *colsOut = cols;
        return values;
    }

    std::vector<std::string> childNames(const Context& context, hid_t group)
    {
        H5G_info_t info {};
        context.check(H5Gget_info(group, &info), "group info");
        std::vector<std::string> names;
        for (hsize_t i = 0; i < info.nlinks; ++i) {
            const ssize_t length
                = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
            if (length < 0)
                context.fail("listing group");
            std::string name(static_cast<size_t>(length) + 1, '\0');
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
            name.resize(static_cast<size_t>(length));
            names.push_back(name);
        }
        return names;
    }

    hid_t openGroup(const Context& context, hid_t file, const std::string& path)
    {
        return context.check(H5Gopen2(file, path.c_str(), H5P_DEFAULT), "opening group " + path);
    }

    hid_t openDataset(const Context& context, hid_t location, const std::string& name)
    {
        return context.check(H5Dopen2(location, name.c_str(), H5P_DEFAULT), "opening dataset " + name);
    }

} // namespace

std::string RunArrayFile::metricUnits(const std::string& metric)
{
    if (metric == "mse")
        return "gradient^2";
    if (metric == "max_abs")
        return "gradient";
    if (metric == "rel_l2")
        return "1";
    return "";
}

RunArrayFile::RunArrayFile(const std::string& path, Mode mode, int64_t runId)
    : m_path(path)
    , m_mode(mode)
{
    Context context(m_path);
    if (mode == Mode::Create) {
        // Default (earliest) format bounds on purpose: the newest superblock records "open for writing" and a
        // file left by a killed writer would then refuse to open until h5clear is run.
        m_file = context.check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), "creating file");
        try {
            writeStringAttribute(context, m_file, "format", kFormat);
            writeInt64Attribute(context, m_file, "format_version", kFormatVersion);
            writeInt64Attribute(context, m_file, "run_id", runId);
            writeStringAttribute(context, m_file, "created", isoTimeNow());
            // Each group and dataset is created and closed at once (an unnamed Handle); later writes reopen them.
            // NOLINTBEGIN(bugprone-unused-raii)
            for (const char* group : { "/probes", "/probes/metrics", "/probes/per_branch", "/heatmaps", "/memory" })
                Handle(
                    context.check(H5Gcreate2(m_file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), group), H5Gclose);
            Handle probes(openGroup(context, m_file, "/probes"), H5Gclose);
            for (const char* axis : { "alpha", "beta" })
                Handle(createExtendible(context, probes, axis, H5T_IEEE_F64LE, 0, 0, "1"), H5Dclose);
            Handle(createExtendible(context, probes, "iteration", H5T_STD_I64LE, 0, 0, "iteration"), H5Dclose);
            Handle memory(openGroup(context, m_file, "/memory"), H5Gclose);
            Handle(createExtendible(context, memory, "iteration", H5T_STD_I64LE, 0, 0, "iteration"), H5Dclose);
            Handle(createExtendible(context, memory, "current_bytes", H5T_STD_I64LE, 0, 0, "bytes"), H5Dclose);
            Handle(createExtendible(context, memory, "peak_bytes", H5T_STD_I64LE, 0, 0, "bytes"), H5Dclose);
            // NOLINTEND(bugprone-unused-raii)
            flush();
        } catch (...) {
            H5Fclose(m_file);
            m_file = -1;
            throw;
        }
        return;
    }
    m_file = context.check(
        H5Fopen(path.c_str(), mode == Mode::Append ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), "opening file");
    try {
        std::string format;
        if (H5Aexists(m_file, "format") > 0)
            format = readStringAttribute(context, m_file, "format");
        if (format != kFormat)
            throw std::runtime_error(
                "HDF5 file '" + path + "': attribute 'format': expected '" + kFormat + "', found '" + format + "'");
        if (mode == Mode::Append && readInt64Attribute(context, m_file, "run_id") != runId)
            throw std::runtime_error("HDF5 file '" + path + "': run_id: expected " + std::to_string(runId) + ", found "
                + std::to_string(readInt64Attribute(context, m_file, "run_id")));
    } catch (...) {
        H5Fclose(m_file);
        m_file = -1;
        throw;
    }
}

RunArrayFile::~RunArrayFile()
{
    try {
        close();
    } catch (...) {
        // close() already released the file; a failing final flush cannot be reported from a destructor.
    }
}

void RunArrayFile::close()
{
    if (m_file < 0)
        return;
    const hid_t file = m_file;
    m_file = -1;
    Context context(m_path);
    context.check(H5Fclose(file), "closing file");
}

void RunArrayFile::requireWritable(const char* what) const
{
    if (m_file < 0)
        throw std::logic_error("HDF5 file '" + m_path + "': " + what + " after close()");
    if (m_mode == Mode::Read)
        throw std::logic_error("HDF5 file '" + m_path + "': " + what + " on a file opened for reading");
}

void RunArrayFile::flush()
{
    requireWritable("flush");
    Context context(m_path);
    context.check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flushing");
}

size_t RunArrayFile::discardAfter(int64_t iteration)
{
    requireWritable("discardAfter");
    Context context(m_path);
    size_t dropped = 0;
    // Rows are appended in iteration order: keep the prefix up to `iteration`, shrink every column to it.
    auto keptRows = [&](hid_t iterationSet) {
        const auto iterations = readAll<int64_t>(context, iterationSet, H5T_NATIVE_INT64);
        const auto end = std::upper_bound(iterations.begin(), iterations.end(), iteration);
        dropped += static_cast<size_t>(iterations.end() - end);
        return static_cast<hsize_t>(end - iterations.begin());
    };
    auto shrink = [&](hid_t dataset, hsize_t rows) {
        hsize_t cols = 0;
        if (datasetRows(context, dataset, &cols) <= rows)
            return;
        hsize_t extent[2] = { rows, cols };
        context.check(H5Dset_extent(dataset, extent), "shrinking dataset");
    };

    Handle memory(openGroup(context, m_file, "/memory"), H5Gclose);
    {
        Handle iterationSet(openDataset(context, memory, "iteration"), H5Dclose);
        const hsize_t rows = keptRows(iterationSet);
        for (const std::string& name : childNames(context, memory)) {
            Handle dataset(openDataset(context, memory, name), H5Dclose);
            shrink(dataset, rows);
        }
    }
    Handle probes(openGroup(context, m_file, "/probes"), H5Gclose);
    {
        Handle iterationSet(openDataset(context, probes, "iteration"), H5Dclose);
        const hsize_t rows = keptRows(iterationSet);
        for (const char* name : { "iteration", "alpha", "beta" }) {
            Handle dataset(openDataset(context, probes, name), H5Dclose);
            shrink(dataset, rows);
        }
        for (const char* groupPath : { "/probes/metrics", "/probes/per_branch" }) {
            Handle group(openGroup(context, m_file, groupPath), H5Gclose);
            for (const std::string& name : childNames(context, group)) {
                Handle dataset(openDataset(context, group, name), H5Dclose);
                shrink(dataset, rows);
            }
        }
    }
    Handle heatmaps(openGroup(context, m_file, "/heatmaps"), H5Gclose);
    for (const std::string& name : childNames(context, heatmaps)) {
        bool later = false;
        {
            Handle group(openGroup(context, heatmaps, name), H5Gclose);
            later = readInt64Attribute(context, group, "iteration") > iteration;
        }
        if (later) {
            context.check(H5Ldelete(heatmaps, name.c_str(), H5P_DEFAULT), "deleting heatmap " + name);
            ++dropped;
        }
    }
    if (dropped > 0)
        flush();
    return dropped;
}

void RunArrayFile::appendProbe(const ProbeRecord& probe)
{
    requireWritable("appendProbe");
    Context context(m_path);
    for (const auto& [metric, value] : probe.metrics)
        validateName(metric, "probe metric");
    for (const auto& [metric, values] : probe.perBranch)
        validateName(metric, "probe per-branch metric");

    Handle probes(openGroup(context, m_file, "/probes"), H5Gclose);
    Handle iterations(openDataset(context, probes, "iteration"), H5Dclose);
    const hsize_t row = datasetRows(context, iterations);

    // Check per-branch widths before writing anything, so a bad probe leaves the file unchanged.
    Handle perBranchGroup(openGroup(context, m_file, "/probes/per_branch"), H5Gclose);
    for (const auto& [metric, values] : probe.perBranch) {
        if (values.empty())
            throw std::invalid_argument("probe at iteration " + std::to_string(probe.iteration) + ": per-branch '"
                + metric + "': expected one value per branch, found none");
        if (linkExists(perBranchGroup, metric)) {
            Handle dataset(openDataset(context, perBranchGroup, metric), H5Dclose);
            hsize_t cols = 0;
            datasetRows(context, dataset, &cols);
            if (cols != values.size())
                throw std::invalid_argument("probe at iteration " + std::to_string(probe.iteration) + ": per-branch '"
                    + metric + "': expected " + std::to_string(cols) + " branches (as in earlier probes), found "
                    + std::to_string(values.size()));
        }
    }

    writeRows(context, iterations, H5T_NATIVE_INT64, &probe.iteration, row, 1);
    Handle alpha(openDataset(context, probes, "alpha"), H5Dclose);
    writeRows(context, alpha, H5T_NATIVE_DOUBLE, &probe.alpha, row, 1);
    Handle beta(openDataset(context, probes, "beta"), H5Dclose);
    writeRows(context, beta, H5T_NATIVE_DOUBLE, &probe.beta, row, 1);

    Handle metricsGroup(openGroup(context, m_file, "/probes/metrics"), H5Gclose);
    for (const auto& [metric, value] : probe.metrics) {
        if (!linkExists(metricsGroup, metric))
            Handle(
                createExtendible(context, metricsGroup, metric, H5T_IEEE_F64LE, 0, 0, metricUnits(metric)), H5Dclose);
        Handle dataset(openDataset(context, metricsGroup, metric), H5Dclose);
        writeRows(context, dataset, H5T_NATIVE_DOUBLE, &value, row, 1);
    }
    for (const auto& [metric, values] : probe.perBranch) {
        if (!linkExists(perBranchGroup, metric))
            Handle(createExtendible(
                       context, perBranchGroup, metric, H5T_IEEE_F64LE, 0, values.size(), metricUnits(metric)),
                H5Dclose);
        Handle dataset(openDataset(context, perBranchGroup, metric), H5Dclose);
        writeRows(context, dataset, H5T_NATIVE_DOUBLE, values.data(), row, 1);
    }
    // Metrics this probe lacks stay NaN (the fill value) but keep one row per probe.
    for (hid_t group : { metricsGroup.id(), perBranchGroup.id() })
        for (const std::string& name : childNames(context, group)) {
            Handle dataset(openDataset(context, group, name), H5Dclose);
            extendTo(context, dataset, row + 1);
        }
}

void RunArrayFile::writeHeatmap(const HeatmapRecord& heatmap)
{
    requireWritable("writeHeatmap");
    validateName(heatmap.name, "heatmap name");
    const std::string where = "heatmap '" + heatmap.name + "'";
    if (heatmap.alphas.empty() || heatmap.betas.empty())
        throw std::invalid_argument(where + ": expected at least one α and one β, found "
            + std::to_string(heatmap.alphas.size()) + " × " + std::to_string(heatmap.betas.size()));
    const size_t cells = heatmap.alphas.size() * heatmap.betas.size();
    for (const auto& [metric, values] : heatmap.metrics) {
        validateName(metric, where + ": metric");
        if (metric == "alpha" || metric == "beta")
            throw std::invalid_argument(where + ": metric '" + metric + "': the name is reserved for an axis");
        if (values.size() != cells)
            throw std::invalid_argument(where + ": metric '" + metric + "': expected "
                + std::to_string(heatmap.alphas.size()) + " × " + std::to_string(heatmap.betas.size()) + " = "
                + std::to_string(cells) + " values, found " + std::to_string(values.size()));
    }
    Context context(m_path);
    Handle heatmaps(openGroup(context, m_file, "/heatmaps"), H5Gclose);
    if (linkExists(heatmaps, heatmap.name))
        throw std::invalid_argument(where + ": already exists in '" + m_path + "'");
    Handle group(context.check(H5Gcreate2(heatmaps, heatmap.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     "creating group " + heatmap.name),
        H5Gclose);
    writeInt64Attribute(context, group, "iteration", heatmap.iteration);
    writeStringAttribute(context, group, "axes", "alpha,beta");
    auto writeFixed = [&](const std::string& name, const std::vector<double>& values, int rank, const hsize_t* dims,
                          const std::string& units) {
        Handle space(context.check(H5Screate_simple(rank, dims, nullptr), "dataspace"), H5Sclose);
        Handle dataset(
            context.check(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                "creating dataset " + name),
            H5Dclose);
        context.check(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "writing");
        writeStringAttribute(context, dataset, "units", units);
        return;
    };
    const hsize_t alphaDims[1] = { heatmap.alphas.size() };
    const hsize_t betaDims[1] = { heatmap.betas.size() };
    const hsize_t gridDims[2] = { heatmap.alphas.size(), heatmap.betas.size() };
    writeFixed("alpha", heatmap.alphas, 1, alphaDims, "1");
    writeFixed("beta", heatmap.betas, 1, betaDims, "1");
    for (const auto& [metric, values] : heatmap.metrics)
        writeFixed(metric, values, 2, gridDims, metricUnits(metric));
}

void RunArrayFile::appendMemory(const std::vector<MemorySample>& samples)
{
    requireWritable("appendMemory");
    if (samples.empty())
        return;
    Context context(m_path);
    Handle memory(openGroup(context, m_file, "/memory"), H5Gclose);
    Handle iteration(openDataset(context, memory, "iteration"), H5Dclose);
    const hsize_t row = datasetRows(context, iteration);
    std::vector<int64_t> column(samples.size());
    auto writeColumn = [&](const char* name, int64_t MemorySample::*field) {
        for (size_t i = 0; i < samples.size(); ++i)
            column[i] = samples[i].*field;
        Handle dataset(openDataset(context, memory, name), H5Dclose);
        writeRows(context, dataset, H5T_NATIVE_INT64, column.data(), row, samples.size());
    };
    writeColumn("iteration", &MemorySample::iteration);
    writeColumn("current_bytes", &MemorySample::currentBytes);
    writeColumn("peak_bytes", &MemorySample::peakBytes);
}

int64_t RunArrayFile::runId() const
{
    Context context(m_path);
    return readInt64Attribute(context, m_file, "run_id");
}

std::string RunArrayFile::stringAttribute(const std::string& objectPath, const std::string& name) const
{
    Context context(m_path);
    Handle object(context.check(H5Oopen(m_file, objectPath.c_str(), H5P_DEFAULT), "opening " + objectPath), H5Oclose);
    return readStringAttribute(context, object, name);
}

std::vector<ProbeRecord> RunArrayFile::readProbes() const
{
    Context context(m_path);
    Handle probes(openGroup(context, m_file, "/probes"), H5Gclose);
    Handle iterationSet(openDataset(context, probes, "iteration"), H5Dclose);
    Handle alphaSet(openDataset(context, probes, "alpha"), H5Dclose);
    Handle betaSet(openDataset(context, probes, "beta"), H5Dclose);
    const auto iterations = readAll<int64_t>(context, iterationSet, H5T_NATIVE_INT64);
    const auto alphas = readAll<double>(context, alphaSet, H5T_NATIVE_DOUBLE);
    const auto betas = readAll<double>(context, betaSet, H5T_NATIVE_DOUBLE);
    const size_t count = iterations.size();
    if (alphas.size() != count || betas.size() != count)
        throw std::runtime_error(
            "HDF5 file '" + m_path + "': /probes: expected alpha, beta and iteration of equal length");
    std::vector<ProbeRecord> records(count);
    for (size_t i = 0; i < count; ++i) {
        records[i].iteration = iterations[i];
        records[i].alpha = alphas[i];
        records[i].beta = betas[i];
    }
    Handle metrics(openGroup(context, m_file, "/probes/metrics"), H5Gclose);
    for (const std::string& name : childNames(context, metrics)) {
        Handle dataset(openDataset(context, metrics, name), H5Dclose);
        const auto values = readAll<double>(context, dataset, H5T_NATIVE_DOUBLE);
        for (size_t i = 0; i < std::min(count, values.size()); ++i)
            records[i].metrics[name] = values[i];
    }
    Handle perBranch(openGroup(context, m_file, "/probes/per_branch"), H5Gclose);
    for (const std::string& name : childNames(context, perBranch)) {
        Handle dataset(openDataset(context, perBranch, name), H5Dclose);
        hsize_t rows = 0, cols = 0;
        const auto values = readAll<double>(context, dataset, H5T_NATIVE_DOUBLE, &rows, &cols);
        for (size_t i = 0; i < std::min<size_t>(count, rows); ++i)
            records[i].perBranch[name].assign(values.begin() + i * cols, values.begin() + (i + 1) * cols);
    }
    return records;
}

std::vector<std::string> RunArrayFile::heatmapNames() const
{
    Context context(m_path);
    Handle heatmaps(openGroup(context, m_file, "/heatmaps"), H5Gclose);
    return childNames(context, heatmaps);
}

HeatmapRecord RunArrayFile::readHeatmap(const std::string& name) const
{
    validateName(name, "heatmap name");
    Context context(m_path);
    Handle group(openGroup(context, m_file, "/heatmaps/" + name), H5Gclose);
    HeatmapRecord heatmap;
    heatmap.name = name;
    heatmap.iteration = readInt64Attribute(context, group, "iteration");
    for (const std::string& child : childNames(context, group)) {
        Handle dataset(openDataset(context, group, child), H5Dclose);
        auto values = readAll<double>(context, dataset, H5T_NATIVE_DOUBLE);
        if (child == "alpha")
            heatmap.alphas = std::move(values);
        else if (child == "beta")
            heatmap.betas = std::move(values);
        else
            heatmap.metrics[child] = std::move(values);
    }
    return heatmap;
}

std::vector<MemorySample> RunArrayFile::readMemory() const
{
    Context context(m_path);
    Handle memory(openGroup(context, m_file, "/memory"), H5Gclose);
    auto column = [&](const char* name) {
        Handle dataset(openDataset(context, memory, name), H5Dclose);
        return readAll<int64_t>(context, dataset, H5T_NATIVE_INT64);
    };
    const auto iterations = column("iteration");
    const auto current = column("current_bytes");
    const auto peak = column("peak_bytes");
    if (current.size() != iterations.size() || peak.size() != iterations.size())
        throw std::runtime_error("HDF5 file '" + m_path + "': /memory: expected columns of equal length");
    std::vector<MemorySample> samples(iterations.size());
    for (size_t i = 0; i < samples.size(); ++i)
        samples[i] = { iterations[i], current[i], peak[i] };
    return samples;
}

} // namespace dr2
