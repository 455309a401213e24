// A caching CPU allocator for the engine (no torch in this header). glibc serves every large
// block with a fresh mmap and unmaps it on free, so each fp32 copy of an f16 weight and each big
// activation used to cost a page fault per 4 KiB (5.7 million faults, a quarter of the CPU time, in
// one 512x512 run). This allocator keeps freed blocks of 256 KiB and up in size-class free lists
// (64-byte aligned, bounded) and hands them out again; smaller blocks go straight to malloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace labhouse::engine {

struct CpuAllocatorStats {
    std::uint64_t cached_bytes = 0;   // held in the free lists now
    std::uint64_t in_use_bytes = 0;   // handed out and not yet freed (cached-size blocks only)
    std::uint64_t hits = 0;           // allocations served from the cache
    std::uint64_t misses = 0;         // allocations that had to map fresh memory
};

// Makes the caching allocator ATen's CPU allocator for the whole process (idempotent; the first
// call's bound wins). `max_cached_bytes` bounds what the free lists keep.
void InstallCachingCpuAllocator(std::size_t max_cached_bytes);
// Returns every cached block to the system (blocks in use stay valid). Called at the end of a
// generation so an idle worker does not hold the activations' memory.
void ReleaseCachedCpuMemory();
CpuAllocatorStats GetCpuAllocatorStats();

}  // namespace labhouse::engine
