// Shared by the faces and pix2pix tests: the public-domain photos Debian ships (Grace Hopper in
// facedetect, the astronaut Eileen Collins in python3-skimage), a synthetic landscape, a progress
// recorder and a temp dir.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "labhouse/core/domain/image.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse::faces::testing {

inline constexpr const char* kHopperPath = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";
inline constexpr const char* kAstronautPath = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
inline constexpr const char* kIceBlockPath = "/usr/share/doc/facedetect/examples/640px-IceBlockNearJoekullsarlon.jpg";

// Skips the test (with the reason) when a photo package is not installed.
#define LABHOUSE_REQUIRE_PHOTO(path)                                                                     \
    if (!std::filesystem::is_regular_file(path))                                                         \
    GTEST_SKIP() << (path) << " is missing: install the Debian packages facedetect and python3-skimage " \
                 << "(scripts/install-deps.sh test)"

cv::Mat LoadRgb(const std::string& path);  // fails the test when unreadable
Image LoadImage(const std::string& path);
// A face-free picture: sky gradient, hills, and noise, deterministic.
Image SyntheticLandscape(int width, int height);
// Mean absolute per-channel difference inside `rect`.
double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b, cv::Rect rect);

class RecordingReporter : public ProgressReporter {
public:
    void Report(const JobProgress& progress) override { reports.push_back(progress); }
    bool CancelRequested() override {
        return cancel_after_reports >= 0 && static_cast<int>(reports.size()) >= cancel_after_reports;
    }
    bool SawStage(const std::string& stage) const;

    std::vector<JobProgress> reports;
    int cancel_after_reports = -1;  // -1: never
};

class ScratchDir {
public:
    ScratchDir();
    ~ScratchDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace labhouse::faces::testing
