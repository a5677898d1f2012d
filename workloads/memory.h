// Memory bandwidth and latency, by STREAM's rules where they apply.
//
// mem_read / mem_write (metrics mem_read.bandwidth, mem_write.bandwidth, MB/s of
// 10^6 bytes): sequential 64-bit reads (summed) or writes over a buffer that should
// be at least 4x the last-level cache (read from sysfs; a smaller buffer is noted).
// Each repetition is the best of `iterations` passes after one warm-up pass.
// Validation: the sum of the buffer is known in closed form; written values are
// read back at sampled positions.
//
// mem_random (metrics mem_random.ops in ops/s and mem_random.latency_ns): a
// dependent pointer chase through one random cycle over the buffer's cache lines
// (Sattolo's algorithm), so neither prefetchers nor out-of-order execution can hide
// the latency. Validation: walking the rest of the cycle returns to the start.
#ifndef KVMFARM_WORKLOADS_MEMORY_H_
#define KVMFARM_WORKLOADS_MEMORY_H_

#include <cstdint>
#include <memory>

#include "workloads/workload.h"

namespace kvmfarm::workloads {

std::unique_ptr<Workload> MakeMemReadWorkload(uint64_t size_bytes, uint64_t passes);
std::unique_ptr<Workload> MakeMemWriteWorkload(uint64_t size_bytes, uint64_t passes);
std::unique_ptr<Workload> MakeMemRandomWorkload(uint64_t size_bytes, uint64_t steps);

// The largest cache's size from /sys/devices/system/cpu/cpu0/cache, 0 if unknown.
uint64_t LastLevelCacheBytes();

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_MEMORY_H_
