// -----------------------------------------------------------------------------
// File: scheduler_observer.h
// -----------------------------------------------------------------------------
//
// What the scheduler tells whoever counts its work (the controller's /metrics,
// controller/http/lab_counters.h), as it happens. Every method is called under the
// scheduler's lock and must return at once.
#ifndef KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_OBSERVER_H_
#define KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_OBSERVER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::scheduler {

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  // A task's first attempt was sent, `waited` after its sweep was created.
  virtual void FirstDispatched(farm::v1::StepKind kind, absl::Duration waited) = 0;
  // An attempt ended (a result, a failure, or a late answer), `took` after it was sent.
  virtual void AttemptEnded(farm::v1::StepKind kind, absl::Duration took) = 0;
  // A call to an agent failed with `code` (the agent's refusals included, its
  // "busy" answers not: those are waits).
  virtual void AgentCallFailed(absl::StatusCode code) = 0;
  // A failed attempt will be tried again.
  virtual void Retried(farm::v1::StepKind kind) = 0;
};

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_OBSERVER_H_
