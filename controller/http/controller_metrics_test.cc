#include "controller/http/controller_metrics.h"

#include <memory>
#include <string>

#include "common/subprocess.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::http {
namespace {

using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

// Prometheus' own linter on `text` (promtool reads it from stdin): its complaints,
// empty when there are none.
std::string PromtoolComplaints(const std::string& text) {
  ProcessSpec spec;
  spec.argv = {"promtool", "check", "metrics"};
  spec.pipe_stdin = true;
  spec.timeout = absl::Minutes(1);
  absl::StatusOr<std::unique_ptr<Subprocess>> promtool = Subprocess::Start(spec);
  if (!promtool.ok()) return "promtool didn't start (tools/setup.sh installs prometheus)";
  (*promtool)->WriteStdin(text).IgnoreError();
  (*promtool)->CloseStdin();
  const ProcessResult result = (*promtool)->Wait();
  return result.Succeeded() ? ""
                            : result.Describe() + ": " + result.stdout_data + result.stderr_data;
}

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
  ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
  farm::v1::HeartbeatRequest beat;
  beat.set_device_id("p8");
  ASSERT_THAT(fleet_->Heartbeat(beat), IsOk());

  ControllerMetrics metrics({fleet_.get(), store_.get(), nullptr, "c1"});
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
