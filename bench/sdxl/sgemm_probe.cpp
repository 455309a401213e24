#include "bench/sdxl/sgemm_probe.h"

#include "bench/sdxl/process_stats.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace labhouse::bench {

SgemmRate MeasureSgemm(int threads) {
    const at::Tensor a = at::randn({2048, 2048}), b = at::randn({2048, 2048});
    at::mm(a, b);  // warm-up
    std::vector<double> walls, cpus;
    for (int i = 0; i < 3; ++i) {
        const double cpu = CpuSeconds();
        const auto start = std::chrono::steady_clock::now();
        at::mm(a, b);
        walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        cpus.push_back(CpuSeconds() - cpu);
    }
    std::sort(walls.begin(), walls.end());
    std::sort(cpus.begin(), cpus.end());
    const double gflop = 2.0 * 2048 * 2048 * 2048 / 1e9;
    return {gflop / walls[1], gflop * threads / cpus[1]};
}

}  // namespace labhouse::bench
