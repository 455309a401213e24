// A reader and a streaming writer for the safetensors format
// (https://github.com/huggingface/safetensors: 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
// data). The reader memory-maps the file and validates every header field before any tensor is
// touched, so a broken or hostile file gives an error naming the tensor instead of a crash.
// No torch here: the engine wraps the mapped bytes into tensors itself, or copies them out with
// ReadData (low-memory mode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::engine {

enum class DType { kF16, kBF16, kF32, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

std::string_view DTypeName(DType dtype);  // "F16", "BF16", ...
std::size_t DTypeSize(DType dtype);

struct TensorInfo {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // offsets into the data section
    std::uint64_t end = 0;

    std::int64_t Numel() const;
};

// The largest JSON header we accept. The real SDXL file has ~2,600 entries and a ~200 KB header;
// 100 MB leaves room for any real model while refusing absurd claims before allocating.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

class SafetensorsFile {
public:
    static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    std::uint64_t file_size() const { return file_size_; }
    const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const TensorInfo* Find(const std::string& name) const;
    // Pointer to the first byte of the tensor's data inside the mapping (valid while *this lives).
    const std::uint8_t* Data(const TensorInfo& info) const { return data_ + info.begin; }
    // Copies `bytes` bytes of the tensor's data, from `offset` within it, into `out` with pread:
    // through the page cache, without mapping the pages into this process (each first touch of a
    // freshly mapped 4 KiB page cost ~2 us on the VM the engine was tuned on, a copy into a
    // reused buffer a third of that). Thread-safe. False on a read error or a range outside the tensor.
    bool ReadData(const TensorInfo& info, std::uint64_t offset, std::uint64_t bytes, void* out) const;

private:
    SafetensorsFile() = default;
    std::string path_;
    std::uint64_t file_size_ = 0;
    void* map_ = nullptr;
    int fd_ = -1;                     // kept open for ReadData
    std::uint64_t data_offset_ = 0;   // file offset of the data section
    const std::uint8_t* data_ = nullptr;
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::string> metadata_;
};

// Parses and validates a header against a data section of `data_size` bytes. Exposed for tests.
Result<std::map<std::string, TensorInfo>> ParseSafetensorsHeader(const std::string& json, std::uint64_t data_size,
                                                                 std::map<std::string, std::string>* metadata);

struct TensorSpec {
    std::string name;
    DType dtype = DType::kF16;
    std::vector<std::int64_t> shape;
};

// Writes `specs` in order. `fill(index, out, bytes)` writes the data of specs[index]; the writer
// streams tensor by tensor so a 7 GB checkpoint never sits in memory.
Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                        const std::map<std::string, std::string>& metadata,
                        const std::function<void(std::size_t, std::uint8_t*, std::size_t)>& fill);

// IEEE half conversion (round to nearest even), used by the writers.
std::uint16_t FloatToHalf(float value);
float HalfToFloat(std::uint16_t value);

}  // namespace labhouse::engine
