// -----------------------------------------------------------------------------
// File: wait_for.h
// -----------------------------------------------------------------------------
//
// Waits for something another process or thread does, by asking until it is true.
// Cross-process tests have nothing to block on (a controller's database, an
// agent's registration), so they poll; this is the one place that does, with one
// short interval and a limit that turns "never happened" into a test failure
// instead of a hang.
//
// Example:
//
//   ASSERT_TRUE(WaitFor([&] { return Devices().size() == 2; })) << controller.Log();
#ifndef KVMFARM_COMMON_TESTING_WAIT_FOR_H_
#define KVMFARM_COMMON_TESTING_WAIT_FOR_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kvmfarm::testing {

// True as soon as `condition` is; false if it still isn't after `limit`. The
// condition is asked every `interval` and once more at the limit.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration limit = absl::Seconds(60),
                    absl::Duration interval = absl::Milliseconds(50)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(interval);
  }
  return condition();
}

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_WAIT_FOR_H_
