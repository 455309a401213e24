// PullModel: downloads a model's files from the hub into the models dir, so that what ends up
// under its final name is always complete and verified.
//
// For each file: the bytes go to "<file>.partial", with "<file>.partial.json" recording which
// remote file they belong to (hash and size). An interrupted transfer is retried in the same run
// and resumed in a later one with an HTTP Range request from the partial's length, after the
// bytes already on disk are re-hashed. The finished file is checked against the catalog's SHA-256
// or the hub's (LFS ETag; git blob id for small non-LFS files), and only then renamed into place.
// A checksum mismatch deletes the partial: no unverified bytes are ever left under a final name,
// nor kept for a resume. The manifest records the result.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/installed_model.h"
#include "labhouse/models/catalog.h"
#include "labhouse/models/hub_client.h"

namespace labhouse::models {

struct PullProgress {
    std::string file;    // repository path of the file being fetched
    int file_index = 0;  // 1-based
    int file_count = 0;
    std::int64_t done = 0;           // bytes of this file on disk (including resumed ones)
    std::int64_t total = -1;         // -1 = unknown
    std::int64_t session_bytes = 0;  // bytes received in this run, for the rate
    double seconds = 0;              // since this file's transfer started in this run
    bool finished = false;           // the file is complete and verified
};
using PullProgressFn = std::function<void(const PullProgress&)>;

struct PullOptions {
    std::string models_dir;
    // Attempts per file for retryable failures (dropped connections, 429, 5xx); each resumes.
    int max_attempts = 5;
    std::chrono::milliseconds retry_backoff{1000};  // doubles after every failed attempt, up to 30 s
    // Free bytes in a directory; the default asks statvfs (f_bavail * f_frsize). Injectable so
    // tests can simulate a full disk.
    std::function<Result<std::int64_t>(const std::string& dir)> free_bytes;
    std::int64_t reserve_bytes = 64 << 20;  // left free after the download, for the manifest and logs
};

// Installs `spec` into options.models_dir / spec.install_dir and records it in the manifest.
// Errors: those of HubClient::Probe / Fetch (401 -> "set HF_TOKEN", 404 names the file);
// kResourceExhausted when the disk lacks room for what is left to download (checked before any
// byte is fetched); kUnavailable "checksum mismatch ..." naming the file, with the partial
// deleted; kUnavailable when the retries run out (the partial is kept for a resume);
// kFailedPrecondition when the hub's hash or size contradicts the catalog's.
Result<InstalledModel> PullModel(const ModelSpec& spec, const HubClient& hub, const PullOptions& options,
                                 const PullProgressFn& progress = {});

// statvfs(dir): bytes available to an unprivileged user.
Result<std::int64_t> FreeBytesStatvfs(const std::string& dir);

// "1.5 GiB", "512 B": sizes in messages and progress lines.
std::string FormatBytes(std::int64_t bytes);

}  // namespace labhouse::models
