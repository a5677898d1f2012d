// -----------------------------------------------------------------------------
// File: leader_election.h
// -----------------------------------------------------------------------------
//
// Which of several farm-controller replicas on one database leads (issue 18): only
// the leader dispatches and checks liveness; every replica serves. Leadership is
// the store's lease (Store::ClaimLeadership) with a fencing epoch: Step() claims or
// renews it, and should run every ttl/3. Elected, a replica fences its store to its
// epoch (a paused leader that wakes up under an old epoch writes nothing) and is
// told, so it reloads the fleet and resumes unfinished sweeps before it dispatches.
// A leader whose renewals fail stops leading when its lease would have run out, by
// its own clock, before another replica can take over.
//
// Example:
//
//   LeaderElection election(store, &clock, {.replica = "c1", .on_elected = resume});
//   while (!stop) { election.Step(); if (election.IsLeader()) scheduler.Dispatch(); ... }
#ifndef KVMFARM_CONTROLLER_LEADERSHIP_LEADER_ELECTION_H_
#define KVMFARM_CONTROLLER_LEADERSHIP_LEADER_ELECTION_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/store/store.h"

namespace kvmfarm::leadership {

struct LeaderElectionOptions {
  // This replica's name, unique among the replicas (its certificate's name).
  std::string replica;
  // Where it serves, as it reports itself (ListControllers); SetAddress once known.
  std::string address;
  absl::Duration ttl = absl::Seconds(10);
  // Called from Step when this replica becomes leader (with its epoch), before
  // IsLeader() says so; an error gives the lease up again and is retried.
  std::function<absl::Status(int64_t epoch)> on_elected;
  // Called from Step when it stops leading.
  std::function<void()> on_deposed;
};

class LeaderElection {
 public:
  LeaderElection(store::Store* store, const Clock* clock, LeaderElectionOptions options);

  // One claim or renewal. Returns the lease as the store has it.
  absl::StatusOr<store::Leadership> Step();
  // Gives the lease up (a clean shutdown), so another replica takes over at once.
  void Resign();
  // Where this replica serves, reported with every Step from now on.
  void SetAddress(const std::string& address);

  bool IsLeader() const;
  int64_t epoch() const;
  // The lease as last seen (holder empty before the first Step).
  store::Leadership Current() const;

 private:
  void DeposeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  const Clock* const clock_;
  const LeaderElectionOptions options_;
  mutable absl::Mutex mu_;
  std::string address_ ABSL_GUARDED_BY(mu_);
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  store::Leadership current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::leadership

#endif  // KVMFARM_CONTROLLER_LEADERSHIP_LEADER_ELECTION_H_
