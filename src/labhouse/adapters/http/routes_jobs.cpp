// /api/v1/jobs: submit, read, list, cancel, delete, and the Server-Sent Events stream.
#include <chrono>
#include <set>

#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/job_dto.h"
#include "labhouse/adapters/http/route_context.h"
#include "labhouse/adapters/http/submit_form.h"
#include "labhouse/core/base/ids.h"

namespace labhouse::http {
namespace {

Result<SubmitRequest> ParseSubmit(const RouteContext& ctx, const httplib::Request& req) {
    if (!req.is_multipart_form_data()) {
        return InvalidArgument("POST /api/v1/jobs takes multipart/form-data with an 'image' file (or, for "
                               "text-to-image, width and height)");
    }
    LABHOUSE_ASSIGN_OR_RETURN(SubmitRequest request, ParseSubmitForm(req.files, ctx.deps.validate_webhook_url));
    request.idempotency_key = req.get_header_value("Idempotency-Key");
    return request;
}

// Path ids are checked before any lookup: a malformed id (e.g. "..%2F..%2Fetc%2Fpasswd") is a 400
// and never reaches storage.
Result<std::string> JobIdFrom(const httplib::Request& req) {
    const std::string id = req.matches[1];
    if (!IsValidJobId(id)) return InvalidArgument("malformed job id");
    return id;
}

void SendJob(RouteContext& ctx, httplib::Response& res, int status, const Job& job) {
    std::optional<std::int64_t> position;
    if (job.state == JobState::kQueued) {
        if (auto p = ctx.deps.jobs.QueuePosition(job.id)) position = *p;
    }
    SendJson(res, status, JobToJson(job, position));
}

bool WriteEvent(httplib::DataSink& sink, const std::string& event, const nlohmann::json& data) {
    const std::string text = "event: " + event + "\ndata: " + data.dump() + "\n\n";
    return sink.write(text.data(), text.size());
}

// Streams status/progress until the job ends. The repository is re-read on every keep-alive tick,
// so a change made by another process (a worker elsewhere) is seen even without an event.
void StreamEvents(RouteContext& ctx, const std::string& id, std::shared_ptr<void> lease, httplib::Response& res) {
    auto subscription = std::shared_ptr<EventSubscription>(ctx.deps.events.Subscribe(id));
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
    res.set_chunked_content_provider("text/event-stream", [&ctx, id, subscription, lease](std::size_t,
                                                                                          httplib::DataSink& sink) {
        auto current = ctx.deps.jobs.Get(id);
        if (!current) {
            sink.done();
            return true;
        }
        std::optional<std::int64_t> position;
        if (current->state == JobState::kQueued) {
            if (auto p = ctx.deps.jobs.QueuePosition(id)) position = *p;
        }
        if (!WriteEvent(sink, "status", JobToJson(*current, position))) return false;
        JobState state = current->state;
        const auto keepalive = std::chrono::seconds(ctx.config.sse_keepalive_s);
        const auto tick = std::chrono::milliseconds(500);
        auto last_write = std::chrono::steady_clock::now();
        while (!IsTerminal(state) && !ctx.stopping.load()) {
            // A listener that went away frees its stream slot within a tick, not at the next write.
            if (!sink.is_writable()) return false;
            auto event = subscription->Next(tick);
            if (event && !event->preview_jpeg.empty()) {
                if (!WriteEvent(sink, "preview", PreviewEventToJson(*event))) return false;
                last_write = std::chrono::steady_clock::now();
                continue;
            }
            if (event) {
                if (!WriteEvent(sink, "progress", EventToJson(*event))) return false;
                state = event->state;
                last_write = std::chrono::steady_clock::now();
                continue;
            }
            auto fresh = ctx.deps.jobs.Get(id);
            if (!fresh) break;
            if (fresh->state != state || std::chrono::steady_clock::now() - last_write >= keepalive) {
                if (!WriteEvent(sink, "progress", EventToJson({id, fresh->state, fresh->progress, fresh->error}))) {
                    return false;
                }
                state = fresh->state;
                last_write = std::chrono::steady_clock::now();
            }
        }
        if (auto final_job = ctx.deps.jobs.Get(id)) WriteEvent(sink, "done", JobToJson(*final_job));
        sink.done();
        return true;
    });
}

}  // namespace

void RegisterJobRoutes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kPost, "/api/v1/jobs", "POST /api/v1/jobs",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto request = ParseSubmit(ctx, req);
              if (!request) return SendError(res, request.error());
              request->owner = CurrentCaller().key_id;
              request->quota = CurrentQuota();
              auto result = ctx.deps.submit.Submit(std::move(*request));
              if (!result) return SendError(res, result.error());
              res.set_header("Location", "/api/v1/jobs/" + result->job.id);
              SendJob(ctx, res, result->created ? 202 : 200, result->job);
          });

    Route(server, ctx, Method::kGet, "/api/v1/jobs", "GET /api/v1/jobs",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto parsed = ParseJobListQuery(req.params);
              if (!parsed) return SendError(res, parsed.error());
              JobListQuery query = std::move(*parsed);
              if (!CurrentCaller().admin) query.owner = CurrentCaller().key_id;
              auto page = ctx.deps.jobs.List(query);
              if (!page) return SendError(res, page.error());
              nlohmann::json jobs = nlohmann::json::array();
              for (const Job& job : page->jobs) jobs.push_back(JobToJson(job));
              SendJson(res, 200,
                       {{"jobs", jobs},
                        {"next_cursor", page->next_cursor.empty() ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(page->next_cursor)}});
          });

    Route(server, ctx, Method::kGet, R"(/api/v1/jobs/([^/]+))", "GET /api/v1/jobs/{id}",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto id = JobIdFrom(req);
              if (!id) return SendError(res, id.error());
              auto job = GetVisibleJob(ctx, *id);
              if (!job) return SendError(res, job.error());
              SendJob(ctx, res, 200, *job);
          });

    Route(server, ctx, Method::kPost, R"(/api/v1/jobs/([^/]+)/cancel)", "POST /api/v1/jobs/{id}/cancel",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto id = JobIdFrom(req);
              if (!id) return SendError(res, id.error());
              if (auto visible = GetVisibleJob(ctx, *id); !visible) return SendError(res, visible.error());
              auto job = ctx.deps.cancel.Cancel(*id);
              if (!job) return SendError(res, job.error());
              SendJob(ctx, res, 200, *job);
          });

    Route(server, ctx, Method::kDelete, R"(/api/v1/jobs/([^/]+))", "DELETE /api/v1/jobs/{id}",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto id = JobIdFrom(req);
              if (!id) return SendError(res, id.error());
              if (auto visible = GetVisibleJob(ctx, *id); !visible) return SendError(res, visible.error());
              auto blobs = ctx.deps.jobs.Delete(*id);
              if (!blobs) return SendError(res, blobs.error());
              for (const std::string& blob : *blobs) {
                  auto in_use = ctx.deps.jobs.BlobInUse(blob);
                  if (in_use && !*in_use) (void)ctx.deps.blobs.Remove(blob);
              }
              res.status = 204;
          });

    Route(server, ctx, Method::kGet, R"(/api/v1/jobs/([^/]+)/events)", "GET /api/v1/jobs/{id}/events",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              auto id = JobIdFrom(req);
              if (!id) return SendError(res, id.error());
              auto job = GetVisibleJob(ctx, *id);
              if (!job) return SendError(res, job.error());
              // One slot per open stream, held until the stream ends (the provider owns the lease).
              const std::string client = CurrentCaller().key_id.empty() ? "addr:" + req.remote_addr
                                                                        : "key:" + CurrentCaller().key_id;
              StreamLimiter::Refusal refusal;
              auto lease = ctx.streams.TryAcquire(client, refusal);
              if (refusal == StreamLimiter::Refusal::kTotal) {
                  res.set_header("Retry-After", "5");
                  return SendError(res, Unavailable("too many event streams open (limit " +
                                                    std::to_string(ctx.streams.max_total()) +
                                                    "); poll GET /api/v1/jobs/{id} or retry later"));
              }
              if (refusal == StreamLimiter::Refusal::kPerClient) {
                  res.set_header("Retry-After", "5");
                  return SendError(res, ResourceExhausted("too many event streams open by this client (limit " +
                                                          std::to_string(ctx.streams.max_per_client()) + ")"));
              }
              StreamEvents(ctx, *id, std::move(lease), res);
          });
}

}  // namespace labhouse::http
