// Mirrors the format checks of huggingface/safetensors (`safetensors/src/tensor.rs`: header length
// limit, dtype list, offsets that must match shape x dtype and stay inside the buffer), plus an
// explicit overlap check.
#include "labhouse/engine/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace labhouse::engine {
namespace {

struct DTypeEntry {
    DType dtype;
    const char* name;
    std::size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2}, {DType::kF32, "F32", 4}, {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},   {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

std::string Quote(const std::string& name) {
    return "'" + name + "'";
}

Error Corrupt(const std::string& message) {
    return InvalidArgument("safetensors: " + message);
}

}  // namespace

std::string_view DTypeName(DType dtype) {
    for (const auto& e : kDTypes) {
        if (e.dtype == dtype) return e.name;
    }
    return "?";
}

std::size_t DTypeSize(DType dtype) {
    for (const auto& e : kDTypes) {
        if (e.dtype == dtype) return e.size;
    }
    return 0;
}

std::int64_t TensorInfo::Numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

Result<std::map<std::string, TensorInfo>> ParseSafetensorsHeader(const std::string& json, std::uint64_t data_size,
                                                                 std::map<std::string, std::string>* metadata) {
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(json);
    } catch (const std::exception& e) {
        return Corrupt(std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) return Corrupt("header is not a JSON object");
    std::map<std::string, TensorInfo> tensors;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) return Corrupt("__metadata__ is not an object");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) return Corrupt("__metadata__ value for " + Quote(key) + " is not a string");
                if (metadata != nullptr) (*metadata)[key] = value.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor " + Quote(name) + ": ";
        if (!entry.is_object()) return Corrupt(where + "entry is not an object");
        TensorInfo info;
        info.name = name;
        auto dtype_it = entry.find("dtype");
        if (dtype_it == entry.end() || !dtype_it->is_string()) return Corrupt(where + "missing dtype");
        const std::string dtype = dtype_it->get<std::string>();
        bool known = false;
        for (const auto& e : kDTypes) {
            if (dtype == e.name) {
                info.dtype = e.dtype;
                known = true;
            }
        }
        if (!known) return Corrupt(where + "unsupported dtype '" + dtype + "'");
        auto shape_it = entry.find("shape");
        if (shape_it == entry.end() || !shape_it->is_array()) return Corrupt(where + "missing shape");
        // Overflow-checked element count: a hostile shape must not wrap around to a small size.
        unsigned __int128 bytes = DTypeSize(info.dtype);
        for (const auto& d : *shape_it) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0) return Corrupt(where + "bad dimension in shape");
            info.shape.push_back(d.get<std::int64_t>());
            bytes *= static_cast<std::uint64_t>(info.shape.back());
            if (bytes > std::numeric_limits<std::uint64_t>::max()) return Corrupt(where + "shape is too large");
        }
        auto off_it = entry.find("data_offsets");
        if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
            !(*off_it)[1].is_number_unsigned()) {
            return Corrupt(where + "data_offsets must be two non-negative integers");
        }
        info.begin = (*off_it)[0].get<std::uint64_t>();
        info.end = (*off_it)[1].get<std::uint64_t>();
        if (info.begin > info.end) return Corrupt(where + "data_offsets end before they begin");
        if (info.end > data_size) {
            return Corrupt(where + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                           ") point past the end of the file (data section is " + std::to_string(data_size) +
                           " bytes; file truncated?)");
        }
        if (info.end - info.begin != static_cast<std::uint64_t>(bytes)) {
            return Corrupt(where + "size " + std::to_string(info.end - info.begin) + " bytes does not match shape x " +
                           dtype + " = " + std::to_string(static_cast<std::uint64_t>(bytes)) + " bytes");
        }
        tensors.emplace(name, std::move(info));
    }
    // Overlap check: sort by begin; every tensor must start at or after the previous one's end.
    std::vector<const TensorInfo*> order;
    for (const auto& [name, info] : tensors) order.push_back(&info);
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    for (std::size_t i = 1; i < order.size(); ++i) {
        if (order[i]->begin < order[i - 1]->end) {
            return Corrupt("tensor " + Quote(order[i]->name) + " overlaps tensor " + Quote(order[i - 1]->name));
        }
    }
    return tensors;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NotFound("cannot open checkpoint '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return InvalidArgument("'" + path + "' is not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const std::string where = "'" + path + "': ";
    if (size < 8) {
        ::close(fd);
        return Corrupt(where + "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        const int error = errno;
        ::close(fd);
        return Internal("cannot mmap '" + path + "': " + std::strerror(error));
    }
    std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->path_ = path;
    file->file_size_ = size;
    file->map_ = map;
    file->fd_ = fd;  // closed by the destructor, on the error returns below too
    const auto* bytes = static_cast<const std::uint8_t*>(map);
    std::uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];  // little-endian
    if (header_size > kMaxSafetensorsHeaderBytes) {
        return Corrupt(where + "header claims " + std::to_string(header_size) + " bytes, over the " +
                       std::to_string(kMaxSafetensorsHeaderBytes) + "-byte limit");
    }
    if (header_size > size - 8) {
        return Corrupt(where + "header claims " + std::to_string(header_size) + " bytes but the file has only " +
                       std::to_string(size - 8) + " after the length (file truncated?)");
    }
    const std::string json(reinterpret_cast<const char*>(bytes + 8), header_size);
    auto tensors = ParseSafetensorsHeader(json, size - 8 - header_size, &file->metadata_);
    if (!tensors) return Corrupt(where + std::move(tensors).error().message.substr(std::strlen("safetensors: ")));
    file->tensors_ = std::move(tensors).value();
    file->data_ = bytes + 8 + header_size;
    file->data_offset_ = 8 + header_size;
    return file;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_ != nullptr) ::munmap(map_, file_size_);
    if (fd_ >= 0) ::close(fd_);
}

bool SafetensorsFile::ReadData(const TensorInfo& info, std::uint64_t offset, std::uint64_t bytes, void* out) const {
    const std::uint64_t size = info.end - info.begin;
    if (offset > size || bytes > size - offset) return false;
    auto* dst = static_cast<std::uint8_t*>(out);
    std::uint64_t done = 0;
    while (done < bytes) {
        const ssize_t got = ::pread(fd_, dst + done, bytes - done,
                                    static_cast<off_t>(data_offset_ + info.begin + offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        done += static_cast<std::uint64_t>(got);
    }
    return true;
}

const TensorInfo* SafetensorsFile::Find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                        const std::map<std::string, std::string>& metadata,
                        const std::function<void(std::size_t, std::uint8_t*, std::size_t)>& fill) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> sizes;
    for (const auto& spec : specs) {
        std::uint64_t bytes = DTypeSize(spec.dtype);
        for (auto d : spec.shape) bytes *= static_cast<std::uint64_t>(d);
        header[spec.name] = {{"dtype", std::string(DTypeName(spec.dtype))},
                             {"shape", spec.shape},
                             {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        sizes.push_back(bytes);
    }
    std::string json = header.dump();
    while (json.size() % 8 != 0) json.push_back(' ');  // keeps the data 8-byte aligned, as the reference writer does
    const std::string tmp = path + ".partial";
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (out == nullptr) return Unavailable("cannot write '" + tmp + "': " + std::strerror(errno));
    std::uint8_t length[8];
    for (int i = 0; i < 8; ++i)
        length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(json.size()) >> (8 * i));
    bool ok = std::fwrite(length, 1, 8, out) == 8 && std::fwrite(json.data(), 1, json.size(), out) == json.size();
    std::vector<std::uint8_t> buffer;
    for (std::size_t i = 0; ok && i < specs.size(); ++i) {
        buffer.assign(sizes[i], 0);
        fill(i, buffer.data(), buffer.size());
        ok = std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
    }
    ok = (std::fclose(out) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return Unavailable("failed writing '" + path + "'");
    }
    return OkStatus();
}

std::uint16_t FloatToHalf(float value) {
    std::uint32_t x;
    std::memcpy(&x, &value, 4);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow -> inf
    if (abs < 0x38800000u) {                                                    // subnormal or zero
        if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);
        const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        const int shift = 113 - static_cast<int>(abs >> 23) + 13;
        std::uint32_t half = mant >> shift;
        const std::uint32_t rem = mant & ((1u << shift) - 1);
        const std::uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) ++half;
        return static_cast<std::uint16_t>(sign | half);
    }
    std::uint32_t half = ((abs - 0x38000000u) >> 13);
    const std::uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
}

float HalfToFloat(std::uint16_t h) {
    const std::uint32_t sign = (h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            x = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

}  // namespace labhouse::engine
