// -----------------------------------------------------------------------------
// File: job_runner.h
// -----------------------------------------------------------------------------
//
// What every measurement job of the agent does around its own work (native
// benchmarks, in-guest workloads, boots): it stops that work when Cancel reaches
// it through the job slot's lease, when the client that asked for it went away
// (polled every 200 ms), or at its deadline; and it passes progress on to the
// lease (GetStatus) and to the client's stream. The jobs say only what their work
// is and how to stop it.
//
// Example:
//
//   JobRunner job(context);
//   job.Report("starting farm-workload", 1, 1);
//   ASSIGN_OR_RETURN(ProcessResult outcome,
//                    job.RunProcess(processes, spec, absl::Now() + absl::Minutes(30)));
//   if (job.end() == JobEnd::kCancelled) ...
#ifndef KVMFARM_AGENT_JOB_RUNNER_H_
#define KVMFARM_AGENT_JOB_RUNNER_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/job_slot.h"
#include "common/process_runner.h"
#include "common/proto_time.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

// Who started a job and how to reach them.
struct JobContext {
  // The job slot's lease: Cancel reaches the job through it and GetStatus shows its
  // progress. Null where no slot is held (the boot check of `--probe --boot-check`).
  JobSlot::Lease* lease = nullptr;
  // Polled: true once the client that asked for the job went away.
  std::function<bool()> client_gone;
  // Each progress report, one call at a time, never after the job returned.
  std::function<void(const farm::v1::Progress&)> on_progress;
};

// Why a job's work ended.
enum class JobEnd {
  kFinished,    // by itself
  kCancelled,   // Cancel reached it
  kClientGone,  // its client went away
  kDeadline,    // its deadline passed
};

// The request's deadline, or `fallback` when it sets none. For a request already
// admitted: its deadline was checked with CheckedDuration (positive, at most
// kMaxJobDeadline) by ValidateBenchmarkRequest / vm::ValidateBootRequest.
template <typename Request>
absl::Duration RequestDeadline(const Request& request, absl::Duration fallback) {
  return request.has_deadline() ? FromProtoDuration(request.deadline()) : fallback;
}

class JobRunner {
 public:
  static constexpr absl::Duration kClientPollInterval = absl::Milliseconds(200);

  explicit JobRunner(JobContext context, absl::Duration poll_interval = kClientPollInterval);
  // Detaches from the lease: a later Cancel no longer reaches this job.
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Passes `progress` on to the lease and the client.
  void Report(const farm::v1::Progress& progress) const;
  void Report(const std::string& message, uint32_t step, uint32_t total_steps) const;

  // How to stop the job's work (kill its child, stop its VMs): run once, when the
  // job is stopped, or at once if it already was. nullptr detaches it (before the
  // things it stops go away), waiting for a run in progress. The callback may ask
  // stopped() and end() but must not call OnStop.
  void OnStop(std::function<void()> stop);

  // Waits until `done(until)` is true (it may block until `until`, at most the poll
  // interval), the job is stopped, or `deadline` passes; in between, stops the job if
  // its client went away. kFinished when `done`; at the deadline the work is NOT
  // stopped (the caller decides).
  JobEnd WaitUntil(const std::function<bool(absl::Time until)>& done, absl::Time deadline);

  // Runs a child as the job's work: started through `processes`, killed when the
  // job is stopped or at `deadline`. Errors are those of starting it; how it ended
  // is the ProcessResult, and why it was stopped end().
  absl::StatusOr<ProcessResult> RunProcess(ProcessRunner& processes, ProcessSpec spec,
                                           absl::Time deadline);

  // Stops the job's work (the OnStop callback) for `why`.
  void Stop(JobEnd why);
  // Whether the job was stopped (Cancel, a vanished client, RunProcess's deadline).
  bool stopped() const;
  // Why: kCancelled whenever Cancel reached the job, else the first reason;
  // kFinished when it was not stopped.
  JobEnd end() const;

 private:
  const JobContext context_;
  const absl::Duration poll_interval_;
  // Runs the stop callback if it hasn't run since it was set.
  void RunStopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stop_mu_);

  // Held while the stop callback runs (so OnStop(nullptr) waits for a running one),
  // apart from mu_, so the callback can still ask how the job stands.
  absl::Mutex stop_mu_;
  std::function<void()> stop_ ABSL_GUARDED_BY(stop_mu_);
  bool stop_ran_ ABSL_GUARDED_BY(stop_mu_) = false;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  JobEnd end_ ABSL_GUARDED_BY(mu_) = JobEnd::kFinished;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_JOB_RUNNER_H_
