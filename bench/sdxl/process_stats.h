// What the SDXL benchmarks read about their own process: CPU seconds (user + system), minor page
// faults and resident set sizes. Linux only.
#pragma once

#include <sys/resource.h>

#include <ctime>
#include <fstream>
#include <string>

namespace labhouse::bench {

// User + system CPU seconds of this process: on a shared machine the wall time of a stage depends
// on the other load, its CPU time much less.
inline double CpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline long MinorFaults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

// A /proc/self/status field in GB (VmRSS: now, VmHWM: peak since start or the last reset).
inline double StatusGb(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0 / 1024.0;
    }
    return 0;
}

// Peak RSS of the whole run (ru_maxrss, KiB on Linux).
inline double PeakRssGb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024.0 / 1024.0;
}

}  // namespace labhouse::bench
