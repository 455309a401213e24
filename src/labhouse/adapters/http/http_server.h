// HttpServer: the REST API (docs/api.md), Server-Sent Events and the embedded web UI, on
// cpp-httplib. Handlers parse at the edge into core types, call use cases, and map errors to
// HTTP in one place (error_mapping.h). Every handler runs behind an exception firewall.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "labhouse/core/base/metrics.h"
#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/installed_model.h"
#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/usecases/access_control.h"
#include "labhouse/core/usecases/backend_registry.h"
#include "labhouse/core/usecases/cancel_job.h"
#include "labhouse/core/usecases/submit_job.h"

namespace httplib {
class Server;
}

namespace labhouse::http {

class GuardedServer;
class LatestPreviews;
class StreamLimiter;

struct HttpConfig {
    std::string host = "127.0.0.1";
    int port = 8000;
    int threads = 32;                             // concurrent requests (SSE streams hold one each)
    std::int64_t max_body_bytes = 21'000'000;     // whole request body (multipart overhead included)
    int read_timeout_s = 30;                      // one read; also a body's grace before its rate counts
    int write_timeout_s = 30;                     // one write
    // Slow and abusive clients (guarded_server.h): idle and half-sent requests hold no thread.
    int header_timeout_s = 10;                    // first byte of a request to the end of its head
    int keepalive_timeout_s = 5;                  // idle time between two requests on one connection
    std::int64_t min_body_rate = 1024;            // bytes/s a body must average after read_timeout_s
    std::size_t max_header_bytes = 16384;         // request line plus headers
    int max_connections = 900;                    // open connections, idle keep-alive ones included
    int max_uploads = 8;                          // requests with a body at once; more get a fast 503
    int max_event_streams = 16;                   // open SSE streams, all clients
    int max_event_streams_per_client = 4;         // per API key, or per address without keys
    int sse_keepalive_s = 15;
    int sync_timeout_s = 600;  // how long the synchronous compat APIs (OpenAI, A1111) wait for a job
};

// What the routes need. References outlive the server.
struct HttpDeps {
    SubmitJob& submit;
    CancelJob& cancel;
    JobRepository& jobs;
    BlobStore& blobs;
    const BackendRegistry& backends;
    EventBus& events;
    Metrics& metrics;
    std::function<Status()> ready;  // /readyz
    std::string version;
    std::function<Result<std::vector<InstalledModel>>()> list_models;  // GET /api/v1/models; empty = none
    AccessControl* access = nullptr;  // the `keys` auth mode; nullptr = open (no keys, everyone is admin)
    // Checks a job's webhook_url (scheme, private addresses); empty = webhooks disabled (no secret).
    std::function<Status(const std::string&)> validate_webhook_url;
};

class HttpServer {
public:
    HttpServer(HttpConfig config, HttpDeps deps);
    ~HttpServer();

    // Binds the socket. kUnavailable when the address is taken. Returns the bound port (useful
    // with port 0).
    Result<int> Bind();
    // Serves until Stop(); blocks the calling thread.
    void Serve();
    // Stops accepting; open SSE streams end. Thread-safe.
    void Stop();

private:
    void RegisterRoutes();

    HttpConfig config_;
    HttpDeps deps_;
    std::unique_ptr<StreamLimiter> streams_;
    std::unique_ptr<LatestPreviews> previews_;  // for /sdapi/v1/progress
    std::unique_ptr<GuardedServer> server_;
    std::unique_ptr<struct RouteContext> context_;
    std::atomic<bool> stopping_{false};
};

}  // namespace labhouse::http
