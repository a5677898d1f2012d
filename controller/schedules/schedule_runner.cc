#include "controller/schedules/schedule_runner.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "controller/scheduler/sweep_plan.h"
#include "controller/schedules/cron.h"
#include "proto/states.h"

namespace kvmfarm::schedules {
namespace {

// Where a cron that never comes again puts its next run: far off, yet within what
// int64 nanoseconds (the stores' column) can hold.
const absl::Time kNever = absl::FromUnixSeconds(7'258'118'400);  // 2200-01-01

absl::Status CheckScheduleId(const std::string& id) {
  if (id.empty() || id.size() > 63) {
    return absl::InvalidArgumentError("schedule_id must be 1-63 characters of [a-z0-9-]");
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return absl::InvalidArgumentError(
          absl::StrCat("schedule_id '", id, "' may hold only [a-z0-9-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSchedule(const farm::v1::Schedule& schedule) {
  RETURN_IF_ERROR(CheckScheduleId(schedule.schedule_id()));
  RETURN_IF_ERROR(scheduler::ValidateSweepSpec(schedule.spec()));
  switch (schedule.when_case()) {
    case farm::v1::Schedule::kEvery: {
      ASSIGN_OR_RETURN(const absl::Duration every,
                       CheckedDuration(schedule.every(), "every", absl::Hours(366 * 24)));
      if (every < kMinSchedulePeriod) {
        return absl::InvalidArgumentError(
            absl::StrCat("every ", absl::FormatDuration(every), " is outside 1m to 366 days"));
      }
      return absl::OkStatus();
    }
    case farm::v1::Schedule::kCron:
      return CronExpression::Parse(schedule.cron()).status();
    default:
      return absl::InvalidArgumentError("when is required: give every or cron");
  }
}

std::optional<absl::Time> NextRun(const farm::v1::Schedule& schedule, absl::Time after) {
  if (schedule.has_cron()) {
    absl::StatusOr<CronExpression> cron = CronExpression::Parse(schedule.cron());
    if (!cron.ok()) return std::nullopt;
    return cron->NextAfter(after);
  }
  const absl::Duration every = FromProtoDuration(schedule.every());
  if (every <= absl::ZeroDuration()) return std::nullopt;
  const absl::Time anchor = FromProtoTimestamp(schedule.created_at());
  if (after < anchor) return anchor + every;
  absl::Duration remainder;
  return anchor + every * (absl::IDivDuration(after - anchor, every, &remainder) + 1);
}

absl::StatusOr<farm::v1::Schedule> AddSchedule(store::Store& store, farm::v1::Schedule schedule,
                                               const std::string& by, absl::Time now) {
  RETURN_IF_ERROR(ValidateSchedule(schedule));
  *schedule.mutable_created_at() = ToProtoTimestamp(now);
  schedule.set_created_by(by);
  schedule.clear_last_run_at();
  schedule.clear_last_sweep_id();
  schedule.clear_last_outcome();
  schedule.set_runs(0);
  const std::optional<absl::Time> first = NextRun(schedule, now);
  if (!first) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron '", schedule.cron(), "' matches no time in the next five years"));
  }
  *schedule.mutable_next_run_at() = ToProtoTimestamp(*first);
  RETURN_IF_ERROR(store.CreateSchedule(schedule));
  FARM_LOG(INFO) << "schedule " << schedule.schedule_id() << " added by " << by << ", first run "
                 << absl::FormatTime(*first);
  return schedule;
}

absl::Status DeleteSchedule(store::Store& store, const std::string& schedule_id) {
  RETURN_IF_ERROR(CheckScheduleId(schedule_id));
  return store.DeleteSchedule(schedule_id);
}

ScheduleRunner::ScheduleRunner(store::Store* store, scheduler::Scheduler* scheduler,
                               fleet::Fleet* fleet, const Clock* clock)
    : store_(store), scheduler_(scheduler), fleet_(fleet), clock_(clock) {}

absl::StatusOr<farm::v1::Schedule> ScheduleRunner::Add(farm::v1::Schedule schedule,
                                                       const std::string& by) {
  return AddSchedule(*store_, std::move(schedule), by, clock_->Now());
}

absl::StatusOr<std::vector<farm::v1::Schedule>> ScheduleRunner::List() {
  return store_->ListSchedules();
}

absl::Status ScheduleRunner::Delete(const std::string& schedule_id) {
  return DeleteSchedule(*store_, schedule_id);
}

absl::Status ScheduleRunner::EnsureDefaultHealthCheck(absl::Duration every) {
  if (every <= absl::ZeroDuration()) return absl::OkStatus();
  farm::v1::Schedule check;
  check.set_schedule_id(kDefaultHealthCheckId);
  check.mutable_spec()->mutable_plan()->set_capability(true);
  check.mutable_spec()->set_health_check(true);
  check.mutable_spec()->set_description("health check of every device");
  *check.mutable_every() = ToProtoDuration(every);
  const absl::StatusOr<farm::v1::Schedule> added = Add(std::move(check), "farm-controller");
  if (absl::IsAlreadyExists(added.status())) return absl::OkStatus();
  return added.status();
}

int ScheduleRunner::Tick() {
  int started = 0;
  const absl::StatusOr<std::vector<farm::v1::Schedule>> schedules = store_->ListSchedules();
  if (!schedules.ok()) {
    FARM_LOG(WARNING) << "schedules not read: " << schedules.status();
  } else {
    const absl::Time now = clock_->Now();
    for (const farm::v1::Schedule& schedule : *schedules) {
      if (RunIfDue(schedule, now)) ++started;
    }
  }
  return started + StartDueHealthChecks();
}

std::string ScheduleRunner::RunningSweepOf(const farm::v1::Schedule& schedule) {
  if (schedule.last_sweep_id().empty()) return "";
  const absl::StatusOr<farm::v1::Sweep> last =
      scheduler_->GetSweep(schedule.last_sweep_id(), false);
  return last.ok() && !SweepFinished(last->state()) ? schedule.last_sweep_id() : "";
}

bool ScheduleRunner::RunIfDue(const farm::v1::Schedule& schedule, absl::Time now) {
  const absl::Time due = FromProtoTimestamp(schedule.next_run_at());
  if (due > now) return false;
  farm::v1::Schedule run = schedule;
  *run.mutable_next_run_at() = ToProtoTimestamp(NextRun(schedule, now).value_or(kNever));
  *run.mutable_last_run_at() = ToProtoTimestamp(now);
  const std::string running = RunningSweepOf(schedule);
  run.set_last_outcome(
      running.empty() ? "starting"
                      : absl::StrCat("skipped: the previous run, ", running, ", has not ended"));
  // The claim is written first: a run the database did not take is not started,
  // and a run another leader took is not started twice.
  const absl::StatusOr<bool> claimed = store_->AdvanceSchedule(run, absl::ToUnixNanos(due));
  if (!claimed.ok()) {
    FARM_LOG(WARNING) << "schedule " << schedule.schedule_id()
                      << ": run not claimed, not started: " << claimed.status();
    return false;
  }
  if (!*claimed || !running.empty()) return false;
  farm::v1::StartSweepRequest request;
  *request.mutable_spec() = schedule.spec();
  if (request.spec().description().empty()) {
    request.mutable_spec()->set_description(absl::StrCat("schedule ", schedule.schedule_id()));
  }
  const absl::StatusOr<farm::v1::Sweep> sweep =
      scheduler_->StartSweep(request, absl::StrCat("schedule/", schedule.schedule_id()));
  run.set_runs(schedule.runs() + 1);
  if (sweep.ok()) {
    run.set_last_sweep_id(sweep->sweep_id());
    run.set_last_outcome(absl::StrCat("started ", sweep->sweep_id()));
  } else {
    run.set_last_outcome(absl::StrCat("not started: ", sweep.status().message()));
  }
  FARM_LOG(INFO) << "schedule " << schedule.schedule_id() << ": " << run.last_outcome();
  const absl::StatusOr<bool> recorded =
      store_->AdvanceSchedule(run, absl::ToUnixNanos(FromProtoTimestamp(run.next_run_at())));
  if (!recorded.ok() || !*recorded) {
    FARM_LOG(WARNING) << "schedule " << schedule.schedule_id() << ": outcome '"
                      << run.last_outcome() << "' not recorded: "
                      << (recorded.ok() ? "the schedule changed" : recorded.status().ToString());
  }
  return sweep.ok();
}

int ScheduleRunner::StartDueHealthChecks() {
  int started = 0;
  for (const auto& [device_id, reason] : fleet_->HealthChecksDue()) {
    farm::v1::StartSweepRequest request;
    request.mutable_spec()->mutable_selector()->add_device_ids(device_id);
    request.mutable_spec()->mutable_plan()->set_capability(true);
    request.mutable_spec()->set_health_check(true);
    request.mutable_spec()->set_description(absl::StrCat("health check: ", reason));
    const absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(request, "health-check");
    // Not started (offline, reserved, in maintenance): still due, tried again on
    // the next tick, so the device is checked once it can be.
    if (!sweep.ok()) continue;
    ++started;
    const std::string outcome = absl::StrCat("started ", sweep->sweep_id());
    const absl::Status cleared = fleet_->ClearHealthCheckDue(device_id, reason, outcome);
    if (!cleared.ok()) {
      FARM_LOG(WARNING) << "health check of " << device_id << " (" << outcome
                        << ") not recorded: " << cleared;
    }
  }
  return started;
}

}  // namespace kvmfarm::schedules
