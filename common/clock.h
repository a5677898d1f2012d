// -----------------------------------------------------------------------------
// File: clock.h
// -----------------------------------------------------------------------------
//
// Time as a dependency: controller logic (heartbeat timeouts, backoff, schedules)
// asks a Clock, so tests drive it with a FakeClock (common/testing/fake_clock.h)
// instead of sleeping.
#ifndef KVMFARM_COMMON_CLOCK_H_
#define KVMFARM_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kvmfarm {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_CLOCK_H_
