// -----------------------------------------------------------------------------
// File: job_slot.h
// -----------------------------------------------------------------------------
//
// The agent runs one measurement job at a time: two benchmarks on one device
// would measure each other. A job holds the JobSlot's lease for its whole run; a
// second job is refused with RESOURCE_EXHAUSTED naming the busy attempt, which is
// what a scheduler retries later. GetStatus reports the running job, and Cancel
// reaches it by attempt id, so a restarted controller can reattach or cancel.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<JobSlot::Lease> lease,
//                    slot.Acquire(request.attempt_id(), farm::v1::JOB_KIND_BENCHMARK));
//   JobRunner job({lease.get(), client_gone, on_progress});  // Cancel reaches the job
//   ... run; job.Report(progress); ...
//   // the lease's destruction frees the slot
#ifndef KVMFARM_AGENT_JOB_SLOT_H_
#define KVMFARM_AGENT_JOB_SLOT_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

class JobSlot {
 public:
  // Held by the running job; frees the slot when destroyed.
  class Lease {
   public:
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    const std::string& attempt_id() const { return attempt_id_; }
    // Whether Cancel reached this job.
    bool cancelled() const;
    // Runs `on_cancel` when the job is cancelled (at once if it already was).
    void OnCancel(std::function<void()> on_cancel);
    void SetProgress(const farm::v1::Progress& progress);

   private:
    friend class JobSlot;
    Lease(JobSlot* slot, std::string attempt_id)
        : slot_(slot), attempt_id_(std::move(attempt_id)) {}
    JobSlot* slot_;
    std::string attempt_id_;
  };

  // Who asked for a job: a client, or the agent itself (its start-up boot check,
  // which schedulers wait for: JobInfo.agent_initiated).
  enum class Origin { kClient, kAgent };

  // INVALID_ARGUMENT for an empty attempt id; while another job holds the slot,
  // RESOURCE_EXHAUSTED "busy with job X" (proto/agent_busy.h); CANCELLED for an
  // attempt cancelled before it arrived (see Cancel).
  absl::StatusOr<std::unique_ptr<Lease>> Acquire(const std::string& attempt_id,
                                                 farm::v1::JobKind kind,
                                                 Origin origin = Origin::kClient);

  // The running job, if any.
  absl::optional<farm::v1::JobInfo> Current() const;

  // Cancels the running job if it has this attempt id; NOT_FOUND otherwise. A
  // cancel can overtake its job (the controller cancels an attempt whose RunJob is
  // still on its way), so the id is remembered (the last kRememberedCancels) and
  // the job refused when it comes, rather than run for nobody.
  absl::Status Cancel(const std::string& attempt_id);

  static constexpr size_t kRememberedCancels = 64;

  // Fencing (issue 18): OK for epoch 0 (not sent) or one at least the highest seen,
  // which it then becomes; FAILED_PRECONDITION for a lower one, from a controller
  // that led once and was replaced. Asked before every job and cancel.
  absl::Status AdmitLeaderEpoch(uint64_t epoch);

 private:
  void Release(const std::string& attempt_id);

  mutable absl::Mutex mu_;
  absl::optional<farm::v1::JobInfo> current_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> cancelled_before_start_ ABSL_GUARDED_BY(mu_);
  uint64_t highest_epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_JOB_SLOT_H_
