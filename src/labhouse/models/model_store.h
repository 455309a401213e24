// What is installed in a models dir, read from its manifest: list, verify (re-hash every file
// against the SHA-256 recorded at install) and remove. Only files the manifest records are ever
// deleted, and a file that another installed entry also records (the tokenizer files shared by the
// fp16 and fp32 variants of one model) stays until the last entry using it goes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/installed_model.h"

namespace labhouse::models {

// The manifest's entries (empty when nothing is installed).
Result<std::vector<InstalledModel>> ListInstalled(const std::string& models_dir);

struct FileCheck {
    std::string path;
    std::int64_t expected_size = 0;
    std::int64_t actual_size = -1;  // -1 = missing
    std::string expected_sha256;
    std::string actual_sha256;  // empty when not hashed (missing or wrong size)
    std::string problem;        // "" (intact), "missing", "size" or "checksum"
};

struct VerifyReport {
    InstalledModel model;
    std::vector<FileCheck> files;
    bool ok() const {
        for (const auto& file : files) {
            if (!file.problem.empty()) return false;
        }
        return true;
    }
};

// (file path, bytes hashed so far, file size)
using VerifyProgressFn = std::function<void(const std::string&, std::int64_t, std::int64_t)>;

// Re-hashes every file of the entries named `name` (and of `dtype`, unless empty). kNotFound when
// none is installed. A damaged file is a report with a problem, not an error.
Result<std::vector<VerifyReport>> VerifyInstalled(const std::string& models_dir, const std::string& name,
                                                  const std::string& dtype = "", const VerifyProgressFn& progress = {});

// Deletes the entries named `name` (of `dtype`, unless empty), their files (and partial
// downloads beside them) and the directories left empty. Returns the removed entries; kNotFound
// when none matched.
Result<std::vector<InstalledModel>> RemoveInstalled(const std::string& models_dir, const std::string& name,
                                                    const std::string& dtype = "");

// The main (largest) file of the installed model `name`, preferring `dtype` when several
// variants are installed: what a backend loads. kNotFound when it is not installed or its file
// is gone, with the exact command that fixes it (for /api/v1/backends and error messages).
Result<std::string> FindInstalledFile(const std::string& models_dir, const std::string& name,
                                      const std::string& dtype = "");

// The SHA-256 the manifest records for the file at `file_path`, if it is an installed file whose
// size still matches; kNotFound otherwise. Lets a backend put the model hash in its job records
// without re-reading gigabytes at load (`labhouse models verify` is what re-checks the bytes).
Result<std::string> RecordedSha256(const std::string& models_dir, const std::string& file_path);

}  // namespace labhouse::models
