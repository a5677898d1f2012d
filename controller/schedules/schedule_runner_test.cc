#include "controller/schedules/schedule_runner.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::schedules {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

// A controller as the leader runs it: store, fleet, scheduler and schedule runner,
// with attempts queued until the test runs them. Destroying it and making another
// on the same database file is a controller restart.
struct Controller {
  Controller(const std::string& db, FakeClock* clock, scheduler::FakeAgentClient* agents) {
    store = *store::SqliteStore::Open(db);
    fleet::FleetOptions fleet_options;
    fleet_options.quarantine_after = 3;
    fleet_options.max_quarantined_fraction = 0.5;
    fleet = std::make_unique<fleet::Fleet>(store.get(), clock, fleet_options);
    EXPECT_THAT(fleet->Load(), IsOk());
    scheduler::SchedulerOptions options;
    options.retry_budget = 1;  // each run is one try: a failing check fails at once
    scheduler = std::make_unique<scheduler::Scheduler>(
        store.get(), fleet.get(), agents, clock, options,
        [this](std::function<void()> work) { queued.push_back(std::move(work)); });
    EXPECT_THAT(scheduler->Resume(), IsOk());
    runner = std::make_unique<ScheduleRunner>(store.get(), scheduler.get(), fleet.get(), clock);
  }
  ~Controller() { scheduler->Shutdown(); }

  void Register(const std::string& id, const std::string& version = "0.4.0") {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_agent()->set_version(version);
    request.set_agent_address(id + ":7420");
    ASSERT_THAT(fleet->Register(request), IsOk());
  }
  // Dispatches and runs every attempt until nothing is left to do.
  void RunSweeps() {
    while (scheduler->Dispatch() > 0) {
      std::vector<std::function<void()>> work;
      work.swap(queued);
      for (auto& w : work) w();
    }
  }
  farm::v1::HealthState Health(const std::string& id) { return fleet->Get(id)->state().health(); }
  farm::v1::Schedule Stored(const std::string& id) {
    const absl::StatusOr<std::vector<farm::v1::Schedule>> all = store->ListSchedules();
    EXPECT_THAT(all, IsOk());
    if (all.ok()) {
      for (const farm::v1::Schedule& s : *all)
        if (s.schedule_id() == id) return s;
    }
    ADD_FAILURE() << "no schedule " << id;
    return {};
  }

  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<fleet::Fleet> fleet;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<ScheduleRunner> runner;
  std::vector<std::function<void()>> queued;
};

farm::v1::Schedule HourlyHealthCheck() {
  farm::v1::Schedule schedule;
  schedule.set_schedule_id("hourly-check");
  schedule.mutable_spec()->mutable_plan()->set_capability(true);
  schedule.mutable_spec()->set_health_check(true);
  *schedule.mutable_every() = ToProtoDuration(absl::Hours(1));
  return schedule;
}

class ScheduleRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::testing::OpenScratchStore(&db_);  // a fresh file, opened again by each controller
    controller_ = std::make_unique<Controller>(db_, &clock_, &agents_);
    controller_->Register("d0");
    controller_->Register("d1");
  }
  void Restart() {
    controller_.reset();
    controller_ = std::make_unique<Controller>(db_, &clock_, &agents_);
    controller_->Register("d0");  // the agents register again
    controller_->Register("d1");
  }
  // d0's agent refuses connections for its next `n` calls.
  void BreakD0(int n) {
    for (int i = 0; i < n; ++i)
      agents_.script["d0:7420"].push_back(absl::UnavailableError("refused"));
  }

  std::string db_;
  FakeClock clock_;
  scheduler::FakeAgentClient agents_;
  std::unique_ptr<Controller> controller_;
};

// The test: a schedule fires on the injected clock, survives a controller
// restart, and quarantines the device whose check fails run after run; a passing
// check then lifts the quarantine.
TEST_F(ScheduleRunnerTest, FiresSurvivesARestartAndQuarantinesADeviceThatKeepsFailing) {
  ASSERT_THAT(controller_->runner->Add(HourlyHealthCheck(), "alice"), IsOk());
  BreakD0(3);
  EXPECT_EQ(controller_->runner->Tick(), 0);  // not due yet
  for (int run = 1; run <= 3; ++run) {
    clock_.Advance(absl::Hours(1));
    EXPECT_EQ(controller_->runner->Tick(), 1) << "run " << run;
    controller_->RunSweeps();
    const farm::v1::Schedule stored = controller_->Stored("hourly-check");
    EXPECT_EQ(stored.runs(), static_cast<uint32_t>(run));
    EXPECT_THAT(stored.last_outcome(), HasSubstr("started sweep-"));
    EXPECT_EQ(controller_->fleet->Get("d0")->consecutive_failures(), static_cast<uint32_t>(run));
    if (run == 1) Restart();  // the schedule is the database's, not the process's
  }
  EXPECT_EQ(controller_->Health("d0"), farm::v1::HEALTH_STATE_QUARANTINED);
  EXPECT_EQ(controller_->Health("d1"), farm::v1::HEALTH_STATE_GOOD);
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      controller_->store->DeviceHistory("d0", 10, std::nullopt);
  ASSERT_THAT(history, IsOk());
  std::string events;
  for (const store::StoredDeviceEvent& e : *history)
    absl::StrAppend(&events, e.event.description(), "\n");
  EXPECT_THAT(events, HasSubstr("health check failed (sweep "));
  EXPECT_THAT(events, HasSubstr("health good -> quarantined"));
  // The agent is mended: the next run reaches the quarantined device and lifts it.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(controller_->runner->Tick(), 1);
  controller_->RunSweeps();
  EXPECT_EQ(controller_->Health("d0"), farm::v1::HEALTH_STATE_GOOD);
  EXPECT_EQ(controller_->Stored("hourly-check").runs(), 4u);
}

TEST_F(ScheduleRunnerTest, NeverTwoRunsAtOnceAndAMissedDayIsOneRun) {
  ASSERT_THAT(controller_->runner->Add(HourlyHealthCheck(), "alice"), IsOk());
  const absl::Time created = clock_.Now();
  clock_.Advance(absl::Hours(1));
  ASSERT_EQ(controller_->runner->Tick(), 1);  // its sweep is still queued
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(controller_->runner->Tick(), 0);
  farm::v1::Schedule stored = controller_->Stored("hourly-check");
  EXPECT_THAT(stored.last_outcome(), HasSubstr("skipped: the previous run, sweep-"));
  EXPECT_EQ(stored.runs(), 1u);
  controller_->RunSweeps();
  // No controller led for a day: one run, and the hour stays where it was.
  clock_.Advance(absl::Hours(24) + absl::Minutes(10));
  EXPECT_EQ(controller_->runner->Tick(), 1);
  EXPECT_EQ(controller_->runner->Tick(), 0);
  stored = controller_->Stored("hourly-check");
  EXPECT_EQ(FromProtoTimestamp(stored.next_run_at()), created + absl::Hours(27));
}

TEST_F(ScheduleRunnerTest, DevicesUnderMaintenanceAreLeftOutAndARunWithNoneSaysWhy) {
  farm::v1::Schedule nightly = HourlyHealthCheck();
  nightly.mutable_spec()->mutable_selector()->add_device_ids("d0");
  ASSERT_THAT(controller_->fleet->SetHealth("d0", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"),
              IsOk());
  ASSERT_THAT(controller_->runner->Add(nightly, "alice"), IsOk());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(controller_->runner->Tick(), 0);
  const farm::v1::Schedule stored = controller_->Stored("hourly-check");
  EXPECT_THAT(stored.last_outcome(), HasSubstr("not started: all 1 matching devices are "
                                               "unavailable: device d0 is maintenance"));
  EXPECT_GT(FromProtoTimestamp(stored.next_run_at()), clock_.Now());  // tried again next hour
}

TEST_F(ScheduleRunnerTest, ANewAgentVersionGetsAHealthCheckOfItsOwn) {
  controller_->Register("d0", "0.5.0");
  EXPECT_EQ(controller_->fleet->Get("d0")->health_check_due(), "agent 0.4.0 -> 0.5.0");
  EXPECT_EQ(controller_->runner->Tick(), 1);
  EXPECT_EQ(controller_->fleet->Get("d0")->health_check_due(), "");
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps =
      controller_->scheduler->ListSweeps(store::SweepListQuery());
  ASSERT_THAT(sweeps, IsOk());
  ASSERT_EQ(sweeps->size(), 1u);
  EXPECT_TRUE((*sweeps)[0].spec().health_check());
  EXPECT_EQ((*sweeps)[0].spec().description(), "health check: agent 0.4.0 -> 0.5.0");
  EXPECT_EQ((*sweeps)[0].started_by(), "health-check");
  EXPECT_EQ(controller_->runner->Tick(), 0);  // once
}

TEST_F(ScheduleRunnerTest, AHealthCheckThatCannotStartYetStaysDue) {
  ASSERT_THAT(controller_->fleet->SetHealth("d0", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"),
              IsOk());
  controller_->Register("d0", "0.5.0");
  EXPECT_EQ(controller_->runner->Tick(), 0);
  EXPECT_EQ(controller_->fleet->Get("d0")->health_check_due(), "agent 0.4.0 -> 0.5.0");
  ASSERT_THAT(controller_->fleet->SetHealth("d0", farm::v1::HEALTH_STATE_GOOD, "reflashed"),
              IsOk());
  EXPECT_EQ(controller_->runner->Tick(), 1);
  EXPECT_EQ(controller_->fleet->Get("d0")->health_check_due(), "");
}

TEST_F(ScheduleRunnerTest, TheDefaultHealthCheckIsCreatedOnce) {
  ASSERT_THAT(controller_->runner->EnsureDefaultHealthCheck(absl::Hours(24)), IsOk());
  ASSERT_THAT(controller_->runner->EnsureDefaultHealthCheck(absl::Hours(24)), IsOk());
  absl::StatusOr<std::vector<farm::v1::Schedule>> all = controller_->runner->List();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].schedule_id(), kDefaultHealthCheckId);
  EXPECT_TRUE((*all)[0].spec().health_check());
  EXPECT_EQ(FromProtoTimestamp((*all)[0].next_run_at()), clock_.Now() + absl::Hours(24));
  ASSERT_THAT(controller_->runner->Delete(kDefaultHealthCheckId), IsOk());
  EXPECT_THAT(controller_->runner->Delete(kDefaultHealthCheckId),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ScheduleRunnerTest, BadSchedulesNameTheField) {
  farm::v1::Schedule schedule = HourlyHealthCheck();
  schedule.set_schedule_id("Nightly!");
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("schedule_id 'Nightly!'")));
  schedule = HourlyHealthCheck();
  schedule.clear_every();
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("give every or cron")));
  *schedule.mutable_every() = ToProtoDuration(absl::Seconds(10));
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("every 10s is outside")));
  schedule.set_cron("0 25 * * *");
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cron hour: 25")));
  schedule.set_cron("0 0 31 2 *");
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("matches no time")));
  schedule.set_cron("0 3 * * *");
  schedule.mutable_spec()->mutable_plan()->set_capability(false);
  EXPECT_THAT(controller_->runner->Add(schedule, "alice"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.plan")));
  schedule = HourlyHealthCheck();
  ASSERT_THAT(controller_->runner->Add(schedule, "alice"), IsOk());
  EXPECT_THAT(controller_->runner->Add(schedule, "bob"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("hourly-check")));
}

TEST(NextRunTest, EveryIsAnchoredAtCreationAndCronAtTheClock) {
  farm::v1::Schedule every;
  *every.mutable_every() = ToProtoDuration(absl::Hours(6));
  const absl::Time created = absl::FromUnixSeconds(1'000'000'000);
  *every.mutable_created_at() = ToProtoTimestamp(created);
  EXPECT_EQ(NextRun(every, created), created + absl::Hours(6));
  EXPECT_EQ(NextRun(every, created + absl::Hours(6)), created + absl::Hours(12));
  EXPECT_EQ(NextRun(every, created + absl::Hours(13)), created + absl::Hours(18));
  farm::v1::Schedule cron;
  cron.set_cron("0 3 * * *");
  EXPECT_EQ(
      NextRun(cron, absl::FromCivil(absl::CivilMinute(2026, 12, 1, 3, 0), absl::UTCTimeZone())),
      absl::FromCivil(absl::CivilMinute(2026, 12, 2, 3, 0), absl::UTCTimeZone()));
}

}  // namespace
}  // namespace kvmfarm::schedules
