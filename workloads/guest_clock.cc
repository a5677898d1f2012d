#include "workloads/guest_clock.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "workloads/console_protocol.h"

namespace kvmfarm::workloads {
namespace {

int64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

#if defined(__x86_64__)
uint64_t ReadCounter() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}
#elif defined(__aarch64__)
uint64_t ReadCounter() {
  uint64_t ticks = 0;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks));
  return ticks;
}
#else
uint64_t ReadCounter() { return 0; }
#endif

// The counter and CLOCK_MONOTONIC at one instant: the counter read between two
// clock reads, the tightest pair of a few tries (a vCPU descheduled between the
// reads would put them far apart), the clock taken at its middle.
struct Sample {
  uint64_t ticks = 0;
  int64_t clock_ns = 0;
};

Sample TakeSample() {
  Sample best;
  int64_t best_gap = -1;
  for (int i = 0; i < 16; ++i) {
    const int64_t before = ClockNs(CLOCK_MONOTONIC);
    const uint64_t ticks = ReadCounter();
    const int64_t after = ClockNs(CLOCK_MONOTONIC);
    if (best_gap < 0 || after - before < best_gap) {
      best_gap = after - before;
      best = {ticks, before + (after - before) / 2};
    }
  }
  return best;
}

}  // namespace

double MeasureCounterRate(absl::Duration calibration) {
#if defined(__aarch64__)
  (void)calibration;
  uint64_t hz = 0;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
  return static_cast<double>(hz);
#else
  // The TSC's rate is not told to user space: measured against the kernel's clock.
  const Sample first = TakeSample();
  int64_t now = first.clock_ns;
  while (now - first.clock_ns < absl::ToInt64Nanoseconds(calibration)) {
    now = ClockNs(CLOCK_MONOTONIC);
  }
  const Sample last = TakeSample();
  if (last.clock_ns <= first.clock_ns) return 0;
  return static_cast<double>(last.ticks - first.ticks) * 1e9 /
         static_cast<double>(last.clock_ns - first.clock_ns);
#endif
}

int64_t TicksToNanoseconds(uint64_t ticks, double ticks_per_second) {
  return static_cast<int64_t>(static_cast<long double>(ticks) * 1e9L /
                              static_cast<long double>(ticks_per_second));
}

absl::StatusOr<GuestClocks> ReadGuestClocks(absl::Duration calibration) {
#if defined(__x86_64__) || defined(__aarch64__)
  const double rate = MeasureCounterRate(calibration);
  if (!(rate > 0)) {
    return absl::FailedPreconditionError("the CPU's counter does not advance");
  }
  const Sample now = TakeSample();
  return GuestClocks{TicksToNanoseconds(now.ticks, rate), now.clock_ns};
#else
  (void)calibration;
  return absl::UnimplementedError("no CPU counter known on this architecture");
#endif
}

std::string FormatClocksLine(const GuestClocks& clocks) {
  return absl::StrCat(kClocksMarker, " counter_ns=", clocks.counter_ns,
                      " clock_ns=", clocks.clock_ns);
}

}  // namespace kvmfarm::workloads
