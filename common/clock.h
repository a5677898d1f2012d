// -----------------------------------------------------------------------------
// File: clock.h
// -----------------------------------------------------------------------------
//
// Time as a dependency: controller logic (heartbeat timeouts, backoff, schedules)
// asks a Clock, so tests drive it with a FakeClock instead of sleeping.
#ifndef KVMFARM_COMMON_CLOCK_H_
#define KVMFARM_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_CLOCK_H_
