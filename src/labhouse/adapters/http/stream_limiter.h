// StreamLimiter: caps the Server-Sent Events streams open at once, in total and per client, so a
// flood of listeners cannot hold every HTTP worker thread (each open stream holds one).
// Internal to the HTTP adapter.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace labhouse::http {

class StreamLimiter {
public:
    enum class Refusal { kNone, kTotal, kPerClient };

    StreamLimiter(int max_total, int max_per_client) : max_total_(max_total), max_per_client_(max_per_client) {}

    // A lease that frees its slot when the last copy goes away (the stream's provider holds it);
    // nullptr with `refusal` set when a cap is reached.
    std::shared_ptr<void> TryAcquire(const std::string& client, Refusal& refusal) {
        std::lock_guard lock(mutex_);
        refusal = Refusal::kNone;
        if (total_ >= max_total_) refusal = Refusal::kTotal;
        else if (per_client_[client] >= max_per_client_) refusal = Refusal::kPerClient;
        if (refusal != Refusal::kNone) {
            if (per_client_[client] == 0) per_client_.erase(client);
            return nullptr;
        }
        ++total_;
        ++per_client_[client];
        return std::shared_ptr<void>(static_cast<void*>(this), [this, client](void*) { Release(client); });
    }

    int max_total() const { return max_total_; }
    int max_per_client() const { return max_per_client_; }

private:
    void Release(const std::string& client) {
        std::lock_guard lock(mutex_);
        --total_;
        if (--per_client_[client] <= 0) per_client_.erase(client);
    }

    const int max_total_;
    const int max_per_client_;
    std::mutex mutex_;
    int total_ = 0;
    std::map<std::string, int> per_client_;
};

}  // namespace labhouse::http
