#include "labhouse/models/cli/progress_bar.h"

#include <cmath>

namespace labhouse::models {

std::string FormatDuration(double seconds) {
    const long total = std::lround(std::max(0.0, seconds));
    char text[32];
    if (total >= 3600) {
        std::snprintf(text, sizeof(text), "%ldh%02ldm", total / 3600, (total % 3600) / 60);
    } else if (total >= 60) {
        std::snprintf(text, sizeof(text), "%ldm%02lds", total / 60, total % 60);
    } else {
        std::snprintf(text, sizeof(text), "%lds", total);
    }
    return text;
}

std::string FormatProgressLine(const PullProgress& p, int bar_width) {
    std::string line = "[" + std::to_string(p.file_index) + "/" + std::to_string(p.file_count) + "] " + p.file + "  ";
    const double rate = p.seconds > 0 ? static_cast<double>(p.session_bytes) / p.seconds : 0;
    if (p.total > 0) {
        const double fraction = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total));
        const int filled = static_cast<int>(fraction * bar_width);
        char percent[8];
        std::snprintf(percent, sizeof(percent), "%3d%%", static_cast<int>(fraction * 100));
        line += std::string(percent) + " [" + std::string(filled, '#') + std::string(bar_width - filled, ' ') + "] " +
                FormatBytes(p.done) + " / " + FormatBytes(p.total);
    } else {
        line += FormatBytes(p.done);
    }
    if (p.finished) return line + "  done";
    if (rate > 0) {
        line += "  " + FormatBytes(static_cast<std::int64_t>(rate)) + "/s";
        if (p.total > 0) line += "  ETA " + FormatDuration(static_cast<double>(p.total - p.done) / rate);
    }
    return line;
}

ProgressBar::ProgressBar(std::FILE* out, bool interactive) : out_(out), interactive_(interactive) {}

void ProgressBar::Update(const PullProgress& progress) {
    const auto now = std::chrono::steady_clock::now();
    const bool new_file = progress.file != last_file_;
    if (new_file) {
        BreakLine();
        last_file_ = progress.file;
        last_decile_ = -1;
    }
    if (interactive_) {
        if (!new_file && !progress.finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        const std::string line = FormatProgressLine(progress);
        // Pad so a shorter line fully covers the previous one.
        std::fprintf(out_, "\r%-110s", line.c_str());
        line_open_ = true;
        if (progress.finished) BreakLine();
    } else {
        const int decile = progress.total > 0 ? static_cast<int>(progress.done * 10 / progress.total) : 0;
        if (!progress.finished && decile == last_decile_) return;
        last_decile_ = decile;
        std::fprintf(out_, "%s\n", FormatProgressLine(progress).c_str());
    }
    std::fflush(out_);
}

void ProgressBar::BreakLine() {
    if (!line_open_) return;
    std::fputc('\n', out_);
    std::fflush(out_);
    line_open_ = false;
}

}  // namespace labhouse::models
