#include "controller/leadership/leader_election.h"

#include <utility>

#include "common/logging.h"

namespace kvmfarm::leadership {

LeaderElection::LeaderElection(store::Store* store, const Clock* clock,
                               LeaderElectionOptions options)
    : store_(store), clock_(clock), options_(std::move(options)), address_(options_.address) {}

void LeaderElection::SetAddress(const std::string& address) {
  absl::MutexLock lock(&mu_);
  address_ = address;
}

absl::StatusOr<store::Leadership> LeaderElection::Step() {
  const int64_t now = absl::ToUnixNanos(clock_->Now());
  absl::StatusOr<store::Leadership> lease =
      store_->ClaimLeadership(options_.replica, now, absl::ToInt64Nanoseconds(options_.ttl));
  absl::MutexLock lock(&mu_);
  // Seen: ListControllers shows every replica and when it last claimed.
  store_->ReportReplica({options_.replica, address_, now}).IgnoreError();
  if (!lease.ok()) {
    // Unrenewed: stop leading when the lease runs out, as the others see it.
    if (leader_ && now >= current_.expires_ns) {
      FARM_LOG(WARNING) << "leadership: lease not renewed (" << lease.status()
                        << "); no longer leading";
      DeposeLocked();
    }
    return lease.status();
  }
  current_ = *lease;
  const bool holder = lease->holder == options_.replica;
  if (holder && (!leader_ || lease->epoch != epoch_)) {
    store_->SetFencingEpoch(lease->epoch);
    absl::Status elected =
        options_.on_elected ? options_.on_elected(lease->epoch) : absl::OkStatus();
    if (!elected.ok()) {
      FARM_LOG(ERROR) << "leadership: elected as epoch " << lease->epoch
                      << " but could not take over: " << elected << "; giving the lease up";
      store_->SetFencingEpoch(0);
      store_->ReleaseLeadership(options_.replica).IgnoreError();
      return elected;
    }
    FARM_LOG(INFO) << "leadership: " << options_.replica << " leads as epoch " << lease->epoch;
    leader_ = true;
    epoch_ = lease->epoch;
  } else if (!holder && leader_) {
    FARM_LOG(WARNING) << "leadership: " << lease->holder << " leads as epoch " << lease->epoch
                      << "; " << options_.replica << " no longer does";
    DeposeLocked();
  }
  return lease;
}

void LeaderElection::DeposeLocked() {
  leader_ = false;
  if (options_.on_deposed) options_.on_deposed();
}

void LeaderElection::Resign() {
  absl::MutexLock lock(&mu_);
  if (!leader_) return;
  store_->ReleaseLeadership(options_.replica).IgnoreError();
  DeposeLocked();
}

bool LeaderElection::IsLeader() const {
  absl::MutexLock lock(&mu_);
  return leader_;
}

int64_t LeaderElection::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

store::Leadership LeaderElection::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace kvmfarm::leadership
