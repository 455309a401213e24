// API keys: who may call the API in the `keys` auth mode, and their limits. The secret itself is
// never stored: only its SHA-256, so a copy of the database does not hand out working keys.
#pragma once

#include <cstdint>
#include <string>

namespace labhouse {

struct ApiKey {
    std::string id;           // "key_" + 16 hex; owns the jobs created with the key
    std::string name;         // free text from `labhouse keys create --name`
    std::string secret_hash;  // lowercase hex SHA-256 of the secret ("lh_...")
    std::string prefix;       // first characters of the secret, to recognise it in `keys list`
    bool admin = false;       // sees and manages every key's jobs
    int rate_per_minute = 0;  // requests per minute; 0 = unlimited
    int daily_jobs = 0;       // jobs per UTC day; 0 = unlimited
    std::int64_t created_ms = 0;
    std::int64_t revoked_ms = 0;  // 0 = active

    bool revoked() const { return revoked_ms != 0; }
    bool operator==(const ApiKey&) const = default;
};

}  // namespace labhouse
