// AppConfig: everything `labhouse serve` can be told, from flags or LABHOUSE_* environment
// variables (flags win). Each option is declared once, in config.cpp, with its variable, default
// and help; `labhouse serve --help` lists them all. Secrets are redacted in ToString().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "labhouse/core/base/result.h"

namespace labhouse::app {

struct AppConfig {
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string data_dir = "./data";
    std::string database_url;  // empty: SQLite file <data_dir>/labhouse.db; postgresql://... = scale-out
    std::string queue_url;     // empty: in-process queue and events; redis://host:port = shared by all nodes
    std::string models_dir;    // empty: <data_dir>/models
    int workers = 1;           // embedded worker threads for local backends; 0 = API only
    std::int64_t max_upload_bytes = 20'000'000;
    std::int64_t max_pixels = 40'000'000;
    int max_attempts = 3;
    int lease_seconds = 60;
    int shutdown_grace_seconds = 20;
    int http_threads = 32;
    // Slow and abusive clients (docs/architecture.md): timeouts, sizes and caps of the HTTP layer.
    int http_read_timeout_s = 30;
    int http_write_timeout_s = 30;
    int http_header_timeout_s = 10;
    int http_keepalive_timeout_s = 5;
    std::int64_t http_min_body_rate = 1024;
    std::int64_t http_max_header_bytes = 16384;
    int http_max_connections = 900;
    int max_concurrent_uploads = 8;
    int max_event_streams = 16;
    int max_event_streams_per_client = 4;
    std::string log_level = "info";
    std::string log_format = "text";  // text | json

    // Backends (each issue adds its own; keep secrets out of ToString).
    std::string reference_face;    // face-swap default reference image
    std::string pix2pix_model;     // pix2pix generator file
    std::string stability_api_key;  // secret: shown only as <set>/<unset>
    std::string stability_api_url = "https://api.stability.ai";
    std::string stability_engine = "stable-diffusion-xl-1024-v1-0";
    int stability_concurrency = 4;  // Stability jobs one process runs at once (own runner threads)
    std::string sdxl_model;        // empty: the first sd_xl*.safetensors in the models dir
    std::string sdxl_device = "cpu";
    std::string sdxl_weight_mode = "low-memory";  // low-memory | fast
    int sdxl_vae_tile = 0;                        // engine::SdxlLoadOptions::vae_tile: 0 auto, -1 off, N px
    bool sdxl_load_at_start = false;
    std::string sdxl_taesd;        // TAESDXL decoder file; empty = found in the models dir if pulled
    int sdxl_preview_every = 1;    // with TAESDXL: a preview event after every N-th step; 0 = none

    // Access (access_config.cpp): API keys.
    std::string auth = "open";  // open | keys
    bool allow_open_on_public_address = false;
    std::string webhook_secret;  // secret: HMAC key of webhook signatures; empty = webhooks off
    bool webhook_allow_private = false;

    Status Validate() const;
    Status ValidateHttpLimits() const;
    std::string ToString() const;
    std::string SqlitePath() const;  // resolved from database_url / data_dir
    bool UsesPostgres() const;       // database_url is a postgres:// or postgresql:// URL
    std::string ModelsDir() const;
};

// Adds the serve options (with their environment variables) to a CLI11 (sub)command.
void AddServeOptions(CLI::App& command, AppConfig& config);
// Adds the HTTP timeouts, size limits and connection caps.
void AddHttpLimitOptions(CLI::App& command, AppConfig& config);
// Adds only the storage options (data dir, database URL) — for `migrate`.
void AddStorageOptions(CLI::App& command, AppConfig& config);
// kInvalidArgument naming any LABHOUSE_* environment variable that no option of `command`
// reads (a typo such as LABHOUSE_PROT must not be silently ignored). LABHOUSE_TEST_* is exempt.
Status CheckUnknownEnvironment(const CLI::App& command, const std::vector<std::string>& also_known = {});

}  // namespace labhouse::app
