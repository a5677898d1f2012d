#include "controller/regressions/regression_tracker.h"

#include <google/protobuf/util/time_util.h>

#include <memory>
#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/regressions/regression_worker.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::regressions {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Five repetitions within +-1 % of a median.
constexpr double kSpread[] = {0.99, 0.995, 1.0, 1.005, 1.01};

class RegressionTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore();
    ASSERT_NE(store_, nullptr);
    for (const auto& [id, model] : {std::pair<std::string, std::string>{"pixel-1", "Pixel 8"},
                                    {"pixel-2", "Pixel 8"},
                                    {"sdm-1", "QRD8650"}}) {
      farm::v1::Device device;
      device.set_device_id(id);
      device.mutable_identity()->set_model(model);
      ASSERT_THAT(store_->PutDevice(device, std::nullopt), IsOk());
    }
  }

  // A finished sweep in which `device` measured `metric` natively around
  // `median` MB/s with agent `agent_version`.
  void StoreSweep(const std::string& sweep_id, const std::string& device, double median,
                  const std::string& agent_version = "0.3.0",
                  const std::string& metric = "crypto.sha256") {
    farm::v1::Sweep sweep;
    sweep.set_sweep_id(sweep_id);
    sweep.set_state(farm::v1::SWEEP_STATE_SUCCEEDED);
    *sweep.mutable_created_at() = TimeUtil::SecondsToTimestamp(++created_s_);
    farm::v1::Task* task = sweep.add_tasks();
    task->set_sweep_id(sweep_id);
    task->set_task_id(sweep_id + "/" + device);
    task->set_device_id(device);
    task->set_state(farm::v1::TASK_STATE_PENDING);
    ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
    farm::v1::Task done = *task;
    done.set_state(farm::v1::TASK_STATE_SUCCEEDED);
    done.set_attempt_id(task->task_id() + "/a1");
    *done.mutable_finished_at() = TimeUtil::SecondsToTimestamp(created_s_);
    farm::v1::BenchmarkResult* result = done.mutable_benchmark();
    result->set_succeeded(true);
    result->mutable_provenance()->set_agent_version(agent_version);
    farm::v1::Measurement* m = result->add_measurements();
    m->set_metric(metric);
    m->set_unit("MB/s");
    m->set_higher_is_better(true);
    m->set_mode(farm::v1::MODE_NATIVE);
    for (double f : kSpread) m->add_values(median * f);
    m->set_median(median);
    ASSERT_THAT(store_->StoreTaskResult(done, done.attempt_id()), IsOk());
  }

  absl::Status Pin(farm::v1::BaselineScope scope, const std::string& key,
                   const std::string& sweep_id) {
    farm::v1::SetBaselineRequest request;
    request.set_scope(scope);
    request.set_key(key);
    request.set_sweep_id(sweep_id);
    return PinBaseline(*store_, request, "alice", clock_.Now()).status();
  }

  RegressionTracker Tracker() {
    return RegressionTracker(store_.get(), &clock_, [this](const farm::v1::Regression& r) {
      announced_.push_back(EventName(r));
    });
  }

  std::unique_ptr<store::SqliteStore> store_;
  FakeClock clock_;
  int64_t created_s_ = 1000;
  std::vector<std::string> announced_;
};

TEST_F(RegressionTrackerTest, ARegressionOpensOnceStaysOpenAndIsFixedWhenBack) {
  RegressionTracker tracker = Tracker();
  StoreSweep("s1", "pixel-1", 1000);
  ASSERT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "s1"), IsOk());
  StoreSweep("s2", "pixel-1", 800);  // -20 %: significant, beyond 5 %
  auto opened = tracker.SweepFinished("s2");
  ASSERT_THAT(opened, IsOk());
  ASSERT_THAT(*opened, SizeIs(1));
  const farm::v1::Regression& r = (*opened)[0];
  EXPECT_EQ(r.state(), farm::v1::REGRESSION_STATE_OPEN);
  EXPECT_EQ(r.device_id(), "pixel-1");
  EXPECT_EQ(r.first_sweep_id(), "s2");
  EXPECT_EQ(r.baseline().sweep_id(), "s1");
  EXPECT_EQ(r.first_change().metric(), "crypto.sha256");
  EXPECT_NEAR(r.first_change().change_percent(), -20, 1e-9);
  EXPECT_LT(r.first_change().p_value(), 0.05);
  EXPECT_EQ(r.first_change().samples_a(), 5u);
  EXPECT_LT(r.first_change().ratio_high(), 1);

  StoreSweep("s3", "pixel-1", 790);  // still slow: no new record, not announced again
  auto still = tracker.SweepFinished("s3");
  ASSERT_THAT(still, IsOk());
  EXPECT_THAT(*still, IsEmpty());
  auto open = store_->ListRegressions(true, "");
  ASSERT_THAT(open, IsOk());
  ASSERT_THAT(*open, SizeIs(1));
  EXPECT_EQ((*open)[0].last_sweep_id(), "s3");

  StoreSweep("s3b", "pixel-1", 100, "0.3.0", "crypto.aes256gcm");  // another metric only
  ASSERT_THAT(tracker.SweepFinished("s3b"), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  open = store_->ListRegressions(true, "");
  ASSERT_THAT(open, IsOk());
  EXPECT_EQ((*open)[0].last_sweep_id(), "s3");  // untouched by a sweep that didn't measure it

  StoreSweep("s4", "pixel-1", 1002);  // back within noise
  auto fixed = tracker.SweepFinished("s4");
  ASSERT_THAT(fixed, IsOk());
  ASSERT_THAT(*fixed, SizeIs(1));
  EXPECT_EQ((*fixed)[0].state(), farm::v1::REGRESSION_STATE_FIXED);
  EXPECT_EQ((*fixed)[0].fixed_sweep_id(), "s4");
  EXPECT_EQ((*fixed)[0].first_sweep_id(), "s2");
  EXPECT_THAT(store_->ListRegressions(true, ""), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  EXPECT_EQ(announced_, (std::vector<std::string>{"regression_opened", "regression_fixed"}));
}

TEST_F(RegressionTrackerTest, AModelBaselineHoldsEveryDeviceOfTheModelAndNoOther) {
  RegressionTracker tracker = Tracker();
  StoreSweep("s1", "pixel-1", 1000);
  ASSERT_THAT(Pin(farm::v1::BASELINE_SCOPE_MODEL, "Pixel 8", "s1"), IsOk());
  StoreSweep("s2", "pixel-2", 700);  // another Pixel 8, slower
  StoreSweep("s3", "sdm-1", 100);    // another model: no baseline
  auto pixel = tracker.SweepFinished("s2");
  ASSERT_THAT(pixel, IsOk());
  ASSERT_THAT(*pixel, SizeIs(1));
  EXPECT_EQ((*pixel)[0].device_id(), "pixel-2");
  EXPECT_EQ((*pixel)[0].baseline().scope(), farm::v1::BASELINE_SCOPE_MODEL);
  EXPECT_THAT(tracker.SweepFinished("s3"), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
}

TEST_F(RegressionTrackerTest, AComparisonAcrossAnAgentUpgradeIsFlagged) {
  RegressionTracker tracker = Tracker();
  StoreSweep("s1", "pixel-1", 1000, "0.3.0");
  ASSERT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "s1"), IsOk());
  StoreSweep("s2", "pixel-1", 600, "0.4.0");
  auto opened = tracker.SweepFinished("s2");
  ASSERT_THAT(opened, IsOk());
  ASSERT_THAT(*opened, SizeIs(1));
  EXPECT_EQ((*opened)[0].provenance_changes(), "agent 0.3.0 -> 0.4.0");
}

TEST_F(RegressionTrackerTest, ABaselineMustBeAFinishedSweepNamedInFull) {
  RegressionTracker tracker = Tracker();
  EXPECT_THAT(Pin(farm::v1::BASELINE_SCOPE_UNSPECIFIED, "k", "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scope")));
  EXPECT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "", "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  EXPECT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep_id")));
  farm::v1::Sweep running;
  running.set_sweep_id("running");
  running.set_state(farm::v1::SWEEP_STATE_RUNNING);
  ASSERT_THAT(store_->CreateSweep(running), IsOk());
  EXPECT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "running"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("still")));
  EXPECT_THAT(store_->ListBaselines(), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
}

TEST_F(RegressionTrackerTest, AVerdictThatGetsWorseIsARegressionUntilItIsBack) {
  RegressionTracker tracker = Tracker();
  // A first report and an improvement are no regression.
  EXPECT_THAT(tracker.VerdictStored("sdm-1", farm::v1::VERDICT_UNSPECIFIED,
                                    farm::v1::VERDICT_KVM_NOT_IN_KERNEL, "s1"),
              ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(tracker.VerdictStored("sdm-1", farm::v1::VERDICT_KVM_NOT_IN_KERNEL,
                                    farm::v1::VERDICT_KVM_READY, "s2"),
              ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  auto opened = tracker.VerdictStored("sdm-1", farm::v1::VERDICT_KVM_READY,
                                      farm::v1::VERDICT_KVM_NOT_IN_KERNEL, "s3");
  ASSERT_THAT(opened, IsOk());
  ASSERT_THAT(*opened, SizeIs(1));
  EXPECT_EQ((*opened)[0].kind(), farm::v1::REGRESSION_KIND_VERDICT);
  EXPECT_EQ((*opened)[0].verdict_before(), farm::v1::VERDICT_KVM_READY);
  // Still without KVM: kept open, not announced again.
  EXPECT_THAT(tracker.VerdictStored("sdm-1", farm::v1::VERDICT_KVM_NOT_IN_KERNEL,
                                    farm::v1::VERDICT_KVM_NOT_IN_KERNEL, "s4"),
              ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  auto fixed = tracker.VerdictStored("sdm-1", farm::v1::VERDICT_KVM_NOT_IN_KERNEL,
                                     farm::v1::VERDICT_KVM_READY, "s5");
  ASSERT_THAT(fixed, IsOk());
  ASSERT_THAT(*fixed, SizeIs(1));
  EXPECT_EQ((*fixed)[0].state(), farm::v1::REGRESSION_STATE_FIXED);
  EXPECT_EQ((*fixed)[0].fixed_sweep_id(), "s5");
  EXPECT_EQ(announced_,
            (std::vector<std::string>{"verdict_regression_opened", "verdict_regression_fixed"}));
}

// A crash between a sweep's end and its check: the next leader checks each
// device's newest sweep again, and checking again announces nothing twice.
TEST_F(RegressionTrackerTest, TheNewestSweepsAreCheckedAgainWithoutAnnouncingTwice) {
  RegressionTracker tracker = Tracker();
  StoreSweep("s1", "pixel-1", 1000);
  ASSERT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "s1"), IsOk());
  StoreSweep("s2", "pixel-1", 500);  // its check was lost
  auto opened = tracker.RecheckNewest(50);
  ASSERT_THAT(opened, IsOk());
  ASSERT_THAT(*opened, SizeIs(1));
  EXPECT_EQ((*opened)[0].first_sweep_id(), "s2");
  EXPECT_THAT(tracker.RecheckNewest(50), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  StoreSweep("s3", "pixel-1", 1000);
  ASSERT_THAT(tracker.SweepFinished("s3"), IsOk());
  // s2 is no longer pixel-1's newest sweep: the fixed record is not reopened.
  EXPECT_THAT(tracker.RecheckNewest(50), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(store_->ListRegressions(true, ""), ::kvmfarm::testing::IsOkAndHolds(IsEmpty()));
  EXPECT_EQ(announced_, (std::vector<std::string>{"regression_opened", "regression_fixed"}));
}

// The scheduler's hooks queue the checks; the worker runs them in order.
TEST_F(RegressionTrackerTest, TheWorkerChecksWhatTheHooksQueueInOrder) {
  RegressionTracker tracker = Tracker();
  StoreSweep("s1", "pixel-1", 1000);
  ASSERT_THAT(Pin(farm::v1::BASELINE_SCOPE_DEVICE, "pixel-1", "s1"), IsOk());
  StoreSweep("s2", "pixel-1", 500);
  StoreSweep("s3", "pixel-1", 1000);
  RegressionWorker worker(&tracker);
  worker.SweepFinished("s2");
  worker.VerdictStored("pixel-1", farm::v1::VERDICT_KVM_READY, farm::v1::VERDICT_KVM_NOT_IN_KERNEL,
                       "s2");
  worker.SweepFinished("s3");
  worker.Drain();
  EXPECT_EQ(announced_, (std::vector<std::string>{"regression_opened", "verdict_regression_opened",
                                                  "regression_fixed"}));
}

}  // namespace
}  // namespace kvmfarm::regressions
