// The same-run sgemm reference of the SDXL benchmarks: a 2048^3 fp32 matrix product through
// libtorch (OpenBLAS), median of 3, as GFLOP/s per wall second and per CPU second x threads.
#pragma once

namespace labhouse::bench {

struct SgemmRate {
    double per_wall = 0;
    double per_cpu = 0;
};

SgemmRate MeasureSgemm(int threads);

}  // namespace labhouse::bench
