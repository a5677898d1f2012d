#include "common/backoff.h"

#include <algorithm>

namespace kvmfarm {

ExponentialBackoff::ExponentialBackoff(absl::Duration base, absl::Duration max)
    : base_(base), max_(std::max(base, max)) {}

absl::Duration ExponentialBackoff::ForRetry(int retry) const {
  absl::Duration wait = base_;
  for (int i = 1; i < retry && wait < max_; ++i) wait *= 2;
  return std::min(wait, max_);
}

absl::Duration ExponentialBackoff::Next() {
  const absl::Duration wait = ForRetry(retries_ + 1);
  if (wait < max_) ++retries_;  // stop counting once capped: no overflow on a long outage
  return wait;
}

}  // namespace kvmfarm
