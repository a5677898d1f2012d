// -----------------------------------------------------------------------------
// File: fake_clock.h
// -----------------------------------------------------------------------------
//
// A Clock (common/clock.h) that moves only when a test tells it to, so timeouts,
// backoff and schedules are tested without sleeping.
//
// Example:
//
//   FakeClock clock;
//   Fleet fleet(&store, &clock);
//   clock.Advance(absl::Seconds(31));  // past the heartbeat timeout
#ifndef KVMFARM_COMMON_TESTING_FAKE_CLOCK_H_
#define KVMFARM_COMMON_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace kvmfarm {

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

#endif  // KVMFARM_COMMON_TESTING_FAKE_CLOCK_H_
