#include "controller/scheduler/scheduler.h"

#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/scheduler/sweep_plan.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/failing_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/agent_busy.h"

namespace kvmfarm::scheduler {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore(&path_);
    fleet_ = std::make_unique<fleet::Fleet>(store_.get(), &clock_, fleet::FleetOptions());
    for (const char* id : {"d0", "d1", "d2"}) AddDevice(id);
    scheduler_ = MakeScheduler();
  }

  std::unique_ptr<Scheduler> MakeScheduler() {
    SchedulerOptions options;
    options.backoff_base = absl::Seconds(1);
    options.retry_budget = 3;
    // Attempts wait in a queue until the test runs them: RUNNING is observable.
    return std::make_unique<Scheduler>(
        store_.get(), fleet_.get(), &agents_, &clock_, options,
        [this](std::function<void()> work) { queued_.push_back(std::move(work)); });
  }

  void AddDevice(const std::string& id) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_identity()->set_model(id == "d2" ? "pixel7" : "pixel8");
    request.set_agent_address(id + ":7420");
    ASSERT_THAT(fleet_->Register(request), IsOk());
  }

  // Runs every queued attempt; returns how many.
  int RunQueued() {
    std::vector<std::function<void()>> work;
    work.swap(queued_);
    for (auto& w : work) w();
    return static_cast<int>(work.size());
  }

  farm::v1::StartSweepRequest Request(std::vector<std::string> devices, int priority = 0) {
    farm::v1::StartSweepRequest request;
    for (const std::string& d : devices)
      request.mutable_spec()->mutable_selector()->add_device_ids(d);
    request.mutable_spec()->mutable_plan()->set_capability(true);
    farm::v1::WorkloadSpec* w = request.mutable_spec()->mutable_plan()->add_workloads();
    w->set_name("crypto");
    w->set_size_bytes(1 << 20);
    request.mutable_spec()->mutable_plan()->add_workload_modes(farm::v1::MODE_NATIVE);
    request.mutable_spec()->set_repetitions(3);
    request.mutable_spec()->set_priority(priority);
    return request;
  }

  // A sweep of the capability step alone.
  farm::v1::StartSweepRequest CapabilityOnly(std::vector<std::string> devices) {
    farm::v1::StartSweepRequest request = Request(std::move(devices));
    request.mutable_spec()->mutable_plan()->clear_workloads();
    request.mutable_spec()->mutable_plan()->clear_workload_modes();
    return request;
  }

  farm::v1::Sweep Stored(const std::string& id) { return *store_->GetSweep(id, true); }

  std::string path_;
  FakeClock clock_;
  FakeAgentClient agents_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<fleet::Fleet> fleet_;
  std::unique_ptr<Scheduler> scheduler_;
  // A scheduler "killed" mid-sweep: kept, never asked anything again, until the
  // test is over (destroyed before what it points to).
  std::unique_ptr<Scheduler> killed_;
  std::vector<std::function<void()>> queued_;
};

TEST_F(SchedulerTest, BadSpecsNameTheFieldAndEmptySelectionsSayWhy) {
  farm::v1::StartSweepRequest request = Request({"d0"});
  request.mutable_spec()->mutable_plan()->mutable_workloads(0)->set_name("gpu");
  EXPECT_THAT(scheduler_->StartSweep(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.plan.workloads[0]")));
  // A path where an image name belongs: refused here, as the agent would refuse it.
  request = Request({"d0"});
  request.mutable_spec()->mutable_plan()->mutable_guest()->set_image("../../etc");
  EXPECT_THAT(scheduler_->StartSweep(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.plan.guest.image '../../etc' is not an image name")));
  request = Request({"d0"});
  request.mutable_spec()->mutable_plan()->clear_workload_modes();
  EXPECT_THAT(scheduler_->StartSweep(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("workload_modes")));
  EXPECT_THAT(scheduler_->StartSweep(Request({"ghost"})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("matches no device")));
  ASSERT_THAT(fleet_->SetHealth("d0", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"), IsOk());
  EXPECT_THAT(scheduler_->StartSweep(Request({"d0"})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("d0 is maintenance")));
}

// A reserved device gets no task until its reservation is released or runs out.
TEST_F(SchedulerTest, AReservedDeviceGetsNoTaskUntilItIsReleased) {
  ASSERT_THAT(fleet_->Reserve("d0", "alice", absl::Hours(2), "bisecting"), IsOk());
  EXPECT_THAT(
      scheduler_->StartSweep(CapabilityOnly({"d0"})),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("d0 is reserved by alice until")));
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0", "d1"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(sweep->tasks_size(), 1);  // d1 only
  // Reserved after the sweep started: its task waits, saying why.
  ASSERT_THAT(fleet_->Reserve("d1", "bob", absl::Minutes(30), "cable check"), IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 0);
  EXPECT_THAT(Stored(sweep->sweep_id()).tasks(0).status(),
              HasSubstr("waiting: device d1 is reserved by bob"));
  ASSERT_THAT(fleet_->Release("d1", "bob"), IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
}

// A health check runs on a quarantined device, and lifts the quarantine when it
// passes; an ordinary sweep leaves the device alone.
TEST_F(SchedulerTest, AHealthCheckRunsOnAQuarantinedDeviceAndLiftsItWhenItPasses) {
  for (const char* id : {"d3", "d4", "d5", "d6", "d7", "d8"}) AddDevice(id);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(fleet_->RecordFailure("d0", "unreachable"), IsOk());
  ASSERT_EQ(fleet_->Get("d0")->state().health(), farm::v1::HEALTH_STATE_QUARANTINED);
  EXPECT_THAT(scheduler_->StartSweep(CapabilityOnly({"d0"})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("d0 is quarantined")));
  farm::v1::StartSweepRequest check = CapabilityOnly({"d0"});
  check.mutable_spec()->set_health_check(true);
  farm::v1::StartSweepRequest measuring = Request({"d0"});
  measuring.mutable_spec()->set_health_check(true);
  EXPECT_THAT(scheduler_->StartSweep(measuring),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("capability alone")));
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(check);
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  EXPECT_EQ(RunQueued(), 1);
  EXPECT_EQ(Stored(sweep->sweep_id()).state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_EQ(fleet_->Get("d0")->state().health(), farm::v1::HEALTH_STATE_GOOD);
  EXPECT_THAT(fleet_->Get("d0")->state().reason(), HasSubstr("health check passed"));
}

TEST_F(SchedulerTest, OneTaskPerDeviceAtATimeUntilTheSweepSucceeds) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0", "d1"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(sweep->tasks_size(), 4);  // capability + native benchmark on each device
  EXPECT_EQ(scheduler_->Dispatch(), 2);
  farm::v1::Sweep stored = Stored(sweep->sweep_id());
  EXPECT_EQ(stored.counts().running(), 2);
  EXPECT_EQ(stored.state(), farm::v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(scheduler_->Dispatch(), 0);  // both devices busy
  EXPECT_THAT(Stored(sweep->sweep_id()).tasks(1).status(), HasSubstr("device d0 busy"));
  EXPECT_EQ(RunQueued(), 2);
  EXPECT_EQ(scheduler_->Dispatch(), 2);
  EXPECT_EQ(RunQueued(), 2);
  stored = Stored(sweep->sweep_id());
  EXPECT_EQ(stored.state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_EQ(stored.counts().succeeded(), 4);
  ASSERT_TRUE(stored.tasks(1).has_benchmark());
  EXPECT_EQ(stored.tasks(1).benchmark().measurements(0).values_size(), 3);
  EXPECT_EQ(stored.tasks(1).attempt_id(), stored.tasks(1).task_id() + "/a1");
  EXPECT_THAT(store_->CountMeasurements(), IsOkAndHolds(6));
}

TEST_F(SchedulerTest, InfrastructureFailuresRetryWithExponentialBackoff) {
  agents_.script["d0:7420"] = {absl::UnavailableError("connection refused"),
                               absl::DeadlineExceededError("no answer in 30s")};
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_WAITING);
  EXPECT_THAT(task.status(), HasSubstr("retrying in 1s after: connection refused"));
  EXPECT_EQ(scheduler_->Dispatch(), 0);  // not before its backoff
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  EXPECT_THAT(Stored(sweep->sweep_id()).tasks(0).status(), HasSubstr("retrying in 2s"));
  EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 2u);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.attempts(), 3u);
  EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 0u);
}

TEST_F(SchedulerTest, ARetryBudgetUsedUpFailsTheTaskAndTheSweep) {
  agents_.script["d1:7420"] = {absl::UnavailableError("down"), absl::UnavailableError("down"),
                               absl::UnavailableError("down")};
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d1"}));
  ASSERT_THAT(sweep, IsOk());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Minutes(5));
    EXPECT_EQ(scheduler_->Dispatch(), 1);
    RunQueued();
  }
  const farm::v1::Sweep stored = Stored(sweep->sweep_id());
  EXPECT_EQ(stored.tasks(0).state(), farm::v1::TASK_STATE_FAILED);
  EXPECT_THAT(stored.tasks(0).status(), HasSubstr("failed after 3 attempts: down"));
  EXPECT_EQ(stored.state(), farm::v1::SWEEP_STATE_FAILED);
  EXPECT_THAT(stored.reason(), HasSubstr("1 of 1 tasks failed"));
}

farm::v1::JobInfo BootCheckJob() {
  farm::v1::JobInfo job;
  job.set_attempt_id("kvm-boot-check");
  job.set_kind(farm::v1::JOB_KIND_BOOT_CHECK);
  job.set_agent_initiated(true);
  return job;
}

TEST_F(SchedulerTest, AnAgentBusyWithItsOwnBootCheckIsWaitedForNotDispatchedInto) {
  // The agent registers while its start-up boot check runs, and says so.
  farm::v1::RegisterAgentRequest registration;
  registration.mutable_identity()->set_device_id("d0");
  registration.set_agent_address("d0:7420");
  *registration.mutable_busy_job() = BootCheckJob();
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(registration);
  ASSERT_THAT(registered, IsOk());
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 0);
  EXPECT_TRUE(agents_.calls.empty());
  farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.attempts(), 0u);
  EXPECT_THAT(task.status(), HasSubstr("the agent on d0 runs its own job kvm-boot-check"));
  // The heartbeat the agent sends as its check ends: dispatched at once.
  farm::v1::HeartbeatRequest beat;
  beat.set_device_id("d0");
  beat.set_session_id(registered->session_id());
  ASSERT_THAT(fleet_->Heartbeat(beat), IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.attempts(), 1u);
}

TEST_F(SchedulerTest, ABusyAgentSpendsNoTryAndIsNotTheDevicesFault) {
  // More busy answers than the retry budget (3), then the agent is free.
  for (int i = 0; i < 5; ++i) {
    agents_.script["d0:7420"].push_back(AgentBusyError(BootCheckJob()));
  }
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(scheduler_->Dispatch(), 1);
    RunQueued();
    const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
    ASSERT_EQ(task.state(), farm::v1::TASK_STATE_WAITING) << task.status();
    EXPECT_THAT(
        task.status(),
        HasSubstr("waiting for the agent, asking again in 2s: busy with job kvm-boot-check"));
    EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 0u);
    EXPECT_EQ(scheduler_->Dispatch(), 0);  // not before the 2 s are up
    clock_.Advance(absl::Seconds(2));
  }
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED);
  absl::StatusOr<std::vector<store::StoredAttempt>> attempts = store_->TaskAttempts(task.task_id());
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 6u);
  EXPECT_THAT((*attempts)[0].outcome, HasSubstr("agent busy: busy with job kvm-boot-check"));
  EXPECT_EQ((*attempts)[5].outcome, "result stored");
}

TEST_F(SchedulerTest, AnAgentBusyForLongerThanThePatienceIsAFailureLikeAnyOther) {
  for (int i = 0; i < 20; ++i) {
    agents_.script["d0:7420"].push_back(AgentBusyError(BootCheckJob()));
  }
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  // The default patience is 30 min: past it, each busy answer is a try.
  for (int i = 0;
       i < 20 && Stored(sweep->sweep_id()).tasks(0).state() != farm::v1::TASK_STATE_FAILED; ++i) {
    scheduler_->Dispatch();
    RunQueued();
    clock_.Advance(absl::Minutes(16));
  }
  const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_FAILED);
  EXPECT_THAT(task.status(), HasSubstr("failed after 3 attempts: busy with job kvm-boot-check"));
  EXPECT_GT(task.attempts(), 3u);  // the busy waits before it didn't count
}

// The same scheduler, on a store whose writes the test makes fail (a full disk).
class FullDiskTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    failing_ = std::make_unique<store::testing::FailingStore>(store_.get());
    SchedulerOptions options;
    options.retry_budget = 3;
    scheduler_ = std::make_unique<Scheduler>(
        failing_.get(), fleet_.get(), &agents_, &clock_, options,
        [this](std::function<void()> work) { queued_.push_back(std::move(work)); });
  }

  // Starts a capability sweep of d0 and follows what watchers are told.
  std::string StartWatched() {
    absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
    EXPECT_THAT(sweep, IsOk());
    scheduler_->Watch(sweep->sweep_id(), [this](const farm::v1::WatchSweepResponse& event) {
      told_.push_back(event);
    });
    return sweep->sweep_id();
  }

  // Whether watchers were told the task or the sweep reached `state`.
  bool Told(farm::v1::TaskState state) {
    for (const auto& e : told_) {
      if (e.has_task() && e.task().state() == state) return true;
    }
    return false;
  }
  bool ToldSweep(farm::v1::SweepState state) {
    for (const auto& e : told_) {
      if (e.has_sweep() && e.sweep().state() == state) return true;
    }
    return false;
  }

  std::unique_ptr<store::testing::FailingStore> failing_;
  std::vector<farm::v1::WatchSweepResponse> told_;
};

TEST_F(FullDiskTest, AnAttemptThatCannotBeRecordedIsNotSent) {
  const std::string sweep_id = StartWatched();
  failing_->Fail({"RecordAttempt"});
  EXPECT_EQ(scheduler_->Dispatch(), 0);
  EXPECT_TRUE(queued_.empty());
  EXPECT_FALSE(Told(farm::v1::TASK_STATE_RUNNING));
  farm::v1::Task stored = Stored(sweep_id).tasks(0);
  EXPECT_EQ(stored.state(), farm::v1::TASK_STATE_PENDING);
  EXPECT_EQ(stored.attempts(), 0u);
  // Room again: dispatching resumes after its backoff, with attempt 1.
  failing_->Fail({});
  EXPECT_EQ(scheduler_->Dispatch(), 0);  // still backing off
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  stored = Stored(sweep_id).tasks(0);
  EXPECT_EQ(stored.state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(stored.attempt_id(), stored.task_id() + "/a1");
}

TEST_F(FullDiskTest, AResultThatCannotBeStoredIsNotAnnouncedAndIsStoredLater) {
  const std::string sweep_id = StartWatched();
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  failing_->Fail({"StoreTaskResult"});
  RunQueued();
  // Not stored, so not succeeded: not in the store, not to watchers, and the
  // device's health is untouched.
  EXPECT_EQ(Stored(sweep_id).tasks(0).state(), farm::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(Stored(sweep_id).state(), farm::v1::SWEEP_STATE_RUNNING);
  EXPECT_FALSE(Told(farm::v1::TASK_STATE_SUCCEEDED));
  EXPECT_FALSE(ToldSweep(farm::v1::SWEEP_STATE_SUCCEEDED));
  EXPECT_EQ(scheduler_->Dispatch(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 0);  // still refused: nothing new starts either
  failing_->Fail({});
  clock_.Advance(absl::Seconds(2));
  scheduler_->Dispatch();
  EXPECT_EQ(Stored(sweep_id).tasks(0).state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Stored(sweep_id).state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_TRUE(ToldSweep(farm::v1::SWEEP_STATE_SUCCEEDED));
  EXPECT_EQ(agents_.calls.size(), 1u);                        // measured once, stored once
  EXPECT_THAT(store_->CountMeasurements(), IsOkAndHolds(0));  // a capability has none
}

TEST_F(FullDiskTest, AFailureThatCannotBeWrittenIsNotActedOn) {
  agents_.script["d0:7420"] = {absl::UnavailableError("connection refused")};
  const std::string sweep_id = StartWatched();
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  failing_->Fail({"PutTask"});
  RunQueued();
  EXPECT_EQ(Stored(sweep_id).tasks(0).state(), farm::v1::TASK_STATE_RUNNING);
  EXPECT_FALSE(Told(farm::v1::TASK_STATE_WAITING));
  EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 0u);
  failing_->Fail({});
  clock_.Advance(absl::Seconds(1));
  scheduler_->Dispatch();
  const farm::v1::Task task = Stored(sweep_id).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_WAITING);
  EXPECT_THAT(task.status(), HasSubstr("after: connection refused"));
  EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 1u);
}

TEST_F(FullDiskTest, ASweepWhoseEndCannotBeWrittenStaysActiveUntilItIs) {
  const std::string sweep_id = StartWatched();
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  failing_->Fail({"PutSweep"});
  RunQueued();
  EXPECT_EQ(Stored(sweep_id).tasks(0).state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_NE(Stored(sweep_id).state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_FALSE(ToldSweep(farm::v1::SWEEP_STATE_SUCCEEDED));
  failing_->Fail({});
  clock_.Advance(absl::Seconds(1));
  scheduler_->Dispatch();
  EXPECT_EQ(Stored(sweep_id).state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_TRUE(ToldSweep(farm::v1::SWEEP_STATE_SUCCEEDED));
}

TEST_F(FullDiskTest, ACancelThatCannotBeWrittenReachesNoAgent) {
  const std::string sweep_id = StartWatched();
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  failing_->Fail({"PutTask"});
  EXPECT_THAT(scheduler_->CancelSweep(sweep_id, "wrong image"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("the database refused")));
  EXPECT_TRUE(agents_.cancelled.empty());
  EXPECT_EQ(Stored(sweep_id).tasks(0).state(), farm::v1::TASK_STATE_RUNNING);
  failing_->Fail({});
  ASSERT_THAT(scheduler_->CancelSweep(sweep_id, "wrong image"), IsOk());
  EXPECT_EQ(agents_.cancelled.size(), 1u);
  EXPECT_EQ(Stored(sweep_id).state(), farm::v1::SWEEP_STATE_CANCELLED);
}

TEST_F(SchedulerTest, CancelSweepCancelsOnSeveralAgentsAtOnce) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0", "d1"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 2);
  // Each cancel waits (as an unresponsive agent would) until the other one has
  // started: one after the other, the first would wait in vain.
  absl::Mutex mu;
  int started = 0;
  bool met = true;
  agents_.on_cancel = [&](const std::string&) {
    absl::MutexLock lock(&mu);
    ++started;
    met &= mu.AwaitWithTimeout(absl::Condition(
                                   +[](int* n) { return *n == 2; }, &started),
                               absl::Seconds(20));
  };
  ASSERT_THAT(scheduler_->CancelSweep(sweep->sweep_id(), ""), IsOk());
  EXPECT_TRUE(met) << "the cancels ran one after the other";
  EXPECT_EQ(agents_.cancelled.size(), 2u);
  agents_.on_cancel = nullptr;
  RunQueued();
}

TEST_F(SchedulerTest, ARefusalIsNotRetried) {
  agents_.script["d0:7420"] = {absl::FailedPreconditionError("this agent reads a fixture tree")};
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.attempts(), 1u);
  EXPECT_THAT(task.status(), HasSubstr("refused by the agent: this agent reads a fixture tree"));
  EXPECT_EQ(fleet_->Get("d0")->consecutive_failures(), 0u);
  // The attempt's log says the same, not "infrastructure error".
  absl::StatusOr<std::vector<store::StoredAttempt>> attempts = store_->TaskAttempts(task.task_id());
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome, "refused by the agent: this agent reads a fixture tree");
}

TEST_F(SchedulerTest, AStoredResultIsInTheDevicesHistory) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  ASSERT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED);
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      store_->DeviceHistory("d0", 10, std::nullopt);
  ASSERT_THAT(history, IsOk());
  ASSERT_FALSE(history->empty());
  const farm::v1::DeviceEvent& newest = history->front().event;
  EXPECT_THAT(newest.description(), HasSubstr("result stored: capability"));
  EXPECT_EQ(newest.sweep_id(), sweep->sweep_id());
  EXPECT_EQ(newest.task_id(), task.task_id());
  EXPECT_EQ(newest.verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);  // what the agent reported
  bool verdict_change = false;
  for (const store::StoredDeviceEvent& stored : *history) {
    if (absl::StrContains(stored.event.description(), "capability: verdict")) {
      verdict_change = true;
    }
  }
  EXPECT_TRUE(verdict_change) << "the verdict change is in the history too";
}

TEST_F(SchedulerTest, AFailedMeasurementIsAResultNotARetry) {
  farm::v1::StartSweepRequest request = CapabilityOnly({"d0"});
  request.mutable_spec()->mutable_plan()->set_capability(false);
  farm::v1::BootPlan* boot = request.mutable_spec()->mutable_plan()->add_boots();
  boot->set_accel(farm::v1::MODE_KVM);
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(request);
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  const farm::v1::Task task = Stored(sweep->sweep_id()).tasks(0);
  EXPECT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.attempts(), 1u);
  EXPECT_THAT(task.status(), HasSubstr("QEMU killed by signal 6"));
}

TEST_F(SchedulerTest, HigherPriorityFirstAndParallelismLimits) {
  farm::v1::StartSweepRequest low = Request({"d0"}, 0);
  farm::v1::StartSweepRequest high = Request({"d0"}, 5);
  absl::StatusOr<farm::v1::Sweep> first = scheduler_->StartSweep(low);
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<farm::v1::Sweep> second = scheduler_->StartSweep(high);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  EXPECT_EQ(Stored(second->sweep_id()).counts().running(), 1);  // the later, higher sweep
  EXPECT_EQ(Stored(first->sweep_id()).counts().running(), 0);
  RunQueued();

  farm::v1::StartSweepRequest wide = Request({"d0", "d1", "d2"});
  wide.mutable_spec()->set_max_parallel(1);
  absl::StatusOr<farm::v1::Sweep> limited = scheduler_->StartSweep(wide);
  ASSERT_THAT(limited, IsOk());
  scheduler_->Dispatch();
  // d1 and d2 are free, but the sweep may use one device at a time (d0 is taken
  // by the older sweeps' higher priorities).
  EXPECT_EQ(Stored(limited->sweep_id()).counts().running(), 1);
  RunQueued();
}

TEST_F(SchedulerTest, CancelStopsRunningAttemptsAndDropsTheirLateResults) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0", "d1"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 2);
  absl::StatusOr<farm::v1::Sweep> cancelled =
      scheduler_->CancelSweep(sweep->sweep_id(), "wrong kernel");
  ASSERT_THAT(cancelled, IsOk());
  EXPECT_EQ(cancelled->state(), farm::v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(agents_.cancelled.size(), 2u);
  RunQueued();  // the agents answer anyway: too late
  const farm::v1::Sweep stored = Stored(sweep->sweep_id());
  EXPECT_EQ(stored.counts().cancelled(), 4);
  EXPECT_EQ(stored.reason(), "wrong kernel");
  EXPECT_THAT(store_->CountMeasurements(), IsOkAndHolds(0));
  EXPECT_THAT(scheduler_->CancelSweep(sweep->sweep_id(), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already ended")));
}

TEST_F(SchedulerTest, ARestartedSchedulerResumesAndCancelsTheAbandonedAttempt) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  const std::string in_flight = Stored(sweep->sweep_id()).tasks(0).attempt_id();
  // The controller dies here: its queued attempt never reports back.
  queued_.clear();
  killed_ = std::move(scheduler_);  // as after SIGKILL: no goodbye while the test runs
  agents_.busy_attempt = in_flight;
  scheduler_ = MakeScheduler();
  ASSERT_THAT(scheduler_->Resume(), IsOk());
  EXPECT_THAT(agents_.cancelled, ::testing::ElementsAre(in_flight + "@d0:7420"));
  EXPECT_THAT(Stored(sweep->sweep_id()).tasks(0).status(),
              HasSubstr("resumed after a controller restart"));
  // The abandoned attempt has an outcome that says what became of it.
  absl::StatusOr<std::vector<store::StoredAttempt>> attempts =
      store_->TaskAttempts(Stored(sweep->sweep_id()).tasks(0).task_id());
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].attempt_id, in_flight);
  EXPECT_EQ((*attempts)[0].outcome, "abandoned: controller restarted; the agent cancelled the job");
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  RunQueued();
  const farm::v1::Sweep stored = Stored(sweep->sweep_id());
  EXPECT_EQ(stored.state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_EQ(stored.tasks(0).attempt_id(), stored.tasks(0).task_id() + "/a2");
  EXPECT_THAT(store_->CountMeasurements(), IsOkAndHolds(3));
}

TEST_F(SchedulerTest, AnAbandonedAttemptTheAgentNoLongerRunsSaysSo) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  const farm::v1::Task in_flight = Stored(sweep->sweep_id()).tasks(0);
  queued_.clear();
  killed_ = std::move(scheduler_);
  scheduler_ = MakeScheduler();  // the agent is idle: its job ended with the controller
  ASSERT_THAT(scheduler_->Resume(), IsOk());
  EXPECT_TRUE(agents_.cancelled.empty());
  absl::StatusOr<std::vector<store::StoredAttempt>> attempts =
      store_->TaskAttempts(in_flight.task_id());
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome,
            "abandoned: controller restarted; the agent was no longer running it");
}

TEST_F(SchedulerTest, WatchersSeeTaskChangesProgressAndTheSummary) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  std::vector<farm::v1::WatchSweepResponse> events;
  const int watch = scheduler_->Watch(
      sweep->sweep_id(), [&events](const farm::v1::WatchSweepResponse& e) { events.push_back(e); });
  for (int i = 0; i < 2; ++i) {
    scheduler_->Dispatch();
    RunQueued();
  }
  scheduler_->Unwatch(watch);
  bool progress = false, finished = false;
  for (const auto& e : events) {
    if (e.has_task() && e.task().has_progress()) progress = true;
    if (e.has_sweep() && e.sweep().state() == farm::v1::SWEEP_STATE_SUCCEEDED) finished = true;
  }
  EXPECT_TRUE(progress);
  EXPECT_TRUE(finished);
}

TEST(SweepPlanTest, ExpandsDeviceTimesSteps) {
  farm::v1::SweepSpec spec;
  spec.mutable_plan()->set_capability(true);
  spec.mutable_plan()->add_workloads()->set_name("crypto");
  spec.mutable_plan()->add_workload_modes(farm::v1::MODE_NATIVE);
  spec.mutable_plan()->add_workload_modes(farm::v1::MODE_TCG);
  spec.mutable_plan()->add_boots()->set_accel(farm::v1::MODE_TCG);
  const std::vector<farm::v1::Task> tasks = ExpandTasks("s", spec, {"a", "b"});
  ASSERT_EQ(tasks.size(), 8u);
  EXPECT_EQ(tasks[0].kind(), farm::v1::STEP_KIND_CAPABILITY);
  EXPECT_EQ(tasks[2].mode(), farm::v1::MODE_TCG);
  EXPECT_EQ(tasks[3].kind(), farm::v1::STEP_KIND_BOOT);
  EXPECT_EQ(tasks[4].device_id(), "b");
  EXPECT_EQ(tasks[7].task_id(), "s/t7");
}

// What /metrics counts: the first dispatch's wait, every attempt's time, agent
// errors by code and retries.
struct RecordingObserver : SchedulerObserver {
  void FirstDispatched(farm::v1::StepKind kind, absl::Duration waited) override {
    events.push_back(absl::StrCat("dispatched ", farm::v1::StepKind_Name(kind), " after ",
                                  absl::FormatDuration(waited)));
  }
  void AttemptEnded(farm::v1::StepKind, absl::Duration took) override {
    events.push_back(absl::StrCat("attempt took ", absl::FormatDuration(took)));
  }
  void AgentCallFailed(absl::StatusCode code) override {
    events.push_back(absl::StrCat("agent error ", absl::StatusCodeToString(code)));
  }
  void Retried(farm::v1::StepKind) override { events.push_back("retried"); }
  std::vector<std::string> events;
};

TEST_F(SchedulerTest, TheObserverHearsOfDispatchesAttemptsErrorsAndRetries) {
  RecordingObserver observer;
  SchedulerOptions options;
  options.observer = &observer;
  Scheduler scheduler(store_.get(), fleet_.get(), &agents_, &clock_, options,
                      [this](std::function<void()> work) { queued_.push_back(std::move(work)); });
  agents_.script["d0:7420"] = {absl::DeadlineExceededError("no answer in 30s")};
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler.StartSweep(CapabilityOnly({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  clock_.Advance(absl::Seconds(2));
  ASSERT_EQ(scheduler.Dispatch(), 1);
  clock_.Advance(absl::Seconds(5));
  RunQueued();
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(scheduler.Dispatch(), 1);
  RunQueued();
  EXPECT_EQ(Stored(sweep->sweep_id()).tasks(0).state(), farm::v1::TASK_STATE_SUCCEEDED);
  EXPECT_THAT(observer.events,
              ::testing::ElementsAre("dispatched STEP_KIND_CAPABILITY after 2s", "attempt took 5s",
                                     "agent error DEADLINE_EXCEEDED", "retried", "attempt took 0"));
}

// Two replicas on one store (issue 18): `scheduler_` leads, `follower` doesn't.
class ReplicatedSchedulerTest : public SchedulerTest {
 protected:
  std::unique_ptr<Scheduler> MakeFollower(absl::Duration cancel_patience = absl::Seconds(20)) {
    SchedulerOptions options;
    options.cancel_patience = cancel_patience;
    auto follower = std::make_unique<Scheduler>(
        store_.get(), fleet_.get(), &agents_, &clock_, options,
        [](std::function<void()>) { ADD_FAILURE() << "a follower dispatched"; });
    follower->StepDown();
    return follower;
  }
};

TEST_F(ReplicatedSchedulerTest, ASweepStartedOnAFollowerIsStoredAndRunByTheLeader) {
  std::unique_ptr<Scheduler> follower = MakeFollower();
  absl::StatusOr<farm::v1::Sweep> sweep = follower->StartSweep(Request({"d0"}), "operator:alice");
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(sweep->state(), farm::v1::SWEEP_STATE_QUEUED);
  EXPECT_EQ(Stored(sweep->sweep_id()).counts().total(), static_cast<uint32_t>(sweep->tasks_size()));
  EXPECT_EQ(follower->Dispatch(), 0);
  EXPECT_THAT(scheduler_->AdoptNewSweeps(), IsOkAndHolds(1));
  EXPECT_EQ(scheduler_->Dispatch(), 1);
  EXPECT_THAT(scheduler_->AdoptNewSweeps(), IsOkAndHolds(0));
}

TEST_F(ReplicatedSchedulerTest, ACancelAskedOfAFollowerIsDoneByTheLeader) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0", "d1"}));
  ASSERT_THAT(sweep, IsOk());
  ASSERT_EQ(scheduler_->Dispatch(), 2);
  std::unique_ptr<Scheduler> follower = MakeFollower();
  absl::StatusOr<farm::v1::Sweep> answer;
  std::thread operator_call(
      [&] { answer = follower->CancelSweep(sweep->sweep_id(), "wrong build", "operator:bob"); });
  // The leader acts once the request is stored.
  int cancelled = 0;
  for (int round = 0; round < 500 && cancelled == 0; ++round) {
    absl::StatusOr<int> applied = scheduler_->ApplyCancelRequests();
    ASSERT_THAT(applied, IsOk());
    cancelled = *applied;
    if (cancelled == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  operator_call.join();
  ASSERT_EQ(cancelled, 1);
  ASSERT_THAT(answer, IsOk());
  EXPECT_EQ(answer->state(), farm::v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(answer->cancelled_by(), "operator:bob");
  EXPECT_EQ(answer->reason(), "wrong build");
  EXPECT_EQ(agents_.cancelled.size(), 2u);  // both running attempts, on their agents
  EXPECT_THAT(store_->CancelRequests(), IsOkAndHolds(::testing::IsEmpty()));
  // An ended sweep is refused by either replica, as before.
  EXPECT_THAT(follower->CancelSweep(sweep->sweep_id(), "", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already ended")));
}

TEST_F(ReplicatedSchedulerTest, ACancelNoLeaderActsOnIsKeptAndTheCallerToldSo) {
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  std::unique_ptr<Scheduler> follower = MakeFollower(absl::Milliseconds(300));
  EXPECT_THAT(follower->CancelSweep(sweep->sweep_id(), "", "operator:bob"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("the cancel is recorded")));
  // The leader that comes acts on it.
  EXPECT_THAT(scheduler_->ApplyCancelRequests(), IsOkAndHolds(1));
  EXPECT_EQ(Stored(sweep->sweep_id()).state(), farm::v1::SWEEP_STATE_CANCELLED);
}

TEST_F(ReplicatedSchedulerTest, AFollowersWatchersHearOfTheLeadersWorkFromTheStore) {
  std::unique_ptr<Scheduler> follower = MakeFollower();
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->StartSweep(Request({"d0"}));
  ASSERT_THAT(sweep, IsOk());
  std::vector<farm::v1::WatchSweepResponse> heard;
  const int watch = follower->Watch(
      sweep->sweep_id(), [&](const farm::v1::WatchSweepResponse& e) { heard.push_back(e); });
  absl::StatusOr<int64_t> cursor = store_->ChangeCursor();
  ASSERT_THAT(cursor, IsOk());
  ASSERT_EQ(scheduler_->Dispatch(), 1);
  absl::StatusOr<store::ChangeBatch> changes = store_->ChangesSince(*cursor);
  ASSERT_THAT(changes, IsOk());
  ASSERT_THAT(follower->PublishStoredChanges(changes->changes), IsOk());
  ASSERT_FALSE(heard.empty());
  bool running = false, summary = false;
  for (const farm::v1::WatchSweepResponse& event : heard) {
    running |= event.has_task() && event.task().state() == farm::v1::TASK_STATE_RUNNING;
    summary |= event.has_sweep() && event.sweep().state() == farm::v1::SWEEP_STATE_RUNNING;
  }
  EXPECT_TRUE(running);
  EXPECT_TRUE(summary);
  // The leader's own watchers are told by the leader, not twice.
  const size_t before = heard.size();
  follower->Unwatch(watch);
  std::vector<farm::v1::WatchSweepResponse> on_leader;
  scheduler_->Watch(sweep->sweep_id(),
                    [&](const farm::v1::WatchSweepResponse& e) { on_leader.push_back(e); });
  ASSERT_THAT(scheduler_->PublishStoredChanges(changes->changes), IsOk());
  EXPECT_TRUE(on_leader.empty());
  EXPECT_EQ(heard.size(), before);
}

}  // namespace
}  // namespace kvmfarm::scheduler
