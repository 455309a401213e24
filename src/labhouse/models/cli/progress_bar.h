// The download progress line of `labhouse models pull`, on stderr:
//   [1/3] sd_xl_turbo_1.0_fp16.safetensors  45% [#########           ] 3.1 GiB / 6.9 GiB  52.1 MiB/s  ETA 1m13s
// On a terminal the line is redrawn in place (at most 10 times a second); otherwise a line is
// printed every 10% so logs stay short.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "labhouse/models/pull.h"

namespace labhouse::models {

// One progress line, without the carriage return. Rate = session bytes / seconds (resumed bytes
// do not count), ETA from that rate; unknown totals show bytes and rate only.
std::string FormatProgressLine(const PullProgress& progress, int bar_width = 20);
// "1h02m", "3m05s", "12s".
std::string FormatDuration(double seconds);

class ProgressBar {
public:
    ProgressBar(std::FILE* out, bool interactive);
    void Update(const PullProgress& progress);
    // Ends a half-drawn line so other output (a warning) starts on its own line.
    void BreakLine();

private:
    std::FILE* out_;
    bool interactive_;
    bool line_open_ = false;
    std::string last_file_;
    int last_decile_ = -1;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace labhouse::models
