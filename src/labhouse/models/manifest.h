// The models dir's manifest, <models_dir>/manifest.json: which models `labhouse models pull`
// installed, where, and the SHA-256 of every file, so `list` needs no re-hashing and `verify`
// has something to compare with. One entry per (name, dtype).
//
// Writers take an exclusive flock on <models_dir>/.manifest.lock and replace the file atomically
// (write a temp file, fsync, rename), so two pulls into one dir never lose each other's entry
// and a crash never leaves half a manifest. Readers need no lock.
//
// Entries' directories are stored relative to the models dir, so the dir can be moved or mounted
// elsewhere (a container volume); InstalledModel::dir is absolute in memory.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/installed_model.h"

namespace labhouse::models {

inline constexpr const char* kManifestFileName = "manifest.json";

// The installed models, in the order they were first installed. A missing manifest is an empty
// list; an unreadable or malformed one is kInternal (with the path), never silently empty.
Result<std::vector<InstalledModel>> LoadManifest(const std::string& models_dir);

// Runs `edit` on the current entries under the lock and saves what it leaves. The models dir
// must exist.
Status UpdateManifest(const std::string& models_dir, const std::function<Status(std::vector<InstalledModel>&)>& edit);

// The models dir as an absolute, normalised path ("./data/models/" -> "/srv/app/data/models"), so
// that paths built from differently spelt dirs compare equal.
std::string AbsoluteModelsDir(const std::string& models_dir);

// Inserts or replaces the entry with the same name and dtype.
void UpsertModel(std::vector<InstalledModel>& models, InstalledModel model);

}  // namespace labhouse::models
