// -----------------------------------------------------------------------------
// File: backoff.h
// -----------------------------------------------------------------------------
//
// Exponential backoff, the one retry policy of kvmfarm (in the spirit of Envoy's
// BackoffStrategy): the agent's registrar uses it while the controller is away, the
// scheduler between tries of a task that failed for infrastructure reasons. The
// wait doubles from `base` up to `max`.
//
// Example:
//
//   ExponentialBackoff backoff(absl::Milliseconds(500), absl::Seconds(30));
//   while (!Register().ok()) absl::SleepFor(backoff.Next());  // 0.5 s, 1 s, 2 s, ...
//   backoff.Reset();
//
//   // Stateless, from a count kept elsewhere (a task's stored attempts):
//   const absl::Duration wait = backoff.ForRetry(task.attempts());
#ifndef KVMFARM_COMMON_BACKOFF_H_
#define KVMFARM_COMMON_BACKOFF_H_

#include "absl/time/time.h"

namespace kvmfarm {

class ExponentialBackoff final {
 public:
  ExponentialBackoff(absl::Duration base, absl::Duration max);

  // The wait before retry number `retry` (1 = the first): base * 2^(retry - 1), at
  // most max; base for retry < 1.
  absl::Duration ForRetry(int retry) const;

  // The wait before the next retry: ForRetry(1), ForRetry(2), ... until Reset().
  absl::Duration Next();
  void Reset() { retries_ = 0; }

 private:
  absl::Duration base_;
  absl::Duration max_;
  int retries_ = 0;
};

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_BACKOFF_H_
