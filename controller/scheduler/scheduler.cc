#include "controller/scheduler/scheduler.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "controller/matrix/guest_intervals.h"
#include "controller/scheduler/agent_error.h"
#include "controller/scheduler/eta.h"
#include "controller/scheduler/sweep_plan.h"
#include "proto/agent_busy.h"
#include "proto/states.h"

namespace kvmfarm::scheduler {
namespace {

// Whether a device may take work now, and if not, why.
// Whether a task of `spec` may run on `device` at `now`: online, healthy (a health
// check also runs on a quarantined device, to lift it), and not reserved.
absl::Status Schedulable(const farm::v1::Device& device, const farm::v1::SweepSpec& spec,
                         absl::Time now) {
  if (device.state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE) {
    return absl::UnavailableError(absl::StrCat("device ", device.device_id(), " offline"));
  }
  const farm::v1::HealthState h = device.state().health();
  if (h != farm::v1::HEALTH_STATE_GOOD && h != farm::v1::HEALTH_STATE_UNKNOWN &&
      !(h == farm::v1::HEALTH_STATE_QUARANTINED && spec.health_check())) {
    return absl::UnavailableError(
        absl::StrCat("device ", device.device_id(), " is ", LowerEnumValueName(h)));
  }
  if (fleet::Reserved(device, now)) {
    const farm::v1::Reservation& r = device.reservation();
    return absl::UnavailableError(absl::StrCat(
        "device ", device.device_id(), " is reserved by ", r.holder(), " until ",
        absl::FormatTime("%Y-%m-%d %H:%M UTC", FromProtoTimestamp(r.until()), absl::UTCTimeZone()),
        ": ", r.reason()));
  }
  return absl::OkStatus();
}

// A write whose failure changes nothing else (the writer keeps its memory as
// stored), logged so that nothing is lost silently.
void LogUnwritten(const absl::Status& status, absl::string_view what) {
  if (!status.ok()) FARM_LOG(WARNING) << what << " not stored: " << status.message();
}

// How many of `tasks` are in each state.
farm::v1::SweepCounts CountTasks(const google::protobuf::RepeatedPtrField<farm::v1::Task>& tasks) {
  farm::v1::SweepCounts counts;
  counts.set_total(tasks.size());
  for (const farm::v1::Task& t : tasks) {
    switch (t.state()) {
      case farm::v1::TASK_STATE_PENDING:
        counts.set_pending(counts.pending() + 1);
        break;
      case farm::v1::TASK_STATE_WAITING:
        counts.set_waiting(counts.waiting() + 1);
        break;
      case farm::v1::TASK_STATE_RUNNING:
        counts.set_running(counts.running() + 1);
        break;
      case farm::v1::TASK_STATE_SUCCEEDED:
        counts.set_succeeded(counts.succeeded() + 1);
        break;
      case farm::v1::TASK_STATE_FAILED:
        counts.set_failed(counts.failed() + 1);
        break;
      case farm::v1::TASK_STATE_CANCELLED:
        counts.set_cancelled(counts.cancelled() + 1);
        break;
      default:
        break;
    }
  }
  return counts;
}

// A sweep's summary as its tasks stand at `now`: counts, state (and why it
// failed), start and end times, time left.
void SummarizeSweep(const google::protobuf::RepeatedPtrField<farm::v1::Task>& tasks, absl::Time now,
                    farm::v1::Sweep* summary) {
  const farm::v1::SweepCounts counts = CountTasks(tasks);
  *summary->mutable_counts() = counts;
  const uint32_t done = counts.succeeded() + counts.failed() + counts.cancelled();
  if (summary->state() != farm::v1::SWEEP_STATE_CANCELLED && done == counts.total()) {
    summary->set_state(counts.failed() > 0 ? farm::v1::SWEEP_STATE_FAILED
                                           : farm::v1::SWEEP_STATE_SUCCEEDED);
    if (counts.failed() > 0) {
      summary->set_reason(absl::StrCat(counts.failed(), " of ", counts.total(),
                                       " tasks failed (refused, or out of retries)"));
    }
  } else if (summary->state() == farm::v1::SWEEP_STATE_QUEUED && counts.running() > 0) {
    summary->set_state(farm::v1::SWEEP_STATE_RUNNING);
    *summary->mutable_started_at() = ToProtoTimestamp(now);
  }
  if (SweepFinished(summary->state()) && !summary->has_finished_at()) {
    *summary->mutable_finished_at() = ToProtoTimestamp(now);
  }
  const std::optional<absl::Duration> eta =
      SweepFinished(summary->state())
          ? std::nullopt
          : EstimateTimeLeft(tasks, summary->spec().max_parallel(), now);
  if (eta.has_value()) {
    *summary->mutable_eta() = ToProtoDuration(*eta);
  } else {
    summary->clear_eta();
  }
}

}  // namespace

Scheduler::Scheduler(store::Store* store, fleet::Fleet* fleet, AgentClient* agents,
                     const Clock* clock, SchedulerOptions options, Executor executor)
    : store_(store),
      fleet_(fleet),
      agents_(agents),
      clock_(clock),
      options_(options),
      backoff_(options.backoff_base, options.backoff_max),
      executor_(std::move(executor)) {
  if (!executor_) {
    executor_ = [this](std::function<void()> work) {
      absl::MutexLock lock(&threads_mu_);
      threads_.emplace_back(std::move(work));
    };
  }
}

Scheduler::~Scheduler() { Shutdown(); }

absl::Status Scheduler::CommitTaskLocked(farm::v1::Task* task, farm::v1::Task updated) {
  if (absl::Status written = store_->PutTask(updated); !written.ok()) {
    return StoreRefusedLocked("task " + updated.task_id(), written);
  }
  *task = std::move(updated);
  PublishTaskLocked(*task);
  return absl::OkStatus();
}

void Scheduler::PublishTaskLocked(const farm::v1::Task& task) {
  farm::v1::WatchSweepResponse event;
  *event.mutable_time() = ToProtoTimestamp(clock_->Now());
  *event.mutable_task() = task;
  PublishLocked(task.sweep_id(), event);
}

absl::Status Scheduler::StoreRefusedLocked(const std::string& what, const absl::Status& error) {
  const absl::Duration pause = store_backoff_.Next();
  store_retry_at_ = clock_->Now() + pause;
  FARM_LOG(ERROR) << "the database refused " << what << ": " << error.message()
                  << "; nothing is acted on until it is written (next try in "
                  << absl::FormatDuration(pause) << ")";
  return absl::UnavailableError(
      absl::StrCat("the database refused to store ", what, ": ", error.message()));
}

void Scheduler::PublishLocked(const std::string& sweep_id,
                              const farm::v1::WatchSweepResponse& event) {
  for (const auto& [id, watcher] : watchers_) {
    if (watcher.first == sweep_id) watcher.second(event);
  }
}

farm::v1::Task* Scheduler::FindTaskLocked(const std::string& sweep_id, const std::string& task_id) {
  auto it = active_.find(sweep_id);
  if (it == active_.end()) return nullptr;
  for (farm::v1::Task& task : *it->second.mutable_tasks()) {
    if (task.task_id() == task_id) return &task;
  }
  return nullptr;
}

absl::Status Scheduler::UpdateSweepLocked(farm::v1::Sweep* sweep) {
  // The summary is computed, written and published without its tasks; they are
  // moved aside rather than copied (a sweep can hold 10,000 of them).
  google::protobuf::RepeatedPtrField<farm::v1::Task> tasks;
  tasks.Swap(sweep->mutable_tasks());
  farm::v1::Sweep summary = *sweep;
  tasks.Swap(sweep->mutable_tasks());
  SummarizeSweep(sweep->tasks(), clock_->Now(), &summary);
  if (absl::Status written = store_->PutSweep(summary); !written.ok()) {
    unwritten_sweeps_.insert(sweep->sweep_id());
    return StoreRefusedLocked("sweep " + sweep->sweep_id(), written);
  }
  unwritten_sweeps_.erase(sweep->sweep_id());
  const bool ended = SweepFinished(summary.state()) && !SweepFinished(sweep->state());
  farm::v1::WatchSweepResponse event;
  *event.mutable_time() = ToProtoTimestamp(clock_->Now());
  *event.mutable_sweep() = summary;
  summary.mutable_tasks()->Swap(sweep->mutable_tasks());
  *sweep = std::move(summary);
  PublishLocked(sweep->sweep_id(), event);
  if (ended && options_.on_sweep_finished) options_.on_sweep_finished(event.sweep());
  return absl::OkStatus();
}

absl::Status Scheduler::Resume() {
  store::SweepListQuery all;
  all.limit = std::numeric_limits<int>::max();
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Sweep> sweeps, store_->ListSweeps(all));
  std::vector<AbandonedAttempt> abandoned;
  {
    absl::MutexLock lock(&mu_);
    leading_ = true;
    next_sweep_ += sweeps.size();
    for (const farm::v1::Sweep& summary : sweeps) {
      if (SweepFinished(summary.state())) continue;
      ASSIGN_OR_RETURN(farm::v1::Sweep sweep, store_->GetSweep(summary.sweep_id(), false));
      for (farm::v1::Task& task : *sweep.mutable_tasks()) {
        if (task.state() != farm::v1::TASK_STATE_RUNNING) continue;
        // The attempt was in flight when the controller died. Its stream can't be
        // rejoined: cancel it on the agent if it still runs, then try again.
        absl::StatusOr<farm::v1::Device> device = fleet_->Get(task.device_id());
        abandoned.push_back({device.ok() ? device->agent_address() : "", task.attempt_id()});
        task.set_state(farm::v1::TASK_STATE_WAITING);
        task.set_status(absl::StrCat("resumed after a controller restart; attempt ",
                                     task.attempt_id(), " abandoned"));
        *task.mutable_next_attempt_at() = ToProtoTimestamp(clock_->Now());
        RETURN_IF_ERROR(store_->PutTask(task));
      }
      FARM_LOG(INFO) << "resuming sweep " << sweep.sweep_id();
      active_[sweep.sweep_id()] = std::move(sweep);
    }
  }
  for (const AbandonedAttempt& attempt : abandoned) {
    const std::string outcome = CancelAbandoned(attempt);
    absl::Status recorded = store_->FinishAttempt(attempt.attempt_id, outcome, "");
    if (!recorded.ok()) {
      FARM_LOG(WARNING) << "attempt " << attempt.attempt_id << " (" << outcome
                        << "): outcome not stored: " << recorded.message();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Scheduler::AdoptNewSweeps() {
  store::SweepListQuery unfinished;
  unfinished.states = {farm::v1::SWEEP_STATE_QUEUED};
  unfinished.limit = 1000;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Sweep> sweeps, store_->ListSweeps(unfinished));
  int adopted = 0;
  for (const farm::v1::Sweep& summary : sweeps) {
    {
      absl::MutexLock lock(&mu_);
      if (active_.count(summary.sweep_id())) continue;
    }
    ASSIGN_OR_RETURN(farm::v1::Sweep sweep, store_->GetSweep(summary.sweep_id(), false));
    absl::MutexLock lock(&mu_);
    if (active_.count(sweep.sweep_id()) || SweepFinished(sweep.state())) continue;
    FARM_LOG(INFO) << "running sweep " << sweep.sweep_id() << ", started on another replica";
    active_[sweep.sweep_id()] = std::move(sweep);
    ++adopted;
  }
  return adopted;
}

absl::StatusOr<int> Scheduler::ApplyCancelRequests() {
  ASSIGN_OR_RETURN(const std::vector<store::CancelRequest> requests, store_->CancelRequests());
  int cancelled = 0;
  for (const store::CancelRequest& request : requests) {
    bool active;
    {
      absl::MutexLock lock(&mu_);
      active = active_.count(request.sweep_id) > 0;
    }
    if (active) {
      // Not forgotten unless written: the next round asks again.
      RETURN_IF_ERROR(CancelSweep(request.sweep_id, request.reason, request.requested_by).status());
      ++cancelled;
    } else {
      absl::StatusOr<farm::v1::Sweep> stored = store_->GetSweep(request.sweep_id, false);
      if (stored.ok() && !SweepFinished(stored->state())) continue;  // not adopted yet
    }
    RETURN_IF_ERROR(store_->ForgetCancelRequest(request.sweep_id));
  }
  return cancelled;
}

void Scheduler::StepDown() {
  absl::MutexLock lock(&mu_);
  if (leading_ && !active_.empty()) {
    FARM_LOG(WARNING) << "no longer leading: " << active_.size()
                      << " unfinished sweeps left to the leader";
  }
  leading_ = false;
  active_.clear();
  running_by_device_.clear();
  busy_waits_.clear();
  unapplied_.clear();
  unwritten_sweeps_.clear();
}

absl::Status Scheduler::PublishStoredChanges(const std::vector<store::StoredChange>& changes) {
  std::set<std::string> watched;
  {
    absl::MutexLock lock(&mu_);
    if (leading_) return absl::OkStatus();  // the leader announced them itself
    for (const auto& [id, watcher] : watchers_) watched.insert(watcher.first);
  }
  // Tasks first: a watcher's stream ends with the summary of a sweep that ended.
  std::vector<const store::StoredChange*> ordered;
  for (const store::StoredChange& change : changes) {
    if (change.kind == "task") ordered.push_back(&change);
  }
  for (const store::StoredChange& change : changes) {
    if (change.kind == "sweep") ordered.push_back(&change);
  }
  for (const store::StoredChange* next : ordered) {
    const store::StoredChange& change = *next;
    if (change.kind == "task" && watched.count(change.parent)) {
      ASSIGN_OR_RETURN(farm::v1::Task task, store_->GetTask(change.id));
      task.clear_benchmark();  // results are read with GetSweep
      absl::MutexLock lock(&mu_);
      PublishTaskLocked(task);
    } else if (change.kind == "sweep" && watched.count(change.id)) {
      farm::v1::WatchSweepResponse event;
      *event.mutable_time() = ToProtoTimestamp(clock_->Now());
      ASSIGN_OR_RETURN(*event.mutable_sweep(), store_->GetSweep(change.id, false));
      event.mutable_sweep()->clear_tasks();
      absl::MutexLock lock(&mu_);
      PublishLocked(change.id, event);
    }
  }
  return absl::OkStatus();
}

std::string Scheduler::CancelAbandoned(const AbandonedAttempt& attempt) {
  constexpr char kAbandoned[] = "abandoned: controller restarted";
  if (attempt.agent_address.empty()) return absl::StrCat(kAbandoned, "; the device has no agent");
  absl::StatusOr<farm::v1::GetStatusResponse> status = agents_->GetStatus(attempt.agent_address);
  if (!status.ok()) {
    return absl::StrCat(kAbandoned, "; the agent did not answer: ", status.status().message());
  }
  if (status->busy_job().attempt_id() != attempt.attempt_id) {
    return absl::StrCat(kAbandoned, "; the agent was no longer running it");
  }
  const absl::Status cancelled = agents_->Cancel(attempt.agent_address, attempt.attempt_id);
  if (!cancelled.ok()) {
    return absl::StrCat(kAbandoned, "; cancelling it on the agent failed: ", cancelled.message());
  }
  return absl::StrCat(kAbandoned, "; the agent cancelled the job");
}

absl::StatusOr<farm::v1::Sweep> Scheduler::StartSweep(const farm::v1::StartSweepRequest& request,
                                                      const std::string& by) {
  RETURN_IF_ERROR(ValidateSweepSpec(request.spec()));
  const std::vector<farm::v1::Device> matched = fleet_->List(request.spec().selector());
  if (matched.empty()) {
    return absl::FailedPreconditionError(
        "spec.selector matches no device: check the labels with ListDevices");
  }
  std::vector<std::string> ids;
  std::vector<std::string> why_not;
  for (const farm::v1::Device& d : matched) {
    absl::Status ok = Schedulable(d, request.spec(), clock_->Now());
    if (ok.ok() || d.state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE) {
      // Offline devices keep their tasks waiting; they may come back.
      if (ok.ok()) ids.push_back(d.device_id());
    }
    if (!ok.ok()) why_not.push_back(std::string(ok.message()));
  }
  if (ids.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("all ", matched.size(),
                     " matching devices are unavailable: ", absl::StrJoin(why_not, "; ")));
  }
  absl::MutexLock lock(&mu_);
  if (!request.request_id().empty()) {
    auto known = request_ids_.find(request.request_id());
    if (known != request_ids_.end()) {
      auto it = active_.find(known->second);
      if (it != active_.end()) return it->second;
      return store_->GetSweep(known->second, false);
    }
  }
  const absl::Time now = clock_->Now();
  farm::v1::Sweep sweep;
  sweep.set_sweep_id(absl::StrCat("sweep-",
                                  absl::FormatTime("%Y%m%d-%H%M%S", now, absl::UTCTimeZone()), "-",
                                  absl::ToUnixNanos(now) % 100000, "-", next_sweep_++));
  *sweep.mutable_spec() = request.spec();
  sweep.set_state(farm::v1::SWEEP_STATE_QUEUED);
  *sweep.mutable_created_at() = ToProtoTimestamp(now);
  sweep.set_started_by(by);
  for (const std::string& id : ids) sweep.add_device_ids(id);
  for (farm::v1::Task& task : ExpandTasks(sweep.sweep_id(), request.spec(), ids)) {
    *sweep.add_tasks() = std::move(task);
  }
  SummarizeSweep(sweep.tasks(), now, &sweep);
  RETURN_IF_ERROR(store_->CreateSweep(sweep));
  if (!request.request_id().empty()) request_ids_[request.request_id()] = sweep.sweep_id();
  if (!leading_) {
    // Stored, it is the leader's to run (AdoptNewSweeps).
    FARM_LOG(INFO) << "sweep " << sweep.sweep_id() << ": " << sweep.tasks_size()
                   << " tasks, stored for the leader";
    return sweep;
  }
  active_[sweep.sweep_id()] = sweep;
  // Created with its tasks; a summary refused now is written again by Dispatch.
  UpdateSweepLocked(&active_[sweep.sweep_id()]).IgnoreError();  // logged
  FARM_LOG(INFO) << "sweep " << sweep.sweep_id() << ": " << sweep.tasks_size() << " tasks on "
                 << ids.size() << " devices";
  return active_[sweep.sweep_id()];
}

absl::StatusOr<farm::v1::Sweep> Scheduler::GetSweep(const std::string& sweep_id,
                                                    bool include_results) {
  if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id is required");
  return store_->GetSweep(sweep_id, include_results);
}

absl::StatusOr<std::vector<farm::v1::Sweep>> Scheduler::ListSweeps(
    const store::SweepListQuery& query) {
  return store_->ListSweeps(query);
}

std::vector<Scheduler::Candidate> Scheduler::DueTasksLocked(absl::Time now) {
  std::vector<Candidate> candidates;
  for (auto& [id, sweep] : active_) {
    if (SweepFinished(sweep.state())) continue;
    const absl::Time created = FromProtoTimestamp(sweep.created_at());
    const double age_bonus = absl::FDivDuration(now - created, options_.priority_aging);
    for (farm::v1::Task& task : *sweep.mutable_tasks()) {
      if (task.state() != farm::v1::TASK_STATE_PENDING &&
          task.state() != farm::v1::TASK_STATE_WAITING) {
        continue;
      }
      if (task.has_next_attempt_at() && FromProtoTimestamp(task.next_attempt_at()) > now) continue;
      candidates.push_back({sweep.spec().priority() + age_bonus, created, &task, &sweep});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     if (a.priority != b.priority) return a.priority > b.priority;
                     return a.created < b.created;
                   });
  return candidates;
}

std::string Scheduler::WaitReasonLocked(const Candidate& candidate,
                                        const absl::StatusOr<farm::v1::Device>& device,
                                        const std::map<std::string, int>& running_in_sweep) {
  const farm::v1::Task& task = *candidate.task;
  const farm::v1::SweepSpec& spec = candidate.sweep->spec();
  if (!device.ok()) return absl::StrCat("waiting: device ", task.device_id(), " unknown");
  if (absl::Status ok = Schedulable(*device, spec, clock_->Now()); !ok.ok()) {
    return absl::StrCat("waiting: ", ok.message());
  }
  if (running_by_device_.count(task.device_id())) {
    return absl::StrCat("waiting: device ", task.device_id(), " busy");
  }
  if (device->busy_job().agent_initiated()) {
    // Its own boot check at start-up: dispatching now would only be refused busy.
    return absl::StrCat("waiting: the agent on ", task.device_id(), " runs its own job ",
                        device->busy_job().attempt_id());
  }
  auto in_sweep = running_in_sweep.find(candidate.sweep->sweep_id());
  const int running_here = in_sweep == running_in_sweep.end() ? 0 : in_sweep->second;
  if (static_cast<int>(running_by_device_.size()) >= options_.max_parallel ||
      (spec.max_parallel() > 0 && running_here >= static_cast<int>(spec.max_parallel()))) {
    return "waiting: parallelism limit";
  }
  return "";
}

std::optional<Scheduler::Attempt> Scheduler::StartAttemptLocked(const Candidate& candidate,
                                                                const std::string& address,
                                                                absl::Time now) {
  farm::v1::Task running = *candidate.task;
  const bool first = running.attempts() == 0;
  running.set_attempts(running.attempts() + 1);
  running.set_attempt_id(absl::StrCat(running.task_id(), "/a", running.attempts()));
  running.set_state(farm::v1::TASK_STATE_RUNNING);
  running.set_status(absl::StrCat("running on ", running.device_id()));
  *running.mutable_started_at() = ToProtoTimestamp(now);
  running.clear_next_attempt_at();
  // Written down (the attempt and the task running it, together) before anything
  // is sent to the agent; nothing is sent when it can't be.
  if (absl::Status recorded = store_->RecordAttempt(running); !recorded.ok()) {
    StoreRefusedLocked("attempt " + running.attempt_id(), recorded).IgnoreError();  // logged
    return std::nullopt;
  }
  store_backoff_.Reset();
  farm::v1::Task& task = *candidate.task;
  task = std::move(running);
  PublishTaskLocked(task);
  running_by_device_[task.device_id()] = {task.sweep_id(), task.task_id()};
  fleet_->SetBusy(task.device_id(), true).IgnoreError();  // in memory only: can't fail
  if (options_.observer != nullptr && first) {
    options_.observer->FirstDispatched(task.kind(),
                                       now - FromProtoTimestamp(candidate.sweep->created_at()));
  }
  return Attempt{task, task.attempt_id(), address, candidate.sweep->spec()};
}

int Scheduler::Dispatch() {
  std::vector<Attempt> started;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    // While the database refuses writes nothing new starts; what it refused before
    // is written first.
    if (now < store_retry_at_ || !RetryUnwrittenLocked()) return 0;
    std::map<std::string, int> running_in_sweep;
    for (const auto& [device, running] : running_by_device_) ++running_in_sweep[running.sweep_id];
    std::set<farm::v1::Sweep*> touched;
    for (const Candidate& candidate : DueTasksLocked(now)) {
      farm::v1::Task& task = *candidate.task;
      const absl::StatusOr<farm::v1::Device> device = fleet_->Get(task.device_id());
      const std::string waiting = WaitReasonLocked(candidate, device, running_in_sweep);
      if (!waiting.empty()) {
        if (task.status() != waiting) {
          farm::v1::Task updated = task;
          updated.set_state(farm::v1::TASK_STATE_WAITING);
          updated.set_status(waiting);
          if (!CommitTaskLocked(&task, std::move(updated)).ok()) break;
        }
        continue;
      }
      std::optional<Attempt> attempt = StartAttemptLocked(candidate, device->agent_address(), now);
      if (!attempt.has_value()) break;  // the database refused: try again later
      started.push_back(*std::move(attempt));
      ++running_in_sweep[candidate.sweep->sweep_id()];
      touched.insert(candidate.sweep);
    }
    // One summary write per sweep, not per task: a sweep of 10,000 tasks would
    // otherwise recount itself 10,000 times.
    for (farm::v1::Sweep* sweep : touched) UpdateSweepLocked(sweep).IgnoreError();  // logged
  }
  for (Attempt& attempt : started) {
    executor_([this, attempt = std::move(attempt)]() mutable { RunAttempt(std::move(attempt)); });
  }
  return static_cast<int>(started.size());
}

bool Scheduler::RetryUnwrittenLocked() {
  while (!unapplied_.empty()) {
    Outcome& next = unapplied_.front();
    if (!ApplyOutcomeLocked(next.attempt, next.outcome).ok()) return false;
    unapplied_.pop_front();
  }
  const std::set<std::string> unwritten = unwritten_sweeps_;
  for (const std::string& sweep_id : unwritten) {
    auto sweep = active_.find(sweep_id);
    if (sweep == active_.end()) {
      unwritten_sweeps_.erase(sweep_id);
      continue;
    }
    if (!UpdateSweepLocked(&sweep->second).ok()) return false;
    if (SweepFinished(sweep->second.state())) active_.erase(sweep);
  }
  store_backoff_.Reset();
  return true;
}

void Scheduler::ReportProgress(const Attempt& attempt, const farm::v1::Progress& progress) {
  absl::MutexLock lock(&mu_);
  farm::v1::Task* task = FindTaskLocked(attempt.task.sweep_id(), attempt.task.task_id());
  if (task == nullptr || task->attempt_id() != attempt.attempt_id) return;
  *task->mutable_progress() = progress;
  farm::v1::WatchSweepResponse event;
  *event.mutable_time() = ToProtoTimestamp(clock_->Now());
  *event.mutable_task() = *task;
  PublishLocked(task->sweep_id(), event);
}

absl::StatusOr<farm::v1::Task> Scheduler::Measure(const Attempt& attempt,
                                                  const ProgressCallback& on_progress) {
  // Checked at StartSweep; checked again for a sweep stored before that check.
  ASSIGN_OR_RETURN(const absl::Duration deadline,
                   TaskDeadline(attempt.spec, options_.default_task_deadline));
  // A job's own deadline, and a little longer for its stream to bring the result.
  const absl::Duration call_deadline = deadline + absl::Seconds(30);
  const uint32_t repetitions = std::max<uint32_t>(1, attempt.spec.repetitions());
  farm::v1::Task done = attempt.task;
  switch (attempt.task.kind()) {
    case farm::v1::STEP_KIND_CAPABILITY: {
      ASSIGN_OR_RETURN(
          *done.mutable_capability(),
          agents_->GetCapability(attempt.address, options_.capability_boot_check, deadline));
      return done;
    }
    case farm::v1::STEP_KIND_BENCHMARK: {
      farm::v1::RunBenchmarkRequest request;
      request.set_attempt_id(attempt.attempt_id);
      request.set_mode(attempt.task.mode());
      *request.mutable_workloads() = attempt.task.workloads();
      request.set_repetitions(repetitions);
      *request.mutable_conditions() = attempt.spec.conditions();
      *request.mutable_guest() = attempt.spec.plan().guest();
      *request.mutable_deadline() = ToProtoDuration(deadline);
      ASSIGN_OR_RETURN(*done.mutable_benchmark(),
                       agents_->RunBenchmark(attempt.address, request, call_deadline, on_progress));
      return done;
    }
    case farm::v1::STEP_KIND_BOOT: {
      farm::v1::BootVmRequest request;
      request.set_attempt_id(attempt.attempt_id);
      request.set_accel(attempt.task.boot().accel());
      request.set_vm_count(attempt.task.boot().vm_count());
      request.set_measure_switch_latency(attempt.task.boot().measure_switch_latency());
      *request.mutable_guest() = attempt.spec.plan().guest();
      request.set_repetitions(repetitions);
      *request.mutable_deadline() = ToProtoDuration(deadline);
      ASSIGN_OR_RETURN(*done.mutable_boot_result(),
                       agents_->BootVm(attempt.address, request, call_deadline, on_progress));
      return done;
    }
    default:
      return absl::InternalError("task of unknown kind");
  }
}

void Scheduler::RunAttempt(Attempt attempt) {
  absl::StatusOr<farm::v1::Task> outcome = Measure(
      attempt,
      [this, &attempt](const farm::v1::Progress& progress) { ReportProgress(attempt, progress); });
  Complete(attempt, std::move(outcome));
}

absl::Status Scheduler::StoreResultLocked(const Attempt& attempt, farm::v1::Task done,
                                          absl::Time now, farm::v1::Task* task) {
  const std::string& device_id = attempt.task.device_id();
  done.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  done.set_status(
      done.has_benchmark() && !done.benchmark().succeeded()
          ? absl::StrCat("measured, with a failure: ", done.benchmark().failure_reason())
      : done.has_boot_result() && !done.boot_result().succeeded()
          ? absl::StrCat("measured, with a failure: ", done.boot_result().failure_reason())
          : "done");
  done.clear_progress();
  *done.mutable_finished_at() = ToProtoTimestamp(now);
  if (done.has_benchmark()) {
    // The matrix's intervals, computed once here rather than at every query;
    // without the device's stored figures, against this result's own.
    absl::StatusOr<std::vector<store::StoredSummary>> latest = store_->LatestSummaries({device_id});
    matrix::AttachGuestIntervals(latest.ok() ? *latest : std::vector<store::StoredSummary>(),
                                 done.task_id(), done.mutable_benchmark());
  }
  const absl::StatusOr<bool> stored = store_->StoreTaskResult(done, attempt.attempt_id);
  if (!stored.ok())
    return StoreRefusedLocked("the result of " + attempt.attempt_id, stored.status());
  busy_waits_.erase(task->task_id());
  FinishAttemptLocked(attempt.attempt_id, *stored ? "result stored" : "result not stored",
                      done.has_benchmark() ? done.benchmark().log() : "");
  if (*stored && options_.on_result_stored) options_.on_result_stored(device_id);
  LogUnwritten(fleet_->RecordSuccess(device_id), "device health");
  if (*stored && attempt.spec.health_check()) {
    LogUnwritten(fleet_->HealthCheckPassed(device_id, done.sweep_id()), "health check");
  }
  if (*stored) {
    if (done.has_capability()) {
      const absl::StatusOr<farm::v1::Device> before = fleet_->Get(device_id);
      const absl::Status updated = fleet_->UpdateCapability(device_id, done.capability());
      if (updated.ok() && before.ok() && options_.on_verdict_stored) {
        options_.on_verdict_stored(device_id, before->capability().verdict(),
                                   done.capability().verdict(), done.sweep_id());
      }
      LogUnwritten(updated, "device capability");
    }
    LogUnwritten(fleet_->RecordResult(done), "device history");
  }
  *task = std::move(done);
  PublishTaskLocked(*task);
  return absl::OkStatus();
}

void Scheduler::FinishAttemptLocked(const std::string& attempt_id, const std::string& outcome,
                                    const std::string& console_log) {
  // The attempt's evidence: when it can't be written the task goes on regardless
  // (its own state is written), and the log says what was lost.
  LogUnwritten(store_->FinishAttempt(attempt_id, outcome, console_log),
               absl::StrCat("outcome of attempt ", attempt_id, " (", outcome, ")"));
}

bool Scheduler::PatientWithBusyAgentLocked(const std::string& task_id, absl::Time now) {
  const BusyWait& wait = busy_waits_.try_emplace(task_id, BusyWait{now, 0}).first->second;
  return now - wait.since <= options_.agent_busy_patience;
}

absl::Status Scheduler::WaitForBusyAgentLocked(const Attempt& attempt, const absl::Status& error,
                                               absl::Time now, farm::v1::Task* task) {
  const std::string reason(error.message());
  farm::v1::Task updated = *task;
  updated.set_state(farm::v1::TASK_STATE_WAITING);
  updated.set_status(absl::StrCat("waiting for the agent, asking again in ",
                                  absl::FormatDuration(options_.agent_busy_retry), ": ", reason));
  *updated.mutable_next_attempt_at() = ToProtoTimestamp(now + options_.agent_busy_retry);
  updated.clear_progress();
  RETURN_IF_ERROR(CommitTaskLocked(task, std::move(updated)));
  ++busy_waits_[task->task_id()].tries;
  FinishAttemptLocked(attempt.attempt_id, absl::StrCat("agent busy: ", reason), "");
  return absl::OkStatus();
}

absl::Status Scheduler::RecordFailureLocked(const Attempt& attempt, const absl::Status& error,
                                            absl::Time now, farm::v1::Task* task) {
  // Not a failure at all: the agent was busy and never ran it.
  if (IsAgentBusy(error) && PatientWithBusyAgentLocked(task->task_id(), now)) {
    return WaitForBusyAgentLocked(attempt, error, now, task);
  }
  // Tries the agent was busy for don't count (the wait's record stays until the
  // task ends, so its patience runs from the first busy answer).
  auto busy = busy_waits_.find(task->task_id());
  const int tries =
      static_cast<int>(task->attempts() - (busy == busy_waits_.end() ? 0 : busy->second.tries));
  const std::string reason(error.message());
  // The agent refused the request itself: trying again can't help, and the device
  // is not at fault.
  const bool refused = IsAgentRefusal(error);
  // One word for one thing: the attempt's outcome says what the task's status says.
  const std::string outcome =
      absl::StrCat(refused ? "refused by the agent: " : "infrastructure error: ", reason);
  farm::v1::Task updated = *task;
  if (refused || tries >= options_.retry_budget) {
    updated.set_state(farm::v1::TASK_STATE_FAILED);
    updated.set_status(refused ? outcome
                               : absl::StrCat("failed after ", tries, " attempts: ", reason));
    *updated.mutable_finished_at() = ToProtoTimestamp(now);
  } else {
    const absl::Duration wait = backoff_.ForRetry(tries);
    if (options_.observer != nullptr) options_.observer->Retried(task->kind());
    updated.set_state(farm::v1::TASK_STATE_WAITING);
    updated.set_status(
        absl::StrCat("retrying in ", absl::FormatDuration(wait), " after: ", reason));
    *updated.mutable_next_attempt_at() = ToProtoTimestamp(now + wait);
  }
  updated.clear_progress();
  RETURN_IF_ERROR(CommitTaskLocked(task, std::move(updated)));
  if (TaskFinished(task->state())) busy_waits_.erase(task->task_id());
  FinishAttemptLocked(attempt.attempt_id, outcome, "");
  if (!refused)
    LogUnwritten(fleet_->RecordFailure(attempt.task.device_id(), reason), "device health");
  if (attempt.spec.health_check() && task->state() == farm::v1::TASK_STATE_FAILED) {
    LogUnwritten(fleet_->HealthCheckFailed(attempt.task.device_id(), attempt.task.sweep_id(),
                                           task->status()),
                 "health check");
  }
  return absl::OkStatus();
}

void Scheduler::Complete(const Attempt& attempt, absl::StatusOr<farm::v1::Task> outcome) {
  absl::MutexLock lock(&mu_);
  if (options_.observer != nullptr) {
    options_.observer->AttemptEnded(attempt.task.kind(),
                                    clock_->Now() - FromProtoTimestamp(attempt.task.started_at()));
    if (!outcome.ok() && !IsAgentBusy(outcome.status())) {
      options_.observer->AgentCallFailed(outcome.status().code());
    }
  }
  const std::string& device_id = attempt.task.device_id();
  auto running = running_by_device_.find(device_id);
  if (running != running_by_device_.end() && running->second.task_id == attempt.task.task_id()) {
    running_by_device_.erase(running);
  }
  fleet_->SetBusy(device_id, false).IgnoreError();  // in memory only: can't fail
  // An outcome the database refuses waits, in order, behind any before it: its
  // task stays running (as stored), nothing is announced, and Dispatch writes it
  // again later; no thread waits for the database under this lock.
  if (!unapplied_.empty() || !ApplyOutcomeLocked(attempt, outcome).ok()) {
    unapplied_.push_back({attempt, std::move(outcome)});
  }
}

absl::Status Scheduler::ApplyOutcomeLocked(const Attempt& attempt,
                                           const absl::StatusOr<farm::v1::Task>& outcome) {
  farm::v1::Task* task = FindTaskLocked(attempt.task.sweep_id(), attempt.task.task_id());
  if (task == nullptr || task->attempt_id() != attempt.attempt_id ||
      task->state() != farm::v1::TASK_STATE_RUNNING) {
    // A late answer of an abandoned or cancelled attempt: not stored.
    FinishAttemptLocked(attempt.attempt_id, "late: the task had moved on", "");
    return absl::OkStatus();
  }
  const absl::Time now = clock_->Now();
  RETURN_IF_ERROR(outcome.ok() ? StoreResultLocked(attempt, *outcome, now, task)
                               : RecordFailureLocked(attempt, outcome.status(), now, task));
  // The task is written; a sweep summary the database refuses is written again by
  // Dispatch (and the sweep stays active until it is).
  auto sweep = active_.find(attempt.task.sweep_id());
  if (sweep != active_.end() && UpdateSweepLocked(&sweep->second).ok() &&
      SweepFinished(sweep->second.state())) {
    active_.erase(sweep);
  }
  return absl::OkStatus();
}

absl::StatusOr<farm::v1::Sweep> Scheduler::CancelSweep(const std::string& sweep_id,
                                                       const std::string& reason,
                                                       const std::string& by) {
  bool follower;
  {
    absl::MutexLock lock(&mu_);
    follower = !leading_;
  }
  if (follower) {
    ASSIGN_OR_RETURN(const farm::v1::Sweep stored, store_->GetSweep(sweep_id, false));
    if (!SweepFinished(stored.state())) return AskLeaderToCancel(sweep_id, reason, by);
  }
  std::vector<AgentJob> to_cancel;
  absl::Status written;
  farm::v1::Sweep result;
  {
    absl::MutexLock lock(&mu_);
    auto it = active_.find(sweep_id);
    if (it == active_.end()) {
      ASSIGN_OR_RETURN(const farm::v1::Sweep stored, store_->GetSweep(sweep_id, false));
      return absl::FailedPreconditionError(absl::StrCat(
          "sweep ", sweep_id, " already ended (", farm::v1::SweepState_Name(stored.state()), ")"));
    }
    farm::v1::Sweep& sweep = it->second;
    for (farm::v1::Task& task : *sweep.mutable_tasks()) {
      if (TaskFinished(task.state())) continue;
      const bool was_running = task.state() == farm::v1::TASK_STATE_RUNNING;
      farm::v1::Task cancelled = task;
      cancelled.set_state(farm::v1::TASK_STATE_CANCELLED);
      cancelled.set_status("cancelled");
      written = CommitTaskLocked(&task, std::move(cancelled));
      if (!written.ok()) break;
      // Only a cancel that is written reaches the agent.
      absl::StatusOr<farm::v1::Device> device = fleet_->Get(task.device_id());
      if (was_running && device.ok())
        to_cancel.push_back({device->agent_address(), task.attempt_id()});
    }
    if (written.ok()) {
      // Meant even when its summary can't be written yet: Dispatch writes it later.
      sweep.set_state(farm::v1::SWEEP_STATE_CANCELLED);
      sweep.set_reason(reason.empty() ? "cancelled by an operator" : reason);
      sweep.set_cancelled_by(by);
      written = UpdateSweepLocked(&sweep);
    }
    if (written.ok()) {
      result = sweep;
      active_.erase(it);
    }
  }
  CancelOnAgents(to_cancel);
  if (!written.ok()) return written;
  return result;
}

absl::StatusOr<farm::v1::Sweep> Scheduler::AskLeaderToCancel(const std::string& sweep_id,
                                                             const std::string& reason,
                                                             const std::string& by) {
  RETURN_IF_ERROR(store_->RequestCancel({sweep_id, reason, by, absl::ToUnixNanos(clock_->Now())}));
  FARM_LOG(INFO) << "sweep " << sweep_id << ": cancel asked of the leader";
  // The leader acts within a second or two; the store is polled, as the answer
  // must be the sweep as it ended.
  const absl::Time deadline = absl::Now() + options_.cancel_patience;
  while (true) {
    ASSIGN_OR_RETURN(farm::v1::Sweep stored, store_->GetSweep(sweep_id, false));
    if (SweepFinished(stored.state())) return stored;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::UnavailableError(absl::StrCat(
      "sweep ", sweep_id, ": the cancel is recorded, but no leader acted on it within ",
      absl::FormatDuration(options_.cancel_patience),
      "; the leader will when there is one (farmctl controllers)"));
}

void Scheduler::CancelOnAgents(const std::vector<AgentJob>& jobs) {
  // One unresponsive agent (a cancel waits out its deadline) must not hold up the
  // others: several at once, bounded.
  constexpr size_t kParallelCancels = 16;
  std::atomic<size_t> next{0};
  auto cancel_some = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      const absl::Status cancelled = agents_->Cancel(jobs[i].agent_address, jobs[i].attempt_id);
      if (!cancelled.ok()) {
        FARM_LOG(WARNING) << "cancelling " << jobs[i].attempt_id << " on " << jobs[i].agent_address
                          << ": " << cancelled.message();
      }
    }
  };
  std::vector<std::thread> workers;
  for (size_t i = 1; i < std::min(kParallelCancels, jobs.size()); ++i) {
    workers.emplace_back(cancel_some);
  }
  cancel_some();
  for (std::thread& worker : workers) worker.join();
}

int Scheduler::Watch(const std::string& sweep_id,
                     std::function<void(const farm::v1::WatchSweepResponse&)> on_event) {
  absl::MutexLock lock(&mu_);
  const int id = next_watch_++;
  watchers_[id] = {sweep_id, std::move(on_event)};
  return id;
}

void Scheduler::Unwatch(int watch_id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watch_id);
}

void Scheduler::Shutdown() {
  std::vector<AgentJob> running;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [device, running_task] : running_by_device_) {
      farm::v1::Task* task = FindTaskLocked(running_task.sweep_id, running_task.task_id);
      absl::StatusOr<farm::v1::Device> d = fleet_->Get(device);
      if (task != nullptr && d.ok()) running.push_back({d->agent_address(), task->attempt_id()});
    }
  }
  // The tasks stay RUNNING in the store: a restarted controller resumes them.
  CancelOnAgents(running);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&threads_mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace kvmfarm::scheduler
