// -----------------------------------------------------------------------------
// File: change_follower.h
// -----------------------------------------------------------------------------
//
// Keeps one controller replica's memory true to a database other replicas write
// too (issue 18). The store notes every write of a device, sweep, task or latest
// summary in a change feed, in the write's own transaction (Store::ChangesSince);
// the follower reads the feed from where it last stood and hands each kind of
// change, deduplicated, to a handler that reloads what memory holds of it.
//
// CatchUp() runs on a short timer and before every answer read from memory, so an
// answer includes every write committed before the call began, whichever replica
// made it. Concurrent callers share one read: a caller is satisfied by any read
// that began after it arrived. A replica that could not read the feed for longer
// than `max_gap` (the feed's retention may have dropped what it missed) reloads
// everything instead (on_lost_track).
//
// Example:
//
//   ChangeFollower follower(store, &clock, handlers, {});
//   RETURN_IF_ERROR(follower.Start());   // before loading the fleet
//   RETURN_IF_ERROR(fleet.Load());
//   ...
//   RETURN_IF_ERROR(follower.CatchUp());  // then answer from the fleet
#ifndef KVMFARM_CONTROLLER_REPLICATION_CHANGE_FOLLOWER_H_
#define KVMFARM_CONTROLLER_REPLICATION_CHANGE_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/store/store.h"

namespace kvmfarm::replication {

// What to do with the changes of one read, each list without repeats, in the
// order of their last change. A handler's error fails CatchUp; the changes are
// read again.
struct ChangeHandlers {
  std::function<absl::Status(const std::vector<std::string>& device_ids)> devices;
  // New latest summaries, by device.
  std::function<absl::Status(const std::vector<std::string>& device_ids)> summaries;
  // Sweeps and tasks (kind "sweep" or "task"; a task's parent is its sweep).
  std::function<absl::Status(const std::vector<store::StoredChange>& changes)> sweeps;
  // The feed can't tell what was missed: reload everything.
  std::function<absl::Status()> lost_track;
};

struct ChangeFollowerOptions {
  // Longer without a read than this, and the follower reloads everything. Keep it
  // under the feed's retention (kChangeRetention).
  absl::Duration max_gap = absl::Minutes(5);
};

// How long the leader keeps changes in the feed (Store::PruneChanges).
inline constexpr absl::Duration kChangeRetention = absl::Minutes(10);

class ChangeFollower {
 public:
  ChangeFollower(store::Store* store, const Clock* clock, ChangeHandlers handlers,
                 ChangeFollowerOptions options = {});

  // Takes the feed's position now; load what the handlers keep after this.
  absl::Status Start();
  // Applies every change committed before this call began.
  absl::Status CatchUp();

  // Reads the feed and applies it (counted, for benchmarks and tests).
  int64_t reads() const;

 private:
  absl::Status ReadAndApplyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyLocked(const std::vector<store::StoredChange>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  const Clock* const clock_;
  const ChangeHandlers handlers_;
  const ChangeFollowerOptions options_;

  // Callers that arrived, and how many of them the last finished read covered.
  absl::Mutex arrivals_mu_;
  uint64_t arrived_ ABSL_GUARDED_BY(arrivals_mu_) = 0;

  mutable absl::Mutex mu_;
  uint64_t covered_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_status_ ABSL_GUARDED_BY(mu_);
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_read_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::replication

#endif  // KVMFARM_CONTROLLER_REPLICATION_CHANGE_FOLLOWER_H_
