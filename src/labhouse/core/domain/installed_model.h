// InstalledModel: what `labhouse models pull` put in the models dir, as recorded in its manifest
// (models/manifest.h). A plain value type so the HTTP adapter can list models without knowing
// how they were downloaded or stored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace labhouse {

struct InstalledModelFile {
    std::string path;       // relative to the model's directory, e.g. "tokenizer/vocab.json"
    std::int64_t size = 0;  // bytes
    std::string sha256;     // lowercase hex, computed locally while downloading
    // What the bytes were checked against at install time: "catalog" (a SHA-256 pinned in the
    // catalog), "hub-sha256" (the hub's LFS ETag), "hub-git-sha1" (the git blob id of a small
    // non-LFS file) or "size-only" (a mirror that gave no hash).
    std::string verified_by;
};

struct InstalledModel {
    std::string name;                   // catalog name ("sdxl-turbo") or "<org>/<repo>"
    std::string repo;                   // hub repository
    std::string revision;               // what was asked for ("main")
    std::string commit;                 // what the hub resolved it to (X-Repo-Commit), when it said
    std::string dtype;                  // "fp16", "fp32" or "any"
    std::string role;                   // "checkpoint", "vae", "preview-vae", "tokenizer", "files"
    std::string dir;                    // absolute directory holding the files
    std::vector<std::string> backends;  // backends that can load it; empty = none yet
    std::vector<InstalledModelFile> files;
    std::int64_t installed_at_ms = 0;  // Unix epoch milliseconds

    std::int64_t TotalBytes() const {
        std::int64_t total = 0;
        for (const auto& file : files) total += file.size;
        return total;
    }
};

}  // namespace labhouse
