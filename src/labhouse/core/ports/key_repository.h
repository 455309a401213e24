// KeyRepository: durable store of API keys (hashed). Read on every authenticated request, with no
// cache, so a revoked key stops working at the very next request, in every process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/api_key.h"

namespace labhouse {

class KeyRepository {
public:
    virtual ~KeyRepository() = default;

    // kAlreadyExists when the id or the secret hash is taken.
    virtual Status Create(const ApiKey& key) = 0;
    // kNotFound when no key (revoked or not) has this hash.
    virtual Result<ApiKey> FindByHash(const std::string& secret_hash) const = 0;
    // Every key, revoked ones included, oldest first.
    virtual Result<std::vector<ApiKey>> List() const = 0;
    // Marks the key revoked at now_ms. kNotFound for an unknown id; revoking twice keeps the first time.
    virtual Result<ApiKey> Revoke(const std::string& id, std::int64_t now_ms) = 0;
};

}  // namespace labhouse
