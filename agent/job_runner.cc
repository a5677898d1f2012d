#include "agent/job_runner.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace kvmfarm {

JobRunner::JobRunner(JobContext context, absl::Duration poll_interval)
    : context_(std::move(context)), poll_interval_(poll_interval) {
  if (context_.lease != nullptr) context_.lease->OnCancel([this] { Stop(JobEnd::kCancelled); });
}

JobRunner::~JobRunner() {
  if (context_.lease != nullptr) context_.lease->OnCancel(nullptr);
  OnStop(nullptr);
}

void JobRunner::Report(const farm::v1::Progress& progress) const {
  if (context_.lease != nullptr) context_.lease->SetProgress(progress);
  if (context_.on_progress) context_.on_progress(progress);
}

void JobRunner::Report(const std::string& message, uint32_t step, uint32_t total_steps) const {
  farm::v1::Progress progress;
  progress.set_message(message);
  progress.set_step(step);
  progress.set_total_steps(total_steps);
  Report(progress);
}

void JobRunner::OnStop(std::function<void()> stop) {
  absl::MutexLock lock(&stop_mu_);
  stop_ = std::move(stop);
  stop_ran_ = false;
  if (stopped()) RunStopLocked();
}

void JobRunner::Stop(JobEnd why) {
  {
    absl::MutexLock lock(&mu_);
    if (why == JobEnd::kCancelled) cancelled_ = true;
    if (stopped_) return;
    stopped_ = true;
    end_ = why;
  }
  absl::MutexLock lock(&stop_mu_);
  RunStopLocked();
}

void JobRunner::RunStopLocked() {
  if (!stop_ || stop_ran_) return;
  stop_ran_ = true;
  stop_();
}

bool JobRunner::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

JobEnd JobRunner::end() const {
  if (context_.lease != nullptr && context_.lease->cancelled()) return JobEnd::kCancelled;
  absl::MutexLock lock(&mu_);
  return cancelled_ ? JobEnd::kCancelled : end_;
}

JobEnd JobRunner::WaitUntil(const std::function<bool(absl::Time until)>& done,
                            absl::Time deadline) {
  while (!stopped()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return JobEnd::kDeadline;
    if (done(std::min(deadline, now + poll_interval_))) return JobEnd::kFinished;
    if (context_.client_gone && context_.client_gone()) Stop(JobEnd::kClientGone);
  }
  return end();
}

absl::StatusOr<ProcessResult> JobRunner::RunProcess(ProcessRunner& processes, ProcessSpec spec,
                                                    absl::Time deadline) {
  ASSIGN_OR_RETURN(std::unique_ptr<RunningProcess> child, processes.Start(std::move(spec)));
  RunningProcess* running = child.get();
  OnStop([running] { running->Kill(); });
  const JobEnd waited = WaitUntil(
      [running](absl::Time until) { return running->WaitFor(until - absl::Now()); }, deadline);
  if (waited == JobEnd::kDeadline) Stop(JobEnd::kDeadline);
  OnStop(nullptr);  // the child is about to go
  return child->Wait();
}

}  // namespace kvmfarm
