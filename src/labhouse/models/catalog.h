// The catalog of models `labhouse models pull` knows by name, and the resolution of a pull
// request (a catalog name and dtype, or any "<org>/<repo>" with explicit files) into the exact
// list of files to fetch from the Hugging Face hub.
//
// Hashes: a SHA-256 is written into the catalog only where it comes from a source we can cite.
// Everywhere else the file is verified against the hub's own hash at download time (the LFS
// ETag / X-Linked-Etag, which the hub defines as the SHA-256 of the file's bytes; or, for small
// non-LFS files, the git blob id).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::models {

struct CatalogFile {
    std::string path;        // path inside the hub repository; also the path under the model dir
    std::int64_t size = -1;  // bytes, when known exactly; -1 = ask the hub
    std::string sha256;      // lowercase hex, when known from a cited source; empty = trust the hub's hash
};

struct CatalogVariant {
    std::string dtype;  // "fp16", "fp32", or "any" for files that do not depend on it
    std::vector<CatalogFile> files;
    std::vector<std::string> backends;  // backends that can load this variant; empty = none yet
    std::string note;                   // shown by `models list --available` and after a pull
};

struct CatalogEntry {
    std::string name;  // what users type: "sdxl-turbo"
    std::string repo;  // "stabilityai/sdxl-turbo"
    std::string role;  // "checkpoint", "vae", "preview-vae", "tokenizer"
    std::string description;
    std::string install_dir;  // relative to the models dir
    std::vector<CatalogVariant> variants;
};

// Everything needed to pull one model.
struct ModelSpec {
    std::string name;
    std::string repo;
    std::string revision = "main";
    std::string dtype;
    std::string role;
    std::string install_dir;  // relative to the models dir
    std::vector<CatalogFile> files;
    std::vector<std::string> backends;
    std::string note;
};

const std::vector<CatalogEntry>& Catalog();
const CatalogEntry* FindCatalogEntry(const std::string& name);

struct PullRequest {
    std::string name;                // catalog name or "<org>/<repo>"
    std::string dtype;               // "" = the entry's default (fp16 where there is a choice)
    std::vector<std::string> files;  // only for "<org>/<repo>" names
    std::string revision = "main";
};

// kInvalidArgument with a helpful message: unknown name (lists the catalog), a dtype the model
// does not come in, --file with a catalog name, an "<org>/<repo>" without files, or a file path
// that could escape the models dir ("..", absolute).
Result<ModelSpec> ResolvePullRequest(const PullRequest& request);

// True for a relative path made of plain components (no "..", ".", empty parts, backslashes).
bool IsSafeRelativePath(const std::string& path);

// The command that installs `name` (for messages such as "model missing: run ...").
std::string PullCommandFor(const std::string& name, const std::string& dtype = "");

}  // namespace labhouse::models
