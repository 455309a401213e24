// BlobStore: where uploads and results live. Content-addressed: a blob's id is the SHA-256 of its
// bytes in lowercase hex, so writing the same bytes twice stores them once.
#pragma once

#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"

namespace labhouse {

class BlobStore {
public:
    virtual ~BlobStore() = default;
    // Stores the bytes atomically (a reader never sees a partial blob) and returns their id.
    // kUnavailable / kResourceExhausted when the storage fails (e.g. disk full).
    virtual Result<std::string> Put(std::string_view bytes) = 0;
    // kInvalidArgument for a malformed id (never touches storage), kNotFound when absent.
    virtual Result<std::string> Get(const std::string& id) const = 0;
    virtual Result<bool> Exists(const std::string& id) const = 0;
    // Removing an absent blob is not an error.
    virtual Status Remove(const std::string& id) = 0;
};

// True for 64 lowercase hex characters: the only ids a store accepts.
bool IsValidBlobId(std::string_view id);

}  // namespace labhouse
