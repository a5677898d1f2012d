// -----------------------------------------------------------------------------
// File: scheduler.h
// -----------------------------------------------------------------------------
//
// Turns sweeps into agent jobs, with no operator in the loop:
//  * at most one task per device at a time (measurements must not overlap), at most
//    `max_parallel` overall and the sweep's own max_parallel;
//  * higher priority first, FIFO within a priority, and a waiting sweep's effective
//    priority rises by one per `priority_aging` so nothing starves;
//  * every try has an attempt id; infrastructure failures (unreachable, deadline,
//    crash) are retried on the same device with exponential backoff up to
//    `retry_budget` attempts, and reported to the fleet (towards quarantine); an
//    agent busy with another job is asked again without spending a try; the
//    agent's refusal of a request (as the agent client marks it: agent_error.h)
//    fails the task at once; a failed measurement is a result, not a retry;
//  * every state change is written to the store before it is acted on or
//    announced; one the store refuses (a full disk) is neither, and is written
//    again later (see CommitTaskLocked and unapplied_). After a
//    restart, Resume() picks up every unfinished sweep; an attempt that was in flight
//    is cancelled on its agent (a stream can't be rejoined) and dispatched again,
//    and a late result of an old attempt is recognised by its attempt id and dropped.
//
// Dispatch() is one scheduling step; the controller calls it on a timer. Attempts
// run through an Executor: threads in the controller, inline in unit tests.
#ifndef KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_H_
#define KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/agent_client.h"
#include "controller/scheduler/scheduler_observer.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::scheduler {

struct SchedulerOptions {
  int max_parallel = 16;
  int retry_budget = 3;
  absl::Duration backoff_base = absl::Seconds(1);
  absl::Duration backoff_max = absl::Seconds(60);
  absl::Duration default_task_deadline = absl::Minutes(30);
  absl::Duration priority_aging = absl::Minutes(1);
  // An agent busy with another job (its own boot check, most often) didn't run the
  // attempt: ask again after `agent_busy_retry`, without spending a try or counting
  // it against the device, for up to `agent_busy_patience`; then it is an ordinary
  // infrastructure failure.
  absl::Duration agent_busy_retry = absl::Seconds(2);
  absl::Duration agent_busy_patience = absl::Minutes(30);
  // The KVM boot check in capability steps.
  bool capability_boot_check = true;
  // How long a follower's CancelSweep waits for the leader to act on it.
  absl::Duration cancel_patience = absl::Seconds(20);
  // Told of dispatches, attempts, agent errors and retries (for /metrics); none
  // when null.
  SchedulerObserver* observer = nullptr;
  // Called (under the scheduler's lock) with the device of every stored result.
  std::function<void(const std::string& device_id)> on_result_stored;
  // Called (under the scheduler's lock, so it must return at once) when a sweep's
  // end has been written: the regression tracker compares it with its baselines.
  std::function<void(const farm::v1::Sweep& summary)> on_sweep_finished;
  // Called (likewise) when a capability result is stored: the device's verdict
  // before it and the new one, and the sweep.
  std::function<void(const std::string& device_id, farm::v1::Verdict before,
                     farm::v1::Verdict after, const std::string& sweep_id)>
      on_verdict_stored;
};

// Runs an attempt's work somewhere.
using Executor = std::function<void(std::function<void()>)>;

class Scheduler {
 public:
  // `executor` empty: a thread per attempt, joined by Shutdown().
  Scheduler(store::Store* store, fleet::Fleet* fleet, AgentClient* agents, const Clock* clock,
            SchedulerOptions options, Executor executor = nullptr);
  ~Scheduler();

  // Picks up the store's unfinished sweeps (after a restart, or when this replica
  // becomes the leader): attempts left running are cancelled on their agents and
  // the tasks dispatched again.
  absl::Status Resume();
  // Picks up sweeps another replica started (queued or running in the store, not
  // yet here): the leader runs them. Returns how many.
  absl::StatusOr<int> AdoptNewSweeps();
  // The leader acts on cancels asked of other replicas (Store::CancelRequests),
  // and forgets each once done. Returns how many sweeps it cancelled.
  absl::StatusOr<int> ApplyCancelRequests();
  // A replica that stops leading (or hasn't led yet) runs nothing: its unfinished
  // sweeps are forgotten here (the leader resumes them from the store), a sweep it
  // starts is stored for the leader to run, a cancel is asked of the leader. Its
  // attempts still in flight can store nothing (the store is fenced) and are
  // cancelled by the new leader's Resume. Resume() makes it lead again.
  void StepDown();
  // A follower's watchers hear of the leader's work from the store's change feed:
  // each sweep or task changed (ChangeFollower's "sweeps" handler) that someone
  // watches is read and announced. The leader announces its own as it goes.
  absl::Status PublishStoredChanges(const std::vector<store::StoredChange>& changes);

  // INVALID_ARGUMENT for a bad spec (naming the field); FAILED_PRECONDITION when no
  // device matches, or none that matches can be scheduled (saying why).
  // `by` (who, for the audit trail) is stored as the sweep's started_by.
  absl::StatusOr<farm::v1::Sweep> StartSweep(const farm::v1::StartSweepRequest& request,
                                             const std::string& by = "");
  absl::StatusOr<farm::v1::Sweep> GetSweep(const std::string& sweep_id, bool include_results);
  absl::StatusOr<std::vector<farm::v1::Sweep>> ListSweeps(const store::SweepListQuery& query);
  // Cancels waiting tasks and running attempts (on their agents); stored results stay.
  // `by` is stored as the sweep's cancelled_by. On a follower the cancel is asked
  // of the leader, and answered once the sweep has ended (UNAVAILABLE, the request
  // kept, when no leader acts within `cancel_patience`).
  absl::StatusOr<farm::v1::Sweep> CancelSweep(const std::string& sweep_id,
                                              const std::string& reason,
                                              const std::string& by = "");

  // One scheduling step: dispatches what may run now; returns how many.
  int Dispatch();

  // Every task change and sweep summary of `sweep_id`, until Unwatch.
  int Watch(const std::string& sweep_id,
            std::function<void(const farm::v1::WatchSweepResponse&)> on_event);
  void Unwatch(int watch_id);

  // Cancels running attempts and waits for their threads.
  void Shutdown();

 private:
  struct Attempt {
    farm::v1::Task task;
    std::string attempt_id;
    std::string address;
    farm::v1::SweepSpec spec;
  };
  // A task that may be dispatched now, with its sweep and effective priority.
  struct Candidate {
    double priority;
    absl::Time created;
    farm::v1::Task* task;
    farm::v1::Sweep* sweep;
  };
  // What runs on a device.
  struct RunningTask {
    std::string sweep_id;
    std::string task_id;
  };
  // An attempt that was in flight when the controller died.
  struct AbandonedAttempt {
    std::string agent_address;  // empty when the device is gone
    std::string attempt_id;
  };

  // Resume's step: cancels an abandoned attempt on its agent if it still runs there;
  // the attempt's outcome, saying what happened ("abandoned: controller restarted;
  // the agent cancelled the job").
  std::string CancelAbandoned(const AbandonedAttempt& attempt);

  // Dispatch's steps: the tasks due now, highest effective priority first; why one
  // of them must wait (empty: it may run); and its attempt started.
  std::vector<Candidate> DueTasksLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string WaitReasonLocked(const Candidate& candidate,
                               const absl::StatusOr<farm::v1::Device>& device,
                               const std::map<std::string, int>& running_in_sweep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // nullopt when the database refused to record the attempt: nothing is sent.
  std::optional<Attempt> StartAttemptLocked(const Candidate& candidate, const std::string& address,
                                            absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes again what the database refused before, in order: outcomes, then sweep
  // summaries. False while it still refuses.
  bool RetryUnwrittenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void RunAttempt(Attempt attempt);
  // The attempt's work on its agent: the task carrying its result, or the error.
  absl::StatusOr<farm::v1::Task> Measure(const Attempt& attempt,
                                         const ProgressCallback& on_progress);
  void ReportProgress(const Attempt& attempt, const farm::v1::Progress& progress);

  // Complete's steps: the outcome applied (a result stored, or a failure retried
  // or final), each an error, changing nothing, when the database refuses it.
  void Complete(const Attempt& attempt, absl::StatusOr<farm::v1::Task> outcome);
  absl::Status ApplyOutcomeLocked(const Attempt& attempt,
                                  const absl::StatusOr<farm::v1::Task>& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StoreResultLocked(const Attempt& attempt, farm::v1::Task done, absl::Time now,
                                 farm::v1::Task* task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a busy answer for the task is still waited for (see agent_busy_patience).
  bool PatientWithBusyAgentLocked(const std::string& task_id, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WaitForBusyAgentLocked(const Attempt& attempt, const absl::Status& error,
                                      absl::Time now, farm::v1::Task* task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecordFailureLocked(const Attempt& attempt, const absl::Status& error,
                                   absl::Time now, farm::v1::Task* task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishAttemptLocked(const std::string& attempt_id, const std::string& outcome,
                           const std::string& console_log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A follower's CancelSweep: asked of the leader, then waited for.
  absl::StatusOr<farm::v1::Sweep> AskLeaderToCancel(const std::string& sweep_id,
                                                    const std::string& reason,
                                                    const std::string& by);

  // A job on an agent, to cancel there.
  struct AgentJob {
    std::string agent_address;
    std::string attempt_id;
  };
  // Cancels `jobs` on their agents, several at once.
  void CancelOnAgents(const std::vector<AgentJob>& jobs);

  // The rule every write keeps: a change that could not be written is not acted on
  // and not announced. UpdateSweepLocked recomputes the sweep's counts and state,
  // writes them and tells watchers; refused, the sweep stays as it was and is
  // written again by Dispatch. CommitTaskLocked replaces *task with `updated` once
  // written, and tells watchers. StoreRefusedLocked pauses dispatching (backing off)
  // and returns the error for `what`.
  absl::Status UpdateSweepLocked(farm::v1::Sweep* sweep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitTaskLocked(farm::v1::Task* task, farm::v1::Task updated)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StoreRefusedLocked(const std::string& what, const absl::Status& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishTaskLocked(const farm::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(const std::string& sweep_id, const farm::v1::WatchSweepResponse& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  farm::v1::Task* FindTaskLocked(const std::string& sweep_id, const std::string& task_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  fleet::Fleet* const fleet_;
  AgentClient* const agents_;
  const Clock* const clock_;
  const SchedulerOptions options_;
  const ExponentialBackoff backoff_;
  Executor executor_;

  absl::Mutex mu_;
  // Whether this replica runs sweeps (see StepDown).
  bool leading_ ABSL_GUARDED_BY(mu_) = true;
  // Unfinished sweeps, with their tasks.
  std::map<std::string, farm::v1::Sweep> active_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, RunningTask> running_by_device_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::pair<std::string, std::function<void(const farm::v1::WatchSweepResponse&)>>>
      watchers_ ABSL_GUARDED_BY(mu_);
  int next_watch_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_sweep_ ABSL_GUARDED_BY(mu_) = 1;
  // StartSweep's idempotency keys (request_id -> sweep id), for this process's life.
  std::map<std::string, std::string> request_ids_ ABSL_GUARDED_BY(mu_);
  // Per task that found its agent busy: since when, and how many tries that took
  // (they don't count against its retry budget). In memory: a restart forgets them.
  struct BusyWait {
    absl::Time since;
    uint32_t tries = 0;
  };
  std::map<std::string, BusyWait> busy_waits_ ABSL_GUARDED_BY(mu_);
  // Outcomes the database refused, in arrival order, and sweeps whose summary it
  // refused: written again by Dispatch once store_retry_at_ has passed.
  struct Outcome {
    Attempt attempt;
    absl::StatusOr<farm::v1::Task> outcome;
  };
  std::deque<Outcome> unapplied_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unwritten_sweeps_ ABSL_GUARDED_BY(mu_);
  // Up to 15 s: an operator who makes room sees the controller go on soon after.
  ExponentialBackoff store_backoff_ ABSL_GUARDED_BY(mu_){absl::Seconds(1), absl::Seconds(15)};
  absl::Time store_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Mutex threads_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_SCHEDULER_H_
