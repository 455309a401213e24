// Service information: backends, styles, health, readiness, metrics; and stored images.
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/route_context.h"
#include "labhouse/core/domain/style.h"
#include "labhouse/core/ports/blob_store.h"
#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::http {
namespace {

nlohmann::json StyleToJson(const Style& style, const BackendRegistry& backends) {
    nlohmann::json supported = nlohmann::json::array();
    JobParams params;
    params.style = style.name;
    for (Transformer* backend : backends.All()) {
        params.backend = std::string(backend->Name());
        if (backend->Validate(params, &style)) supported.push_back(backend->Name());
    }
    return {{"name", style.name},
            {"title", style.title},
            {"description", style.description},
            {"backends", supported},
            {"classic", {{"effect", style.classic_effect.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json(style.classic_effect)}}},
            {"sdxl",
             {{"prompt_template", style.sdxl.prompt_template},
              {"negative_prompt", style.sdxl.negative_prompt},
              {"strength", style.sdxl.strength ? nlohmann::json(*style.sdxl.strength) : nlohmann::json(nullptr)}}},
            {"stability", {{"style_preset", style.stability_style_preset.empty()
                                                ? nlohmann::json(nullptr)
                                                : nlohmann::json(style.stability_style_preset)}}}};
}

}  // namespace

void RegisterMetaRoutes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kGet, "/api/v1/backends", "GET /api/v1/backends",
          [&ctx](const httplib::Request&, httplib::Response& res) {
              nlohmann::json list = nlohmann::json::array();
              for (Transformer* backend : ctx.deps.backends.All()) {
                  const BackendStatus status = backend->Status();
                  nlohmann::json entry = {{"name", backend->Name()},
                                          {"available", status.available},
                                          {"reason", status.available ? nlohmann::json(nullptr)
                                                                      : nlohmann::json(status.reason)},
                                          {"text_to_image", backend->SupportsTextToImage()}};
                  if (!status.details.empty()) entry["details"] = status.details;
                  list.push_back(entry);
              }
              SendJson(res, 200, {{"backends", list}});
          });

    Route(server, ctx, Method::kGet, "/api/v1/styles", "GET /api/v1/styles",
          [&ctx](const httplib::Request&, httplib::Response& res) {
              nlohmann::json list = nlohmann::json::array();
              for (const Style& style : StyleCatalog()) list.push_back(StyleToJson(style, ctx.deps.backends));
              SendJson(res, 200, {{"styles", list}});
          });

    Route(server, ctx, Method::kGet, "/healthz", "GET /healthz", [&ctx](const httplib::Request&, httplib::Response& res) {
        SendJson(res, 200, {{"status", "ok"}, {"version", ctx.deps.version}});
    });

    Route(server, ctx, Method::kGet, "/readyz", "GET /readyz", [&ctx](const httplib::Request&, httplib::Response& res) {
        Status ready = ctx.deps.ready ? ctx.deps.ready() : OkStatus();
        if (ctx.stopping.load()) ready = Unavailable("shutting down");
        if (!ready) return SendJson(res, 503, ErrorBody(ready.error()));
        SendJson(res, 200, {{"status", "ready"}});
    });

    Route(server, ctx, Method::kGet, "/metrics", "GET /metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
        Metrics& metrics = ctx.deps.metrics;
        metrics.Describe("labhouse_jobs", "gauge", "Jobs by state.");
        metrics.Describe("labhouse_queue_depth", "gauge", "Jobs waiting to run.");
        if (auto counts = ctx.deps.jobs.CountByState()) {
            for (const auto& [state, count] : *counts) {
                metrics.SetGauge("labhouse_jobs", {{"state", std::string(JobStateName(state))}}, double(count));
            }
            metrics.SetGauge("labhouse_queue_depth", {}, double(counts->at(JobState::kQueued)));
        }
        res.set_content(metrics.RenderPrometheus(), "text/plain; version=0.0.4");
    });
}

void RegisterImageRoutes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kGet, R"(/api/v1/images/([^/]+))", "GET /api/v1/images/{id}",
          [&ctx](const httplib::Request& req, httplib::Response& res) {
              const std::string id = req.matches[1];
              if (!IsValidBlobId(id)) return SendError(res, InvalidArgument("malformed image id"));
              // Content-addressed: the id is the content's hash, so it is a perfect ETag and
              // the bytes can be cached forever.
              const std::string etag = "\"" + id + "\"";
              res.set_header("ETag", etag);
              res.set_header("Cache-Control", "public, max-age=31536000, immutable");
              if (req.get_header_value("If-None-Match") == etag) {
                  auto exists = ctx.deps.blobs.Exists(id);
                  if (exists && *exists) {
                      res.status = 304;
                      return;
                  }
              }
              auto bytes = ctx.deps.blobs.Get(id);
              if (!bytes) {
                  res.set_header("Cache-Control", "no-store");
                  return SendError(res, bytes.error());
              }
              const std::string type = imaging::SniffContentType(*bytes);
              if (req.has_param("download")) {
                  res.set_header("Content-Disposition",
                                 "attachment; filename=\"labhouse-" + id.substr(0, 12) + ".png\"");
              }
              res.status = 200;
              res.set_content(std::move(*bytes), type);
          });
}

}  // namespace labhouse::http
