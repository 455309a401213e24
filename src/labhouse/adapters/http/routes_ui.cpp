// The web UI at "/". The assets are embedded in the binary at build time (web/ -> generated
// source), so the UI works offline and needs no files beside the binary.
#include "labhouse/adapters/http/route_context.h"
#include "labhouse/adapters/http/web_assets.h"

namespace labhouse::http {

void RegisterUiRoutes(httplib::Server& server, RouteContext& ctx) {
    auto serve = [](const std::string& path, httplib::Response& res) {
        const WebAsset* asset = FindWebAsset(path);
        if (asset == nullptr) {
            res.status = 404;
            return;
        }
        res.set_header("Cache-Control", path == "/index.html" ? "no-cache" : "public, max-age=300");
        res.set_content(std::string(asset->data, asset->size), asset->content_type);
    };
    Route(server, ctx, Method::kGet, "/", "GET /", [serve](const httplib::Request&, httplib::Response& res) {
        serve("/index.html", res);
    });
    Route(server, ctx, Method::kGet, R"(/(ui/[A-Za-z0-9_./-]+))", "GET /ui/*",
          [serve](const httplib::Request& req, httplib::Response& res) {
              const std::string path = "/" + std::string(req.matches[1]);
              if (path.find("..") != std::string::npos) {
                  res.status = 404;
                  return;
              }
              serve(path, res);
          });
}

}  // namespace labhouse::http
