// Test pictures made in memory (no files, no downloads).
#pragma once

#include <filesystem>
#include <string>

#include "labhouse/core/domain/image.h"

namespace labhouse::testing {

// A smooth colour gradient with some structure, so effects have edges to work on.
Image GradientImage(int width, int height);
std::string EncodeAs(const Image& image, const std::string& extension);  // ".png", ".jpg", ".webp", ".bmp"
std::string PngBytes(int width, int height);
std::string JpegBytes(int width, int height);

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace labhouse::testing
