#include "controller/http/controller_metrics.h"

#include <memory>
#include <string>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/http/lab_counters.h"
#include "controller/http/testing/promtool.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::http {
namespace {

using ::kvmfarm::http::testing::PromtoolComplaints;
using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

class ControllerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore(&path_);
    fleet_ = std::make_unique<fleet::Fleet>(store_.get(), &clock_, fleet::FleetOptions());
  }

  void Register(const std::string& id, const std::string& model, farm::v1::Verdict verdict) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_identity()->set_model(model);
    request.mutable_capability()->set_verdict(verdict);
    request.set_agent_address("127.0.0.1:7420");
    ASSERT_THAT(fleet_->Register(request), IsOk());
  }

  std::string path_;
  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<fleet::Fleet> fleet_;
};

TEST_F(ControllerMetricsTest, TheFleetAndTheSweepsAsPrometheusReadsThem) {
  Register("p8", "Pixel 8", farm::v1::VERDICT_KVM_READY);
  Register("p7", "Pixel 7", farm::v1::VERDICT_KVM_READY);
  Register("tab", "Tab S9", farm::v1::VERDICT_KVM_NO_ACCESS);
  ASSERT_THAT(fleet_->SetHealth("tab", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"), IsOk());
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("s1");
  sweep.set_state(farm::v1::SWEEP_STATE_RUNNING);
  for (int i = 0; i < 3; ++i) {
    farm::v1::Task* task = sweep.add_tasks();
    task->set_task_id("s1/t" + std::to_string(i));
    task->set_sweep_id("s1");
    task->set_device_id("p8");
    task->set_kind(i == 0 ? farm::v1::STEP_KIND_CAPABILITY : farm::v1::STEP_KIND_BENCHMARK);
    task->set_state(i == 0 ? farm::v1::TASK_STATE_SUCCEEDED : farm::v1::TASK_STATE_PENDING);
  }
  ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
  LabCounters counters;
  counters.FirstDispatched(farm::v1::STEP_KIND_BENCHMARK, absl::Seconds(3));
  counters.AttemptEnded(farm::v1::STEP_KIND_BENCHMARK, absl::Seconds(40));
  counters.AttemptEnded(farm::v1::STEP_KIND_BENCHMARK, absl::Seconds(50));
  counters.AgentCallFailed(absl::StatusCode::kDeadlineExceeded);
  counters.Retried(farm::v1::STEP_KIND_BENCHMARK);
  TimedStore timed(store_.get(), &counters);
  farm::v1::Task done = sweep.tasks(1);
  done.set_state(farm::v1::TASK_STATE_RUNNING);
  ASSERT_THAT(timed.PutTask(done), IsOk());
  ASSERT_THAT(timed.GetTask(done.task_id()), IsOk());  // reads aren't timed
  farm::v1::HeartbeatRequest beat;
  beat.set_device_id("p8");
  ASSERT_THAT(fleet_->Heartbeat(beat), IsOk());

  ControllerMetrics metrics({fleet_.get(), store_.get(), nullptr, "c1", &counters});
  absl::StatusOr<std::string> text = metrics.Render();
  ASSERT_THAT(text, IsOk());
  EXPECT_THAT(*text, HasSubstr("kvmfarm_build_info{version=\""));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_devices_by_verdict{verdict=\"kvm_ready\"} 2"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_devices_by_verdict{verdict=\"kvm_no_access\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_devices_by_model{model=\"Pixel 8\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_devices_by_health{health=\"maintenance\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_devices_by_operational_state{state=\"idle\"} 3"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_sweeps{state=\"running\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_sweeps{state=\"queued\"} 0"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_heartbeats_received_total 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_tasks{kind=\"benchmark\",state=\"pending\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_tasks{kind=\"capability\",state=\"succeeded\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_quarantines_total 0"));
  // The scheduler's counted work: a histogram's buckets, count and sum; counters.
  EXPECT_THAT(*text,
              HasSubstr("kvmfarm_task_queue_wait_seconds_bucket{kind=\"benchmark\",le=\"5\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_attempt_duration_seconds_count{kind=\"benchmark\"} 2"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_attempt_duration_seconds_sum{kind=\"benchmark\"} 90"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_agent_rpc_errors_total{code=\"deadline_exceeded\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_task_retries_total{kind=\"benchmark\"} 1"));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_store_write_seconds_count{method=\"PutTask\"} 1"));
  EXPECT_THAT(*text, Not(HasSubstr("method=\"GetTask\"")));
  EXPECT_THAT(*text, HasSubstr("kvmfarm_tasks{kind=\"benchmark\",state=\"running\"} 1"));
  EXPECT_THAT(*text, Not(HasSubstr("kvmfarm_controller_leader")));  // not in an election
  EXPECT_EQ(PromtoolComplaints(*text), "");
}

TEST_F(ControllerMetricsTest, PromtoolCatchesWhatIsWrong) {
  // The check above can fail: a counter without _total is a complaint.
  EXPECT_THAT(PromtoolComplaints("# HELP x_count a\n# TYPE x_count counter\nx_count 1\n"),
              HasSubstr("_total"));
}

}  // namespace
}  // namespace kvmfarm::http
