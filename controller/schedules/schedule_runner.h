// -----------------------------------------------------------------------------
// File: schedule_runner.h
// -----------------------------------------------------------------------------
//
// The fleet checks itself (issue 21): recurring sweeps and health checks, stored
// in the database and run by the leader.
//  * A schedule runs every `every` (anchored at its creation, so a restart does not
//    shift it) or at the minutes of a cron expression (cron.h, UTC). A run missed
//    while no controller led is made once, not once per missed period.
//  * Each run's claim is written before its sweep starts (Store::AdvanceSchedule,
//    compare and set on the next run, fenced by the leader's epoch): a run the
//    database did not take is not started, and no two leaders start the same run.
//  * Never two runs of one schedule at once: a run whose previous sweep has not
//    ended is skipped, and says so. Devices under maintenance, retired or reserved
//    are left out as in any sweep.
//  * A device whose health_check_due is set (fleet.h: back after an absence, a new
//    agent version) gets a health-check sweep of its own.
//  * A default health check of every device, `health-check`, is created once
//    when a controller first leads (--health_check_every; 0 creates none).
//
// Example (on the leader, on a timer):
//
//   ScheduleRunner runner(store, &scheduler, &fleet, &clock);
//   runner.EnsureDefaultHealthCheck(absl::Hours(24));
//   int started = runner.Tick();
#ifndef KVMFARM_CONTROLLER_SCHEDULES_SCHEDULE_RUNNER_H_
#define KVMFARM_CONTROLLER_SCHEDULES_SCHEDULE_RUNNER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::schedules {

// The id of the default health check.
inline constexpr char kDefaultHealthCheckId[] = "health-check";
// The shortest period a schedule may have.
inline constexpr absl::Duration kMinSchedulePeriod = absl::Minutes(1);

// INVALID_ARGUMENT naming the field: schedule_id ([a-z0-9-], 1-63), spec (as
// StartSweep checks it), and exactly one of every (1 min to 366 days) or cron.
absl::Status ValidateSchedule(const farm::v1::Schedule& schedule);

// The first run of `schedule` strictly after `after`: for `every`, the next
// multiple of it from created_at; none for a cron that never comes again.
std::optional<absl::Time> NextRun(const farm::v1::Schedule& schedule, absl::Time after);

// Validates `schedule`, stamps its creation (`now`, `by`) and first run, and
// stores it: ALREADY_EXISTS for a taken id.
absl::StatusOr<farm::v1::Schedule> AddSchedule(store::Store& store, farm::v1::Schedule schedule,
                                               const std::string& by, absl::Time now);
// NOT_FOUND for none, INVALID_ARGUMENT for an id that can't be one.
absl::Status DeleteSchedule(store::Store& store, const std::string& schedule_id);

class ScheduleRunner {
 public:
  ScheduleRunner(store::Store* store, scheduler::Scheduler* scheduler, fleet::Fleet* fleet,
                 const Clock* clock);

  // AddSchedule and DeleteSchedule at the runner's clock.
  absl::StatusOr<farm::v1::Schedule> Add(farm::v1::Schedule schedule, const std::string& by);
  absl::StatusOr<std::vector<farm::v1::Schedule>> List();
  absl::Status Delete(const std::string& schedule_id);
  // Creates `health-check` (every device's capability, every `every`) unless it
  // exists; nothing for a zero period.
  absl::Status EnsureDefaultHealthCheck(absl::Duration every);

  // The leader's step: starts each due schedule's run and each due health check.
  // Returns how many sweeps it started.
  int Tick();

 private:
  // Runs `schedule` if it is due at `now`; true when it started a sweep.
  bool RunIfDue(const farm::v1::Schedule& schedule, absl::Time now);
  // The previous run's sweep when it has not ended; "" otherwise.
  std::string RunningSweepOf(const farm::v1::Schedule& schedule);
  int StartDueHealthChecks();

  store::Store* const store_;
  scheduler::Scheduler* const scheduler_;
  fleet::Fleet* const fleet_;
  const Clock* const clock_;
};

}  // namespace kvmfarm::schedules

#endif  // KVMFARM_CONTROLLER_SCHEDULES_SCHEDULE_RUNNER_H_
