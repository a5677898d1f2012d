#include "agent/job_slot.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "proto/agent_busy.h"

namespace kvmfarm {

absl::StatusOr<std::unique_ptr<JobSlot::Lease>> JobSlot::Acquire(const std::string& attempt_id,
                                                                 farm::v1::JobKind kind,
                                                                 Origin origin) {
  if (attempt_id.empty()) {
    return absl::InvalidArgumentError(
        "attempt_id is required: choose a unique id per try, it is echoed in every reply");
  }
  absl::MutexLock lock(&mu_);
  if (std::find(cancelled_before_start_.begin(), cancelled_before_start_.end(), attempt_id) !=
      cancelled_before_start_.end()) {
    return absl::CancelledError(
        absl::StrCat("attempt '", attempt_id, "' was cancelled before it started"));
  }
  if (current_.has_value()) return AgentBusyError(*current_);
  farm::v1::JobInfo info;
  info.set_attempt_id(attempt_id);
  info.set_kind(kind);
  info.set_agent_initiated(origin == Origin::kAgent);
  *info.mutable_started_at() = ToProtoTimestamp(absl::Now());
  current_ = std::move(info);
  cancelled_ = false;
  on_cancel_ = nullptr;
  return std::unique_ptr<Lease>(new Lease(this, attempt_id));
}

absl::Status JobSlot::AdmitLeaderEpoch(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (epoch == 0) return absl::OkStatus();
  if (epoch < highest_epoch_) {
    return absl::FailedPreconditionError(
        absl::StrCat("leader_epoch ", epoch, " is stale: a controller of epoch ", highest_epoch_,
                     " leads now; this agent takes work from it only"));
  }
  highest_epoch_ = epoch;
  return absl::OkStatus();
}

absl::optional<farm::v1::JobInfo> JobSlot::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status JobSlot::Cancel(const std::string& attempt_id) {
  if (attempt_id.empty()) {
    return absl::InvalidArgumentError(
        "attempt_id is required: the attempt id of the job to cancel");
  }
  std::function<void()> on_cancel;
  {
    absl::MutexLock lock(&mu_);
    if (!current_.has_value() || current_->attempt_id() != attempt_id) {
      cancelled_before_start_.push_back(attempt_id);
      if (cancelled_before_start_.size() > kRememberedCancels) cancelled_before_start_.pop_front();
      return absl::NotFoundError(absl::StrCat(
          "no job with attempt_id '", attempt_id, "' is running",
          current_.has_value() ? absl::StrCat(" (running: ", current_->attempt_id(), ")") : ""));
    }
    cancelled_ = true;
    on_cancel = on_cancel_;
  }
  if (on_cancel) on_cancel();
  return absl::OkStatus();
}

void JobSlot::Release(const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  if (current_.has_value() && current_->attempt_id() == attempt_id) {
    current_.reset();
    on_cancel_ = nullptr;
  }
}

JobSlot::Lease::~Lease() { slot_->Release(attempt_id_); }

bool JobSlot::Lease::cancelled() const {
  absl::MutexLock lock(&slot_->mu_);
  return slot_->cancelled_;
}

void JobSlot::Lease::OnCancel(std::function<void()> on_cancel) {
  bool already;
  {
    absl::MutexLock lock(&slot_->mu_);
    slot_->on_cancel_ = on_cancel;
    already = slot_->cancelled_;
  }
  if (already && on_cancel) on_cancel();
}

void JobSlot::Lease::SetProgress(const farm::v1::Progress& progress) {
  absl::MutexLock lock(&slot_->mu_);
  if (slot_->current_.has_value()) *slot_->current_->mutable_progress() = progress;
}

}  // namespace kvmfarm
