// Helpers shared by the engine tests (no torch).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace labhouse::engine::testing {

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        path_ = std::filesystem::temp_directory_path() / ("labhouse-engine-" + tag + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string File(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Writes an 8-byte little-endian length (`claimed`, default the JSON size), the JSON and raw data.
inline void WriteRawSafetensors(const std::string& path, const std::string& json, const std::string& data,
                                std::uint64_t claimed = UINT64_MAX) {
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = claimed == UINT64_MAX ? json.size() : claimed;
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << json << data;
}

}  // namespace labhouse::engine::testing
