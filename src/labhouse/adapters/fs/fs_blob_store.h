// FsBlobStore: blobs as files under <root>/<id[0:2]>/<id>. Writes go to a temp file in the same
// directory, are flushed, then renamed, so a crash never leaves a partial blob under a valid id.
#pragma once

#include <filesystem>
#include <functional>

#include "labhouse/core/ports/blob_store.h"

namespace labhouse::fs {

class FsBlobStore final : public BlobStore {
public:
    // Creates the root directory if needed. kUnavailable when it cannot.
    static Result<std::unique_ptr<FsBlobStore>> Open(const std::filesystem::path& root);

    Result<std::string> Put(std::string_view bytes) override;
    Result<std::string> Get(const std::string& id) const override;
    Result<bool> Exists(const std::string& id) const override;
    Status Remove(const std::string& id) override;

    // Removes temp files left by a crash mid-write, and blobs for which `in_use` says false (a crash
    // between storing a blob and the row that refers to it). Only for a store nobody else writes
    // to at the time (the embedded server at start, holding the data-dir lock). Returns how many
    // files went.
    Result<int> SweepOrphans(const std::function<Result<bool>(const std::string&)>& in_use);

private:
    explicit FsBlobStore(std::filesystem::path root) : root_(std::move(root)) {}
    std::filesystem::path PathFor(const std::string& id) const;
    std::filesystem::path root_;
};

}  // namespace labhouse::fs
