// SHA-256 (FIPS 180-4), for content-addressed blobs, request fingerprints and model verification.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace labhouse {

class Sha256 {
public:
    Sha256();
    void Update(std::string_view data);
    void Update(const void* data, std::size_t size);
    std::array<std::uint8_t, 32> Finish();
    std::string FinishHex();  // lowercase hex

private:
    void Compress(const std::uint8_t* block);
    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffer_size_ = 0;
    std::uint64_t total_bytes_ = 0;
};

// Lowercase hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view data);

}  // namespace labhouse
