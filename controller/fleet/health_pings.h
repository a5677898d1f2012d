// -----------------------------------------------------------------------------
// File: health_pings.h
// -----------------------------------------------------------------------------
//
// Health pings (AgentClient::GetStatus) of the inventory devices that have no
// session (Fleet::ToPing), a round at a time and concurrently: at most
// `max_concurrent` pings are out at once, and a round returns within
// `round_budget` however many agents don't answer, so the liveness check that
// follows it (Fleet::CheckLiveness) keeps its schedule. A ping still out when its
// round returns carries on and marks its device seen if it is answered; until it
// ends, later rounds leave that device out, so no device ever has two pings out.
//
// Thread-safe; Round is meant to be called from one thread (the liveness loop).
//
// Example:
//
//   HealthPings pings(&fleet, &agents, HealthPingOptions());
//   while (!stop.WaitForNotificationWithTimeout(interval / 2)) {
//     pings.Round();
//     fleet.CheckLiveness();
//   }
#ifndef KVMFARM_CONTROLLER_FLEET_HEALTH_PINGS_H_
#define KVMFARM_CONTROLLER_FLEET_HEALTH_PINGS_H_

#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/agent_client.h"

namespace kvmfarm::fleet {

struct HealthPingOptions {
  // Pings out at once (each a thread blocked on its call).
  int max_concurrent = 32;
  // How long a round waits for its pings: GrpcAgentClient's ping deadline.
  absl::Duration round_budget = absl::Seconds(5);
};

// What one round did.
struct PingRound {
  int sent = 0;       // pings this round started or queued
  int answered = 0;   // of those, answered before the round returned (device seen)
  int failed = 0;     // of those, failed before the round returned
  int skipped = 0;    // devices left out: a ping from an earlier round still out
  int still_out = 0;  // pings (any round's) neither answered nor failed at return
  absl::Duration took;
};

class HealthPings {
 public:
  HealthPings(Fleet* fleet, scheduler::AgentClient* agents, HealthPingOptions options);
  // Drops the pings not started yet and waits for those out (each ends by its
  // deadline).
  ~HealthPings();
  HealthPings(const HealthPings&) = delete;
  HealthPings& operator=(const HealthPings&) = delete;

  // Pings every device Fleet::ToPing lists that has no ping out, and returns once
  // they have all been answered or failed, or after `round_budget`.
  PingRound Round();

 private:
  struct Ping {
    std::string device_id;
    std::string address;
    int64_t round;
  };
  // A worker: takes queued pings until stopping.
  void Work();
  // Conditions for mu_.Await.
  bool WorkOrStop() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool RoundDone() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  Fleet* const fleet_;
  scheduler::AgentClient* const agents_;
  const HealthPingOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Ping> queue_ ABSL_GUARDED_BY(mu_);
  // Devices with a ping queued or out.
  std::set<std::string> out_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  int idle_workers_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The current round and its pings' outcomes so far.
  int64_t round_ ABSL_GUARDED_BY(mu_) = 0;
  int round_pending_ ABSL_GUARDED_BY(mu_) = 0;
  int round_answered_ ABSL_GUARDED_BY(mu_) = 0;
  int round_failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::fleet

#endif  // KVMFARM_CONTROLLER_FLEET_HEALTH_PINGS_H_
