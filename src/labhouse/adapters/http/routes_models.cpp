// Installed models: GET /api/v1/models lists what `labhouse models pull` put in the models dir
// (from its manifest; files are not re-hashed here, `labhouse models verify` does that).
#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

nlohmann::json ModelToJson(const InstalledModel& model) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& file : model.files) {
        files.push_back({{"path", file.path},
                         {"size_bytes", file.size},
                         {"sha256", file.sha256},
                         {"verified_by", file.verified_by}});
    }
    return {{"name", model.name},
            {"repo", model.repo},
            {"revision", model.revision},
            {"commit", model.commit.empty() ? nlohmann::json(nullptr) : nlohmann::json(model.commit)},
            {"dtype", model.dtype},
            {"role", model.role},
            {"dir", model.dir},
            {"size_bytes", model.TotalBytes()},
            {"backends", model.backends},
            {"files", files},
            {"installed_at_ms", model.installed_at_ms}};
}

}  // namespace

void RegisterModelRoutes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kGet, "/api/v1/models", "GET /api/v1/models",
          [&ctx](const httplib::Request&, httplib::Response& res) {
              nlohmann::json list = nlohmann::json::array();
              if (ctx.deps.list_models) {
                  auto models = ctx.deps.list_models();
                  if (!models) return SendError(res, models.error());
                  for (const auto& model : *models) list.push_back(ModelToJson(model));
              }
              SendJson(res, 200, {{"models", list}});
          });
}

}  // namespace labhouse::http
