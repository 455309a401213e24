// Small helpers shared by the end-to-end suites: multipart uploads, JSON parsing, polling.
#pragma once

#include <chrono>
#include <cstring>
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

// Base64 for the compatibility APIs' JSON bodies (A1111 init_images, OpenAI b64_json).
inline std::string Base64(const std::string& bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    }
    if (i < bytes.size()) {
        unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=',
                '='};
    }
    return out;
}

inline std::string Unbase64(const std::string& text) {
    static constexpr const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : text) {
        const char* pos = std::strchr(kAlphabet, c);
        if (c == '=' || pos == nullptr) continue;
        buffer = (buffer << 6) | static_cast<unsigned>(pos - kAlphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
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
