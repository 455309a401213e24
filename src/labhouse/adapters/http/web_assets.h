// The web UI files embedded at build time by cmake/EmbedWebAssets.cmake (generated source).
#pragma once

#include <cstddef>
#include <string>

namespace labhouse::http {

struct WebAsset {
    const char* path;          // "/index.html", "/ui/app.js" ...
    const char* content_type;
    const char* data;
    std::size_t size;
};

// nullptr when no embedded file has that path.
const WebAsset* FindWebAsset(const std::string& path);

}  // namespace labhouse::http
