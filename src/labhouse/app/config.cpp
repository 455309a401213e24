#include "labhouse/app/config.h"

#include <set>

#include "labhouse/app/access_config.h"
#include "labhouse/app/backends.h"
#include "labhouse/engine/vae_tiling.h"

extern char** environ;

namespace labhouse::app {
namespace {
// scheme://user:secret@host -> scheme://user:***@host: URLs may carry passwords.
std::string RedactUrl(const std::string& url) {
    const auto scheme = url.find("://");
    const auto at = url.rfind('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}
}  // namespace

// Here rather than in backends.cpp: AppConfig::Validate needs it, and config.cpp must build
// without the backends (the fuzz target tests/fuzz/fuzz_config.cpp compiles it alone).
stability::StabilityConfig StabilityConfigFrom(const AppConfig& config) {
    stability::StabilityConfig stability;
    stability.api_key = config.stability_api_key;
    stability.base_url = config.stability_api_url;
    stability.engine = config.stability_engine;
    stability.max_concurrency = config.stability_concurrency;
    return stability;
}

Status AppConfig::Validate() const {
    if (port < 0 || port > 65535) return InvalidArgument("port must be between 0 and 65535");
    if (workers < 0 || workers > 64) return InvalidArgument("workers must be between 0 and 64");
    if (max_upload_bytes < 1024) return InvalidArgument("max upload bytes must be at least 1024");
    if (max_pixels < 64 * 64) return InvalidArgument("max pixels must be at least 4096");
    if (max_attempts < 1 || max_attempts > 100) return InvalidArgument("max attempts must be between 1 and 100");
    if (lease_seconds < 1) return InvalidArgument("lease seconds must be at least 1");
    if (shutdown_grace_seconds < 0) return InvalidArgument("shutdown grace must not be negative");
    if (http_threads < 4 || http_threads > 1024) return InvalidArgument("http threads must be between 4 and 1024");
    LABHOUSE_RETURN_IF_ERROR(ValidateHttpLimits());
    if (log_format != "text" && log_format != "json") return InvalidArgument("log format must be text or json");
    static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
    if (!kLevels.count(log_level)) return InvalidArgument("log level must be debug, info, warn or error");
    if (data_dir.empty()) return InvalidArgument("data dir must not be empty");
    LABHOUSE_RETURN_IF_ERROR(ValidateAccess(*this));
    if (auto stability = StabilityConfigFrom(*this).Validate(); !stability) return stability.error();
    if (sdxl_weight_mode != "low-memory" && sdxl_weight_mode != "fast") {
        return InvalidArgument("sdxl weight mode must be low-memory or fast");
    }
    if (sdxl_device != "cpu" && sdxl_device.rfind("cuda", 0) != 0) return InvalidArgument("sdxl device must be cpu or cuda[:N]");
    if (sdxl_preview_every < 0 || sdxl_preview_every > 1000) {
        return InvalidArgument("sdxl preview every must be between 0 (off) and 1000 steps");
    }
    if (auto tile = engine::ValidateVaeTile(sdxl_vae_tile); !tile) {
        return InvalidArgument("sdxl " + tile.error().message);
    }
    if (!database_url.empty() && database_url.rfind("sqlite:", 0) != 0) {
        if (UsesPostgres()) {
#ifndef LABHOUSE_HAVE_POSTGRES
            return Unimplemented("built without PostgreSQL (libpqxx); use a sqlite: URL");
#endif
        } else {
            return InvalidArgument(
                "database URL must start with sqlite: or postgresql: (for example sqlite:///var/lib/labhouse.db)");
        }
    }
    if (!queue_url.empty()) {
        if (queue_url.rfind("redis://", 0) != 0) return InvalidArgument("queue URL must start with redis://");
#ifndef LABHOUSE_HAVE_REDIS
        return Unimplemented("built without Redis (hiredis); leave the queue URL empty");
#endif
    }
    return OkStatus();
}

Status AppConfig::ValidateHttpLimits() const {
    auto in = [](std::int64_t v, std::int64_t lo, std::int64_t hi) { return v >= lo && v <= hi; };
    if (!in(http_read_timeout_s, 1, 3600) || !in(http_write_timeout_s, 1, 3600)) {
        return InvalidArgument("http read and write timeouts must be between 1 and 3600 seconds");
    }
    if (!in(http_header_timeout_s, 1, 600)) return InvalidArgument("http header timeout must be between 1 and 600 s");
    if (!in(http_keepalive_timeout_s, 1, 600)) {
        return InvalidArgument("http keep-alive timeout must be between 1 and 600 s");
    }
    if (!in(http_min_body_rate, 1, 1'000'000'000)) {
        return InvalidArgument("http min body rate must be at least 1 byte/s");
    }
    if (!in(http_max_header_bytes, 1024, 1 << 20)) {
        return InvalidArgument("http max header bytes must be between 1024 and 1048576");
    }
    // select() inside cpp-httplib cannot watch descriptors above FD_SETSIZE (1024).
    if (!in(http_max_connections, 8, 1000)) return InvalidArgument("http max connections must be between 8 and 1000");
    if (max_concurrent_uploads < 1 || max_event_streams < 1 || max_event_streams_per_client < 1) {
        return InvalidArgument("upload and event stream caps must be at least 1");
    }
    // Uploads (synchronous compat calls included) and SSE streams each hold an HTTP thread; some
    // threads must stay free for everything else, or a flood of either would starve the API.
    if (max_concurrent_uploads + max_event_streams > http_threads - 4) {
        return InvalidArgument("max concurrent uploads + max event streams must leave at least 4 of the " +
                               std::to_string(http_threads) + " http threads free");
    }
    return OkStatus();
}

std::string AppConfig::SqlitePath() const {
    if (database_url.empty()) return data_dir + "/labhouse.db";
    std::string path = database_url.substr(std::string("sqlite:").size());
    if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite:///abs/path -> /abs/path
    return path;
}

bool AppConfig::UsesPostgres() const {
    return database_url.rfind("postgresql:", 0) == 0 || database_url.rfind("postgres:", 0) == 0;
}

std::string AppConfig::ModelsDir() const { return models_dir.empty() ? data_dir + "/models" : models_dir; }

std::string AppConfig::ToString() const {
    return "host=" + host + " port=" + std::to_string(port) + " data_dir=" + data_dir +
           " database=" + (database_url.empty() ? "sqlite:" + SqlitePath() : RedactUrl(database_url)) +
           " queue=" + (queue_url.empty() ? "in-process" : RedactUrl(queue_url)) +
           " models_dir=" + ModelsDir() + " workers=" + std::to_string(workers) +
           " max_upload_bytes=" + std::to_string(max_upload_bytes) + " max_pixels=" + std::to_string(max_pixels) +
           " max_attempts=" + std::to_string(max_attempts) + " lease_seconds=" + std::to_string(lease_seconds) +
           " shutdown_grace_seconds=" + std::to_string(shutdown_grace_seconds) +
           " http_threads=" + std::to_string(http_threads) +
           " http_timeouts(read/write/header/keepalive)=" + std::to_string(http_read_timeout_s) + "/" +
           std::to_string(http_write_timeout_s) + "/" + std::to_string(http_header_timeout_s) + "/" +
           std::to_string(http_keepalive_timeout_s) + " http_min_body_rate=" + std::to_string(http_min_body_rate) +
           " http_max_header_bytes=" + std::to_string(http_max_header_bytes) +
           " http_max_connections=" + std::to_string(http_max_connections) +
           " max_concurrent_uploads=" + std::to_string(max_concurrent_uploads) +
           " max_event_streams=" + std::to_string(max_event_streams) + "/" +
           std::to_string(max_event_streams_per_client) + " log_level=" + log_level + " auth=" + auth +
           " webhooks=" + (webhook_secret.empty() ? "off" : "on") +
           " reference_face=" + (reference_face.empty() ? "-" : reference_face) +
           " pix2pix_model=" + (pix2pix_model.empty() ? "-" : pix2pix_model) +
           " stability_api_key=" + (stability_api_key.empty() ? "<unset>" : "<set>") +
           " stability_api_url=" + RedactUrl(stability_api_url) + " stability_engine=" + stability_engine +
           " stability_concurrency=" + std::to_string(stability_concurrency) +
           " sdxl_model=" + (sdxl_model.empty() ? "auto" : sdxl_model) + " sdxl_device=" + sdxl_device +
           " sdxl_weight_mode=" + sdxl_weight_mode + " sdxl_vae_tile=" + std::to_string(sdxl_vae_tile) +
           " sdxl_load_at_start=" + (sdxl_load_at_start ? "yes" : "no") +
           " sdxl_taesd=" + (sdxl_taesd.empty() ? "auto" : sdxl_taesd) +
           " sdxl_preview_every=" + std::to_string(sdxl_preview_every);
}

void AddStorageOptions(CLI::App& command, AppConfig& c) {
    command.add_option("--data-dir", c.data_dir, "Directory for the database, uploads and results")
        ->envname("LABHOUSE_DATA_DIR")
        ->capture_default_str();
    command.add_option("--database-url", c.database_url,
                       "Job database (default: SQLite file in the data dir; sqlite:///path or postgresql://...)")
        ->envname("LABHOUSE_DATABASE_URL");
    command.add_option("--queue-url", c.queue_url,
                       "Job queue and events shared by API nodes and workers (redis://host:port; default in-process)")
        ->envname("LABHOUSE_QUEUE_URL");
}

void AddHttpLimitOptions(CLI::App& command, AppConfig& c) {
    auto add = [&command](const std::string& flag, auto& value, const std::string& env, const std::string& help) {
        command.add_option(flag, value, help)->envname(env)->capture_default_str();
    };
    add("--http-read-timeout", c.http_read_timeout_s, "LABHOUSE_HTTP_READ_TIMEOUT_S",
        "Seconds one read of a request may wait; also a body's grace before its minimum rate applies");
    add("--http-write-timeout", c.http_write_timeout_s, "LABHOUSE_HTTP_WRITE_TIMEOUT_S",
        "Seconds one write of a response may wait for a slow reader");
    add("--http-header-timeout", c.http_header_timeout_s, "LABHOUSE_HTTP_HEADER_TIMEOUT_S",
        "Seconds from a request's first byte to the end of its headers (slow-loris cut-off; 408)");
    add("--http-keepalive-timeout", c.http_keepalive_timeout_s, "LABHOUSE_HTTP_KEEPALIVE_TIMEOUT_S",
        "Seconds an idle keep-alive connection stays open");
    add("--http-min-body-rate", c.http_min_body_rate, "LABHOUSE_HTTP_MIN_BODY_RATE",
        "Bytes per second a request body must average once the read timeout has passed");
    add("--http-max-header-bytes", c.http_max_header_bytes, "LABHOUSE_HTTP_MAX_HEADER_BYTES",
        "Largest request line plus headers, in bytes (431 above)");
    add("--http-max-connections", c.http_max_connections, "LABHOUSE_HTTP_MAX_CONNECTIONS",
        "Open connections, idle ones included; more are closed at accept");
    add("--max-concurrent-uploads", c.max_concurrent_uploads, "LABHOUSE_MAX_CONCURRENT_UPLOADS",
        "Requests with a body read or handled at once; more get 503 with Retry-After at once");
    add("--max-event-streams", c.max_event_streams, "LABHOUSE_MAX_EVENT_STREAMS",
        "Open SSE job event streams, all clients together (503 above)");
    add("--max-event-streams-per-client", c.max_event_streams_per_client, "LABHOUSE_MAX_EVENT_STREAMS_PER_CLIENT",
        "Open SSE job event streams per API key (or per address without keys; 429 above)");
}

void AddServeOptions(CLI::App& command, AppConfig& c) {
    command.add_option("--host", c.host, "Address to listen on")->envname("LABHOUSE_HOST")->capture_default_str();
    command.add_option("--port", c.port, "Port to listen on (0 = any free port)")
        ->envname("LABHOUSE_PORT")
        ->capture_default_str();
    AddStorageOptions(command, c);
    command.add_option("--models-dir", c.models_dir, "Directory of installed models (default: <data-dir>/models)")
        ->envname("LABHOUSE_MODELS_DIR");
    command.add_option("--workers", c.workers, "Worker threads for local backends (0 = API only)")
        ->envname("LABHOUSE_WORKERS")
        ->capture_default_str();
    command.add_option("--max-upload-bytes", c.max_upload_bytes, "Largest accepted upload, in bytes")
        ->envname("LABHOUSE_MAX_UPLOAD_BYTES")
        ->capture_default_str();
    command.add_option("--max-pixels", c.max_pixels, "Largest accepted image, in pixels (checked from the header)")
        ->envname("LABHOUSE_MAX_PIXELS")
        ->capture_default_str();
    command.add_option("--max-attempts", c.max_attempts, "Attempts before a job whose worker keeps dying fails")
        ->envname("LABHOUSE_MAX_ATTEMPTS")
        ->capture_default_str();
    command.add_option("--lease-seconds", c.lease_seconds, "Worker lease on a running job")
        ->envname("LABHOUSE_LEASE_SECONDS")
        ->capture_default_str();
    command.add_option("--shutdown-grace-seconds", c.shutdown_grace_seconds,
                       "On SIGTERM, how long running jobs may finish before they go back to the queue")
        ->envname("LABHOUSE_SHUTDOWN_GRACE_SECONDS")
        ->capture_default_str();
    command.add_option("--http-threads", c.http_threads, "Concurrent HTTP requests (SSE streams hold one each)")
        ->envname("LABHOUSE_HTTP_THREADS")
        ->capture_default_str();
    AddHttpLimitOptions(command, c);
    command.add_option("--log-level", c.log_level, "debug, info, warn or error")
        ->envname("LABHOUSE_LOG_LEVEL")
        ->capture_default_str();
    command.add_option("--log-format", c.log_format, "text or json")->envname("LABHOUSE_LOG_FORMAT")->capture_default_str();
    AddAccessOptions(command, c);
    command.add_option("--reference-face", c.reference_face, "Default reference face image for face-swap")
        ->envname("LABHOUSE_REFERENCE_FACE");
    command.add_option("--pix2pix-model", c.pix2pix_model, "Trained pix2pix generator for the pix2pix backend")
        ->envname("LABHOUSE_PIX2PIX_MODEL");
    command.add_option("--stability-api-key", c.stability_api_key,
                       "Stability AI API key; set the variable, not the flag (command lines are visible)")
        ->envname("LABHOUSE_STABILITY_API_KEY");
    command.add_option("--stability-api-url", c.stability_api_url, "Stability AI API base URL")
        ->envname("LABHOUSE_STABILITY_API_URL")
        ->capture_default_str();
    command.add_option("--stability-engine", c.stability_engine,
                       "Default Stability engine: stable-diffusion-xl-1024-v1-0, sd3.5-large, sd3.5-medium, ultra")
        ->envname("LABHOUSE_STABILITY_ENGINE")
        ->capture_default_str();
    command.add_option("--stability-concurrency", c.stability_concurrency,
                       "Stability jobs one process runs at once, on their own worker threads")
        ->envname("LABHOUSE_STABILITY_CONCURRENCY")
        ->capture_default_str();
    command.add_option("--sdxl-model", c.sdxl_model, "SDXL checkpoint for the sdxl backend (default: found in the models dir)")
        ->envname("LABHOUSE_SDXL_MODEL");
    command.add_option("--sdxl-device", c.sdxl_device, "cpu, or cuda[:N] with a CUDA-enabled libtorch")
        ->envname("LABHOUSE_SDXL_DEVICE")
        ->capture_default_str();
    command.add_option("--sdxl-weight-mode", c.sdxl_weight_mode,
                       "low-memory (weights stay f16, memory-mapped) or fast (converted to fp32 once)")
        ->envname("LABHOUSE_SDXL_WEIGHT_MODE")
        ->capture_default_str();
    command.add_option("--sdxl-vae-tile", c.sdxl_vae_tile,
                       "VAE tiles of at most N px (multiple of 64, 256..4096); 0 = auto (512 px above 1024x1024), "
                       "-1 = off")
        ->envname("LABHOUSE_SDXL_VAE_TILE")
        ->capture_default_str();
    command.add_flag("--sdxl-load-at-start", c.sdxl_load_at_start, "Load the SDXL model at start, not at the first job")
        ->envname("LABHOUSE_SDXL_LOAD_AT_START");
    command.add_option("--sdxl-taesd", c.sdxl_taesd,
                       "TAESDXL decoder (.safetensors) for previews and the decoder=taesd option (default: found in "
                       "the models dir after `labhouse models pull taesdxl`)")
        ->envname("LABHOUSE_SDXL_TAESD");
    command.add_option("--sdxl-preview-every", c.sdxl_preview_every,
                       "With TAESDXL: a preview image on the job's event stream after every N-th step (0 = none)")
        ->envname("LABHOUSE_SDXL_PREVIEW_EVERY")
        ->capture_default_str();
}

Status CheckUnknownEnvironment(const CLI::App& command, const std::vector<std::string>& also_known) {
    std::set<std::string> known(also_known.begin(), also_known.end());
    for (const CLI::Option* option : command.get_options()) {
        if (!option->get_envname().empty()) known.insert(option->get_envname());
    }
    for (char** env = environ; env != nullptr && *env != nullptr; ++env) {
        const std::string entry = *env;
        const std::string name = entry.substr(0, entry.find('='));
        if (name.rfind("LABHOUSE_", 0) != 0 || name.rfind("LABHOUSE_TEST_", 0) == 0) continue;
        if (!known.count(name)) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            return InvalidArgument("unknown environment variable " + name + " (known: " + list + ")");
        }
    }
    return OkStatus();
}

}  // namespace labhouse::app
