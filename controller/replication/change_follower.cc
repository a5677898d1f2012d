#include "controller/replication/change_follower.h"

#include <set>
#include <utility>

#include "common/logging.h"
#include "common/status_macros.h"

namespace kvmfarm::replication {

ChangeFollower::ChangeFollower(store::Store* store, const Clock* clock, ChangeHandlers handlers,
                               ChangeFollowerOptions options)
    : store_(store), clock_(clock), handlers_(std::move(handlers)), options_(options) {}

absl::Status ChangeFollower::Start() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(cursor_, store_->ChangeCursor());
  last_read_ = clock_->Now();
  return absl::OkStatus();
}

absl::Status ChangeFollower::CatchUp() {
  uint64_t ticket;
  {
    absl::MutexLock lock(&arrivals_mu_);
    ticket = ++arrived_;
  }
  absl::MutexLock lock(&mu_);
  // A read that began after this call arrived has answered for it.
  if (covered_ >= ticket) return last_status_;
  uint64_t covering;
  {
    absl::MutexLock arrivals(&arrivals_mu_);
    covering = arrived_;
  }
  last_status_ = ReadAndApplyLocked();
  covered_ = covering;
  return last_status_;
}

int64_t ChangeFollower::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

absl::Status ChangeFollower::ReadAndApplyLocked() {
  ++reads_;
  const absl::Time now = clock_->Now();
  if (now - last_read_ > options_.max_gap) {
    // What was missed may be pruned already: start over from the whole database.
    ASSIGN_OR_RETURN(const int64_t cursor, store_->ChangeCursor());
    FARM_LOG(WARNING) << "the change feed was not read for " << (now - last_read_)
                      << "; reloading everything";
    RETURN_IF_ERROR(handlers_.lost_track());
    cursor_ = cursor;
    last_read_ = now;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const store::ChangeBatch batch, store_->ChangesSince(cursor_));
  RETURN_IF_ERROR(ApplyLocked(batch.changes));
  cursor_ = batch.cursor;
  last_read_ = now;
  return absl::OkStatus();
}

absl::Status ChangeFollower::ApplyLocked(const std::vector<store::StoredChange>& changes) {
  std::vector<std::string> devices;
  std::vector<std::string> summaries;
  std::vector<store::StoredChange> sweeps;
  // Each thing once, where it last changed: the order of the last changes is the
  // order things reached their present state.
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<const store::StoredChange*> last_first;
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    if (seen.insert({it->kind, it->id}).second) last_first.push_back(&*it);
  }
  for (auto it = last_first.rbegin(); it != last_first.rend(); ++it) {
    const store::StoredChange& change = **it;
    if (change.kind == "device") {
      devices.push_back(change.id);
    } else if (change.kind == "summary") {
      summaries.push_back(change.id);
    } else if (change.kind == "sweep" || change.kind == "task") {
      sweeps.push_back(change);
    }
  }
  if (!devices.empty()) RETURN_IF_ERROR(handlers_.devices(devices));
  if (!summaries.empty()) RETURN_IF_ERROR(handlers_.summaries(summaries));
  if (!sweeps.empty()) RETURN_IF_ERROR(handlers_.sweeps(sweeps));
  return absl::OkStatus();
}

}  // namespace kvmfarm::replication
