#include "labhouse/adapters/http/http_server.h"

#include <chrono>

#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/guarded_server.h"
#include "labhouse/adapters/http/latest_previews.h"
#include "labhouse/adapters/http/route_context.h"
#include "labhouse/core/base/log.h"

namespace labhouse::http {

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, const Error& error) {
    if (error.reason == "DAILY_QUOTA") {  // the repository's own quota check (docs/api.md, Limits)
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
        res.set_header("Retry-After", std::to_string(SecondsUntilQuotaReset(now_ms)));
    }
    SendJson(res, HttpStatusFor(error.code), ErrorBody(error));
}

void Route(httplib::Server& server, RouteContext& ctx, Method method, const std::string& pattern,
           const std::string& label, RouteHandler handler) {
    auto wrapped = [&ctx, label, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        try {
            CallerScope caller_scope;
            if (Authorize(ctx, label, req, res)) handler(req, res);
        } catch (const std::exception& e) {  // the firewall: one bad request never takes the server down
            Log(LogLevel::kError, "http_handler_exception", {{"route", label}, {"message", e.what()}});
            SendError(res, Internal("internal error"));
        }
        ctx.deps.metrics.IncrementCounter("labhouse_http_requests_total",
                                          {{"route", label}, {"status", std::to_string(res.status)}});
    };
    switch (method) {
        case Method::kGet: server.Get(pattern, wrapped); break;
        case Method::kPost: server.Post(pattern, wrapped); break;
        case Method::kDelete: server.Delete(pattern, wrapped); break;
    }
}

namespace {
ConnectionLimits LimitsFrom(const HttpConfig& c) {
    ConnectionLimits limits;
    limits.workers = c.threads;
    limits.max_connections = c.max_connections;
    limits.header_timeout_s = c.header_timeout_s;
    limits.keepalive_timeout_s = c.keepalive_timeout_s;
    limits.read_timeout_s = c.read_timeout_s;
    limits.write_timeout_s = c.write_timeout_s;
    limits.min_body_rate = c.min_body_rate;
    limits.max_header_bytes = c.max_header_bytes;
    limits.max_uploads = c.max_uploads;
    limits.max_body_bytes = c.max_body_bytes;
    limits.keepalive_max_requests = 1000;
    return limits;
}
}  // namespace

HttpServer::HttpServer(HttpConfig config, HttpDeps deps)
    : config_(std::move(config)),
      deps_(deps),
      streams_(std::make_unique<StreamLimiter>(config_.max_event_streams, config_.max_event_streams_per_client)),
      server_(std::make_unique<GuardedServer>(LimitsFrom(config_))) {
    deps_.metrics.Describe("labhouse_http_requests_total", "counter", "HTTP requests by route and status.");
    server_->set_payload_max_length(static_cast<std::size_t>(config_.max_body_bytes));
    server_->set_read_timeout(config_.read_timeout_s, 0);
    server_->set_write_timeout(config_.write_timeout_s, 0);
    server_->set_keep_alive_max_count(1000);
    server_->set_keep_alive_timeout(config_.keepalive_timeout_s);
    // Without TCP_NODELAY, Nagle plus delayed ACKs hold small responses back ~40 ms each.
    server_->set_tcp_nodelay(true);
    // Errors httplib produces itself (no route, body too large, malformed request) get our JSON
    // body too, so every error a client sees has the same shape.
    server_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string code = "INVALID_ARGUMENT";
        std::string message = "bad request";
        if (res.status == 404) {
            code = "NOT_FOUND";
            message = "no such resource: " + req.path;
        } else if (res.status == 413) {
            code = "PAYLOAD_TOO_LARGE";
            message = "request body is larger than " + std::to_string(config_.max_body_bytes) + " bytes";
        } else if (res.status == 405) {
            code = "METHOD_NOT_ALLOWED";
            message = "method not allowed";
        } else if (res.status >= 500) {
            code = "INTERNAL";
            message = "internal error";
        } else if (res.status == 400) {
            message = "malformed request (for example a broken multipart body)";
        }
        res.set_content(ErrorBody(code, message).dump(), "application/json");
    });
    server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(ErrorBody("INTERNAL", "internal error").dump(), "application/json");
    });
    RegisterRoutes();
}

HttpServer::~HttpServer() {
    Stop();
    server_->ShutdownConnections();
}

void HttpServer::RegisterRoutes() {
    previews_ = std::make_unique<LatestPreviews>(deps_.events);
    context_ = std::make_unique<RouteContext>(RouteContext{config_, deps_, stopping_, *streams_, *previews_});
    RouteContext* ctx = context_.get();
    RegisterJobRoutes(*server_, *ctx);
    RegisterImageRoutes(*server_, *ctx);
    RegisterMetaRoutes(*server_, *ctx);
    RegisterModelRoutes(*server_, *ctx);
    RegisterA1111Routes(*server_, *ctx);
    RegisterOpenAiRoutes(*server_, *ctx);
    RegisterUiRoutes(*server_, *ctx);
}

Result<int> HttpServer::Bind() {
    int port = config_.port;
    if (port == 0) {
        port = server_->bind_to_any_port(config_.host);
        if (port < 0) return Unavailable("cannot bind " + config_.host);
        server_->RaiseListenBacklog();
        return port;
    }
    if (!server_->bind_to_port(config_.host, port)) {
        return Unavailable("cannot bind " + config_.host + ":" + std::to_string(port) + " (address in use?)");
    }
    server_->RaiseListenBacklog();
    return port;
}

void HttpServer::Serve() {
    server_->listen_after_bind();
    server_->ShutdownConnections();  // requests in flight finish before Serve returns
}

void HttpServer::Stop() {
    stopping_ = true;
    if (server_) server_->stop();
}

}  // namespace labhouse::http
