// Small helpers shared by the end-to-end suites: multipart uploads, JSON parsing, polling.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace labhouse::testing {

inline httplib::MultipartFormDataItems Form(const std::string& image,
                                            std::vector<std::pair<std::string, std::string>> fields = {}) {
    httplib::MultipartFormDataItems items;
    if (!image.empty()) items.push_back({"image", image, "photo.png", "application/octet-stream"});
    for (auto& [k, v] : fields) items.push_back({k, v, "", ""});
    return items;
}

inline nlohmann::json Json(const httplib::Result& res) {
    if (!res) return nullptr;
    return nlohmann::json::parse(res->body, nullptr, false);
}

// Polls GET /api/v1/jobs/{id} until `done(job)` or the timeout; returns the last job JSON.
inline nlohmann::json WaitForJob(httplib::Client& client, const std::string& id,
                                 const std::function<bool(const nlohmann::json&)>& done,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json job;
    while (std::chrono::steady_clock::now() < deadline) {
        job = Json(client.Get("/api/v1/jobs/" + id));
        if (job.is_object() && done(job)) return job;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return job;
}

inline bool Finished(const nlohmann::json& job) {
    const std::string status = job.value("status", "");
    return status == "succeeded" || status == "failed" || status == "canceled";
}

}  // namespace labhouse::testing
