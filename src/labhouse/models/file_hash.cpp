#include "labhouse/models/file_hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

namespace labhouse::models {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Calls `consume` with successive chunks of the first `length` bytes (-1 = all).
Status ReadChunks(const std::string& path, std::int64_t length,
                  const std::function<void(const char*, std::size_t)>& consume,
                  const std::function<void(std::int64_t)>& progress) {
    FilePtr file(std::fopen(path.c_str(), "rb"));
    if (!file) return Unavailable("cannot read " + path);
    std::vector<char> buffer(kReadChunk);
    std::int64_t done = 0;
    while (length < 0 || done < length) {
        std::size_t want = buffer.size();
        if (length >= 0) want = static_cast<std::size_t>(std::min<std::int64_t>(want, length - done));
        const std::size_t got = std::fread(buffer.data(), 1, want, file.get());
        if (got == 0) break;
        consume(buffer.data(), got);
        done += static_cast<std::int64_t>(got);
        if (progress) progress(done);
    }
    if (std::ferror(file.get())) return Unavailable("error reading " + path);
    if (length >= 0 && done != length) return Unavailable(path + " is shorter than expected");
    return OkStatus();
}

}  // namespace

Status HashFilePrefix(const std::string& path, std::int64_t length, Sha256& hasher,
                      const std::function<void(std::int64_t)>& progress) {
    return ReadChunks(
        path, length, [&hasher](const char* data, std::size_t size) { hasher.Update(data, size); }, progress);
}

Result<std::string> Sha256OfFile(const std::string& path, const std::function<void(std::int64_t)>& progress) {
    Sha256 hasher;
    LABHOUSE_RETURN_IF_ERROR(HashFilePrefix(path, -1, hasher, progress));
    return hasher.FinishHex();
}

Result<std::string> GitBlobSha1OfFile(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return Unavailable("cannot stat " + path);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) return Internal("SHA-1 unavailable");
    const std::string header = "blob " + std::to_string(size) + std::string(1, '\0');
    EVP_DigestUpdate(ctx.get(), header.data(), header.size());
    LABHOUSE_RETURN_IF_ERROR(
        ReadChunks(path, static_cast<std::int64_t>(size),
                   [&ctx](const char* data, std::size_t n) { EVP_DigestUpdate(ctx.get(), data, n); }, {}));
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &digest_size);
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < digest_size; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 15];
    }
    return hex;
}

}  // namespace labhouse::models
