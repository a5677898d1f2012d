// A monotonic stopwatch for the workloads' timed regions.
#ifndef KVMFARM_WORKLOADS_TIMER_H_
#define KVMFARM_WORKLOADS_TIMER_H_

#include <time.h>

namespace kvmfarm::workloads {

// Seconds on CLOCK_MONOTONIC, as a double: what every timed region measures with.
inline double MonotonicSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Keeps `value` alive so the optimiser can't drop the work that produced it.
template <typename T>
inline void KeepAlive(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_TIMER_H_
