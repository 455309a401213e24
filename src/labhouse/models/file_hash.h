// Hashes of files on disk, streamed (model files are many gigabytes).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "labhouse/core/base/result.h"
#include "labhouse/core/base/sha256.h"

namespace labhouse::models {

// Feeds the first `length` bytes of `path` (-1 = all) into `hasher`; `progress` (may be empty)
// gets the bytes hashed so far. kUnavailable when the file cannot be read or is shorter.
Status HashFilePrefix(const std::string& path, std::int64_t length, Sha256& hasher,
                      const std::function<void(std::int64_t)>& progress = {});

// Lowercase hex SHA-256 of a whole file.
Result<std::string> Sha256OfFile(const std::string& path, const std::function<void(std::int64_t)>& progress = {});

// The git blob id of a file: SHA-1 of "blob <size>\0" + content. This is the hub's ETag for
// files stored in git rather than LFS.
Result<std::string> GitBlobSha1OfFile(const std::string& path);

}  // namespace labhouse::models
