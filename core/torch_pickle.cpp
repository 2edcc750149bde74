#include "core/torch_pickle.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace dr2 {

namespace {

// Python objects as far as a weights-only torch.save pickle needs them.
struct PyObject;
using PyRef = std::shared_ptr<PyObject>;

struct PyObject {
    enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Tensor, Mark };
    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text; ///< String value, or "module.name" of a Global
    std::vector<PyRef> items; ///< Tuple, List
    std::vector<std::pair<PyRef, PyRef>> dict;
    at::Tensor tensor;
    int depth = 0; ///< nesting depth, bounded so destruction cannot overflow the stack
};

constexpr int kMaxDepth = 1000;

PyRef make(PyObject::Kind kind)
{
    auto object = std::make_shared<PyObject>();
    object->kind = kind;
    return object;
}

const std::map<std::string, at::ScalarType>& storageTypes()
{
    static const std::map<std::string, at::ScalarType> kTypes = { { "torch.FloatStorage", at::kFloat },
        { "torch.DoubleStorage", at::kDouble }, { "torch.HalfStorage", at::kHalf },
        { "torch.BFloat16Storage", at::kBFloat16 }, { "torch.LongStorage", at::kLong },
        { "torch.IntStorage", at::kInt }, { "torch.ShortStorage", at::kShort }, { "torch.CharStorage", at::kChar },
        { "torch.ByteStorage", at::kByte }, { "torch.BoolStorage", at::kBool } };
    return kTypes;
}

class Unpickler {
public:
    Unpickler(caffe2::serialize::PyTorchStreamReader& archive, const std::string& source, const uint8_t* data,
        size_t size)
        : m_archive(archive)
        , m_source(source)
        , m_data(data)
        , m_size(size)
    {
    }

    PyRef run()
    {
        while (true) {
            const size_t at = m_pos;
            const uint8_t op = byte();
            switch (op) {
            case 0x80: byte(); break; // PROTO
            case 0x95: bytes(8); break; // FRAME: a hint only
            case '.': // STOP
                if (m_stack.size() != 1)
                    fail(at, "STOP with " + std::to_string(m_stack.size()) + " objects on the stack, expected 1");
                return m_stack.back();
            case '(': m_marks.push_back(m_stack.size()); break;
            case '}': push(make(PyObject::Kind::Dict)); break;
            case ']': push(make(PyObject::Kind::List)); break;
            case ')': push(make(PyObject::Kind::Tuple)); break;
            case 't': push(container(PyObject::Kind::Tuple, popMark(at))); break;
            case 0x85: case 0x86: case 0x87: { // TUPLE1..3
                const size_t n = op - 0x84;
                if (m_stack.size() < stackFloor() + n)
                    fail(at, "TUPLE" + std::to_string(n) + " needs " + std::to_string(n) + " objects");
                std::vector<PyRef> items(m_stack.end() - static_cast<long>(n), m_stack.end());
                m_stack.resize(m_stack.size() - n);
                push(container(PyObject::Kind::Tuple, std::move(items)));
                break;
            }
            case 'q': memoPut(byte(), at); break;
            case 'r': memoPut(le32(), at); break;
            case 0x94: memoPut(static_cast<uint32_t>(m_memo.size()), at); break; // MEMOIZE
            case 'h': push(memoGet(byte(), at)); break;
            case 'j': push(memoGet(le32(), at)); break;
            case 'X': push(string(le32())); break; // BINUNICODE
            case 0x8c: push(string(byte())); break; // SHORT_BINUNICODE
            case 0x8d: push(string(le64())); break; // BINUNICODE8
            case 'T': push(string(le32())); break; // BINSTRING
            case 'U': push(string(byte())); break; // SHORT_BINSTRING
            case 'B': push(string(le32())); break; // BINBYTES
            case 'C': push(string(byte())); break; // SHORT_BINBYTES
            case 'c': { // GLOBAL "module\nname\n"
                const std::string module = line(at);
                const std::string name = line(at);
                push(global(module + "." + name, at));
                break;
            }
            case 0x93: { // STACK_GLOBAL
                PyRef name = pop(at);
                PyRef module = pop(at);
                if (name->kind != PyObject::Kind::String || module->kind != PyObject::Kind::String)
                    fail(at, "STACK_GLOBAL expects two strings");
                push(global(module->text + "." + name->text, at));
                break;
            }
            case 'J': push(integer(static_cast<int32_t>(le32()))); break;
            case 'K': push(integer(byte())); break;
            case 'M': push(integer(le16())); break;
            case 0x8a: push(long1(at)); break; // LONG1
            case 'N': push(make(PyObject::Kind::None)); break;
            case 0x88: case 0x89: { // NEWTRUE / NEWFALSE
                PyRef b = make(PyObject::Kind::Bool);
                b->boolean = op == 0x88;
                push(b);
                break;
            }
            case 'G': { // BINFLOAT, big-endian
                uint64_t bits = 0;
                for (uint8_t c : bytes(8))
                    bits = (bits << 8) | c;
                PyRef f = make(PyObject::Kind::Float);
                std::memcpy(&f->real, &bits, sizeof bits);
                push(f);
                break;
            }
            case 'Q': push(persistentLoad(pop(at), at)); break; // BINPERSID
            case 'R': { // REDUCE
                PyRef args = pop(at);
                PyRef callable = pop(at);
                push(call(callable, args, at));
                break;
            }
            case 'b': { // BUILD: object state (an OrderedDict's _metadata); not needed for the tensors
                pop(at);
                if (m_stack.size() <= stackFloor())
                    fail(at, "BUILD without an object");
                break;
            }
            case 's': { // SETITEM
                PyRef value = pop(at);
                PyRef key = pop(at);
                setItems(top(at), { key, value }, at);
                break;
            }
            case 'u': setItems(nullptr, popMark(at), at); break; // SETITEMS
            case 'a': { // APPEND
                PyRef value = pop(at);
                append(top(at), { value }, at);
                break;
            }
            case 'e': append(nullptr, popMark(at), at); break; // APPENDS
            case '0': pop(at); break;
            case '1': popMark(at); break;
            case '2': push(top(at)); break;
            default: {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02x", op);
                fail(at, std::string("unsupported pickle opcode ") + hex
                        + " (only the opcodes torch.save emits for tensors and containers are read)");
            }
            }
        }
    }

private:
    [[noreturn]] void fail(size_t at, const std::string& what) const
    {
        throw std::runtime_error("PyTorch archive " + m_source + ": data.pkl byte " + std::to_string(at) + ": " + what);
    }

    uint8_t byte()
    {
        if (m_pos >= m_size)
            fail(m_pos, "unexpected end of the pickle");
        return m_data[m_pos++];
    }
    std::vector<uint8_t> bytes(uint64_t n)
    {
        if (n > m_size - m_pos)
            fail(m_pos, "a field of " + std::to_string(n) + " bytes runs past the end of the pickle ("
                    + std::to_string(m_size - m_pos) + " left)");
        std::vector<uint8_t> out(m_data + m_pos, m_data + m_pos + n);
        m_pos += n;
        return out;
    }
    uint32_t le16() { auto b = bytes(2); return b[0] | (b[1] << 8); }
    uint32_t le32()
    {
        auto b = bytes(4);
        return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) | (static_cast<uint32_t>(b[2]) << 16)
            | (static_cast<uint32_t>(b[3]) << 24);
    }
    uint64_t le64()
    {
        auto b = bytes(8);
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i)
            v = (v << 8) | b[static_cast<size_t>(i)];
        return v;
    }
    std::string line(size_t at)
    {
        std::string out;
        while (true) {
            const uint8_t c = byte();
            if (c == '\n')
                return out;
            out.push_back(static_cast<char>(c));
            if (out.size() > 256)
                fail(at, "GLOBAL name longer than 256 bytes");
        }
    }
    PyRef string(uint64_t n)
    {
        auto b = bytes(n);
        PyRef s = make(PyObject::Kind::String);
        s->text.assign(b.begin(), b.end());
        return s;
    }
    PyRef integer(int64_t v)
    {
        PyRef i = make(PyObject::Kind::Int);
        i->integer = v;
        return i;
    }
    PyRef long1(size_t at)
    {
        const uint8_t n = byte();
        if (n > 8)
            fail(at, "integer of " + std::to_string(n) + " bytes does not fit 64 bits");
        auto b = bytes(n);
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i)
            v = (v << 8) | b[static_cast<size_t>(i)];
        if (n > 0 && n < 8 && (b[n - 1] & 0x80))
            v |= ~uint64_t(0) << (8 * n); // sign-extend
        return integer(static_cast<int64_t>(v));
    }

    size_t stackFloor() const { return m_marks.empty() ? 0 : m_marks.back(); }
    void push(PyRef object)
    {
        if (object->depth > kMaxDepth)
            fail(m_pos, "objects nested deeper than " + std::to_string(kMaxDepth));
        m_stack.push_back(std::move(object));
    }
    PyRef pop(size_t at)
    {
        if (m_stack.size() <= stackFloor())
            fail(at, "pop from an empty stack");
        PyRef object = m_stack.back();
        m_stack.pop_back();
        return object;
    }
    PyRef top(size_t at)
    {
        if (m_stack.size() <= stackFloor())
            fail(at, "empty stack");
        return m_stack.back();
    }
    std::vector<PyRef> popMark(size_t at)
    {
        if (m_marks.empty())
            fail(at, "no MARK on the stack");
        const size_t mark = m_marks.back();
        m_marks.pop_back();
        std::vector<PyRef> items(m_stack.begin() + static_cast<long>(mark), m_stack.end());
        m_stack.resize(mark);
        return items;
    }
    PyRef container(PyObject::Kind kind, std::vector<PyRef> items)
    {
        PyRef c = make(kind);
        for (const auto& item : items)
            c->depth = std::max(c->depth, item->depth + 1);
        c->items = std::move(items);
        return c;
    }
    void memoPut(uint32_t index, size_t at)
    {
        if (m_memo.size() > m_size)
            fail(at, "more memo entries than pickle bytes");
        m_memo[index] = top(at);
    }
    PyRef memoGet(uint32_t index, size_t at)
    {
        auto it = m_memo.find(index);
        if (it == m_memo.end())
            fail(at, "memo entry " + std::to_string(index) + " was never stored");
        return it->second;
    }
    PyRef global(const std::string& name, size_t at)
    {
        static const char* kAllowed[] = { "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter" };
        bool allowed = storageTypes().count(name) > 0;
        for (const char* known : kAllowed)
            allowed = allowed || name == known;
        if (!allowed)
            fail(at, "global '" + name
                    + "' is not allowed (expected collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                      "torch._utils._rebuild_parameter or a torch storage type; save the state dict alone)");
        PyRef g = make(PyObject::Kind::Global);
        g->text = name;
        return g;
    }
    void setItems(PyRef target, std::vector<PyRef> items, size_t at)
    {
        if (!target)
            target = top(at);
        if (target->kind != PyObject::Kind::Dict || items.size() % 2 != 0)
            fail(at, "SETITEMS on something that is not a dict");
        for (size_t i = 0; i < items.size(); i += 2) {
            target->depth = std::max({ target->depth, items[i]->depth + 1, items[i + 1]->depth + 1 });
            target->dict.emplace_back(items[i], items[i + 1]);
        }
        if (target->depth > kMaxDepth)
            fail(at, "objects nested deeper than " + std::to_string(kMaxDepth));
    }
    void append(PyRef target, std::vector<PyRef> items, size_t at)
    {
        if (!target)
            target = top(at);
        if (target->kind != PyObject::Kind::List)
            fail(at, "APPEND on something that is not a list");
        for (auto& item : items) {
            target->depth = std::max(target->depth, item->depth + 1);
            target->items.push_back(std::move(item));
        }
        if (target->depth > kMaxDepth)
            fail(at, "objects nested deeper than " + std::to_string(kMaxDepth));
    }

    // ('storage', StorageType, key, location, numel) → a flat CPU tensor over the record "data/<key>".
    PyRef persistentLoad(const PyRef& pid, size_t at)
    {
        const auto& f = pid->items;
        if (pid->kind != PyObject::Kind::Tuple || f.size() != 5 || f[0]->kind != PyObject::Kind::String
            || f[0]->text != "storage" || f[1]->kind != PyObject::Kind::Global || f[2]->kind != PyObject::Kind::String
            || f[4]->kind != PyObject::Kind::Int)
            fail(at, "persistent id: expected ('storage', type, key, location, numel)");
        auto type = storageTypes().find(f[1]->text);
        if (type == storageTypes().end())
            fail(at, "persistent id: '" + f[1]->text + "' is not a storage type");
        const std::string& key = f[2]->text;
        auto cached = m_storages.find(key);
        if (cached == m_storages.end()) {
            const std::string record = "data/" + key;
            if (!m_archive.hasRecord(record))
                fail(at, "storage record '" + record + "' is missing from the archive");
            auto [dataPtr, recordSize] = m_archive.getRecord(record);
            const size_t elementSize = c10::elementSize(type->second);
            const int64_t numel = f[4]->integer;
            if (numel < 0 || static_cast<uint64_t>(numel) > recordSize / elementSize)
                fail(at, "storage '" + key + "' claims " + std::to_string(numel) + " elements of "
                        + std::to_string(elementSize) + " bytes, the record holds " + std::to_string(recordSize) + " bytes");
            at::Tensor flat = at::empty({ numel }, at::TensorOptions().dtype(type->second));
            if (numel > 0)
                std::memcpy(flat.data_ptr(), dataPtr.get(), static_cast<size_t>(numel) * elementSize);
            cached = m_storages.emplace(key, flat).first;
        }
        PyRef storage = make(PyObject::Kind::Tensor);
        storage->tensor = cached->second;
        return storage;
    }

    std::vector<int64_t> ints(const PyRef& tuple, const char* what, size_t at)
    {
        if (tuple->kind != PyObject::Kind::Tuple)
            fail(at, std::string(what) + ": expected a tuple of integers");
        std::vector<int64_t> out;
        for (const auto& item : tuple->items) {
            if (item->kind != PyObject::Kind::Int || item->integer < 0)
                fail(at, std::string(what) + ": expected non-negative integers");
            out.push_back(item->integer);
        }
        return out;
    }

    PyRef call(const PyRef& callable, const PyRef& args, size_t at)
    {
        if (callable->kind != PyObject::Kind::Global || args->kind != PyObject::Kind::Tuple)
            fail(at, "REDUCE expects an allowed global and an argument tuple");
        const auto& a = args->items;
        if (callable->text == "collections.OrderedDict") {
            if (!a.empty())
                fail(at, "collections.OrderedDict with arguments is not supported");
            return make(PyObject::Kind::Dict);
        }
        if (callable->text == "torch._utils._rebuild_parameter") {
            if (a.empty() || a[0]->kind != PyObject::Kind::Tensor)
                fail(at, "_rebuild_parameter: expected a tensor argument");
            return a[0];
        }
        if (callable->text == "torch._utils._rebuild_tensor_v2") {
            if (a.size() < 4 || a[0]->kind != PyObject::Kind::Tensor || a[1]->kind != PyObject::Kind::Int)
                fail(at, "_rebuild_tensor_v2: expected (storage, offset, size, stride, ...)");
            const at::Tensor& storage = a[0]->tensor;
            const int64_t offset = a[1]->integer;
            const auto sizes = ints(a[2], "tensor size", at);
            const auto strides = ints(a[3], "tensor stride", at);
            if (sizes.size() != strides.size())
                fail(at, "tensor size and stride have different ranks");
            // The last element the view touches must lie inside the storage.
            int64_t last = offset;
            bool empty = false;
            for (size_t i = 0; i < sizes.size(); ++i) {
                empty = empty || sizes[i] == 0;
                if (sizes[i] > 0 && strides[i] > (INT64_MAX - last) / std::max<int64_t>(sizes[i], 1))
                    fail(at, "tensor view overflows");
                last += (sizes[i] - 1) * strides[i];
            }
            if (offset < 0 || (!empty && last >= storage.numel()))
                fail(at, "tensor view (offset " + std::to_string(offset) + ", sizes " + c10::str(c10::IntArrayRef(sizes))
                        + ") reaches past its storage of " + std::to_string(storage.numel()) + " elements");
            PyRef t = make(PyObject::Kind::Tensor);
            t->tensor = empty ? at::empty(sizes, storage.options()) : storage.as_strided(sizes, strides, offset);
            return t;
        }
        fail(at, "'" + callable->text + "' cannot be called here (storage types are only persistent-id tags)");
    }

    caffe2::serialize::PyTorchStreamReader& m_archive;
    std::string m_source;
    const uint8_t* m_data;
    size_t m_size;
    size_t m_pos = 0;
    std::vector<PyRef> m_stack;
    std::vector<size_t> m_marks;
    std::unordered_map<uint32_t, PyRef> m_memo;
    std::map<std::string, at::Tensor> m_storages;
};

bool isStateDict(const PyRef& object)
{
    if (object->kind != PyObject::Kind::Dict || object->dict.empty())
        return false;
    for (const auto& [key, value] : object->dict)
        if (key->kind != PyObject::Kind::String || value->kind != PyObject::Kind::Tensor)
            return false;
    return true;
}

} // namespace

TorchSaveContents readTorchSave(caffe2::serialize::PyTorchStreamReader& archive, const std::string& source)
{
    if (!archive.hasRecord("data.pkl"))
        throw std::runtime_error("PyTorch archive " + source + ": no data.pkl record (not written by torch.save)");
    auto [pickle, size] = archive.getRecord("data.pkl");
    PyRef root = Unpickler(archive, source, static_cast<const uint8_t*>(pickle.get()), size).run();

    TorchSaveContents contents;
    PyRef stateDict;
    if (isStateDict(root)) {
        stateDict = root;
    } else if (root->kind == PyObject::Kind::Dict) {
        for (const char* key : { "state_dict", "model", "module" })
            for (const auto& [k, v] : root->dict)
                if (!stateDict && k->kind == PyObject::Kind::String && k->text == key && isStateDict(v))
                    stateDict = v, contents.containerKey = key;
    }
    if (!stateDict) {
        std::string keys;
        if (root->kind == PyObject::Kind::Dict)
            for (const auto& [k, v] : root->dict)
                if (k->kind == PyObject::Kind::String)
                    keys += (keys.empty() ? "" : ", ") + k->text;
        throw std::runtime_error("PyTorch archive " + source
            + ": expected a state dict (names → tensors) or a dict with one under 'state_dict', 'model' or 'module', found "
            + (root->kind == PyObject::Kind::Dict ? "a dict with keys [" + keys + "]" : std::string("another object")));
    }
    for (const auto& [key, value] : stateDict->dict)
        contents.tensors.emplace_back(key->text, value->tensor);
    return contents;
}

} // namespace dr2
