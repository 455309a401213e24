// Internal to the HTTP adapter: what route files share. Not for other libraries.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "labhouse/adapters/http/http_server.h"
#include "labhouse/adapters/http/latest_previews.h"
#include "labhouse/adapters/http/stream_limiter.h"

namespace labhouse::http {

struct RouteContext {
    const HttpConfig& config;
    HttpDeps& deps;
    const std::atomic<bool>& stopping;
    StreamLimiter& streams;  // caps open SSE streams
    LatestPreviews& previews;  // running jobs' newest previews, for A1111's progress
};

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;
enum class Method { kGet, kPost, kDelete };

// Registers `handler` behind the exception firewall; counts requests by route label and status.
void Route(httplib::Server& server, RouteContext& ctx, Method method, const std::string& pattern,
           const std::string& label, RouteHandler handler);
void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
void SendError(httplib::Response& res, const Error& error);

void RegisterJobRoutes(httplib::Server& server, RouteContext& ctx);
void RegisterMetaRoutes(httplib::Server& server, RouteContext& ctx);
void RegisterImageRoutes(httplib::Server& server, RouteContext& ctx);
void RegisterUiRoutes(httplib::Server& server, RouteContext& ctx);
void RegisterModelRoutes(httplib::Server& server, RouteContext& ctx);
void RegisterA1111Routes(httplib::Server& server, RouteContext& ctx);
void RegisterOpenAiRoutes(httplib::Server& server, RouteContext& ctx);

}  // namespace labhouse::http
