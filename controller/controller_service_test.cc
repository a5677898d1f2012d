// ControllerServiceImpl in process: its methods called directly on a SQLite store in
// TEST_TMPDIR, a fake clock and fake agents; no network. The domain libraries have
// their own tests: these check that requests reach them and errors come back as
// gRPC statuses with their codes.
#include "controller/controller_service.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::HasSubstr;

class ControllerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore();
    fleet_ = std::make_unique<fleet::Fleet>(store_.get(), &clock_, fleet::FleetOptions());
    summaries_ = std::make_unique<store::SummaryCache>(store_.get());
    scheduler::SchedulerOptions options;
    options.on_result_stored = [this](const std::string& id) { summaries_->Invalidate(id); };
    // Attempts run when the test says so, on its thread.
    scheduler_ = std::make_unique<scheduler::Scheduler>(
        store_.get(), fleet_.get(), &agents_, &clock_, options,
        [this](std::function<void()> work) { queued_.push_back(std::move(work)); });
    service_ = std::make_unique<ControllerServiceImpl>(fleet_.get(), store_.get(), scheduler_.get(),
                                                       summaries_.get());
  }

  void Register(const std::string& id) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_identity()->set_model("pixel8");
    request.set_agent_address(id + ":7420");
    farm::v1::RegisterAgentResponse response;
    ASSERT_TRUE(service_->RegisterAgent(&context_, &request, &response).ok());
  }

  // Starts a sweep of a capability step and a native crypto benchmark on `device`
  // and runs it to the end.
  std::string RunSweep(const std::string& device) {
    farm::v1::StartSweepRequest request;
    request.mutable_spec()->mutable_selector()->add_device_ids(device);
    request.mutable_spec()->mutable_plan()->set_capability(true);
    request.mutable_spec()->mutable_plan()->add_workloads()->set_name("crypto");
    request.mutable_spec()->mutable_plan()->add_workload_modes(farm::v1::MODE_NATIVE);
    request.mutable_spec()->set_repetitions(3);
    farm::v1::StartSweepResponse response;
    EXPECT_TRUE(service_->StartSweep(&context_, &request, &response).ok());
    for (int step = 0; step < 2; ++step) {
      scheduler_->Dispatch();
      std::vector<std::function<void()>> work;
      work.swap(queued_);
      for (auto& w : work) w();
    }
    return response.sweep().sweep_id();
  }

  grpc::ServerContext context_;
  FakeClock clock_;
  scheduler::FakeAgentClient agents_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<fleet::Fleet> fleet_;
  std::unique_ptr<store::SummaryCache> summaries_;
  std::vector<std::function<void()>> queued_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<ControllerServiceImpl> service_;
};

TEST_F(ControllerServiceTest, DevicesRegisterAndBadRequestsNameTheField) {
  Register("d0");
  farm::v1::ListDevicesRequest list;
  farm::v1::ListDevicesResponse devices;
  ASSERT_TRUE(service_->ListDevices(&context_, &list, &devices).ok());
  ASSERT_EQ(devices.devices_size(), 1);
  EXPECT_EQ(devices.devices(0).device_id(), "d0");

  list.mutable_selector()->add_match()->add_values("x");
  const grpc::Status empty_key = service_->ListDevices(&context_, &list, &devices);
  EXPECT_EQ(empty_key.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty_key.error_message(), HasSubstr("selector.match[0].key"));

  farm::v1::HeartbeatRequest heartbeat;
  farm::v1::HeartbeatResponse beat;
  EXPECT_EQ(service_->Heartbeat(&context_, &heartbeat, &beat).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  farm::v1::GetDeviceHistoryRequest history;
  history.set_device_id("ghost");
  farm::v1::GetDeviceHistoryResponse events;
  EXPECT_EQ(service_->GetDeviceHistory(&context_, &history, &events).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerServiceTest, ASweepsResultsReachTheMatrixAndTheTaskLogs) {
  Register("d0");
  const std::string sweep_id = RunSweep("d0");
  farm::v1::GetSweepRequest get;
  get.set_sweep_id(sweep_id);
  farm::v1::GetSweepResponse sweep;
  ASSERT_TRUE(service_->GetSweep(&context_, &get, &sweep).ok());
  EXPECT_EQ(sweep.sweep().state(), farm::v1::SWEEP_STATE_SUCCEEDED);

  farm::v1::GetMatrixRequest matrix_request;
  farm::v1::GetMatrixResponse matrix;
  ASSERT_TRUE(service_->GetMatrix(&context_, &matrix_request, &matrix).ok());
  ASSERT_EQ(matrix.rows_size(), 1);
  ASSERT_EQ(matrix.rows(0).cells_size(), 1);
  EXPECT_EQ(matrix.rows(0).cells(0).metric(), "crypto.sha256");
  EXPECT_EQ(matrix.rows(0).cells(0).native().samples(), 3u);

  farm::v1::GetTaskLogsRequest logs_request;
  logs_request.set_task_id(sweep.sweep().tasks(1).task_id());
  farm::v1::GetTaskLogsResponse logs;
  ASSERT_TRUE(service_->GetTaskLogs(&context_, &logs_request, &logs).ok());
  ASSERT_EQ(logs.attempts_size(), 1);
  EXPECT_THAT(logs.attempts(0).raw_result_json(), HasSubstr("crypto.sha256"));
  logs_request.set_task_id("");
  EXPECT_EQ(service_->GetTaskLogs(&context_, &logs_request, &logs).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControllerServiceTest, CompareSweepsReportsChangesAndRefusesBadRequests) {
  Register("d0");
  farm::v1::CompareSweepsRequest request;
  request.set_sweep_a(RunSweep("d0"));
  clock_.Advance(absl::Seconds(1));
  request.set_sweep_b(RunSweep("d0"));
  farm::v1::CompareSweepsResponse response;
  ASSERT_TRUE(service_->CompareSweeps(&context_, &request, &response).ok());
  ASSERT_EQ(response.changes_size(), 1);
  EXPECT_EQ(response.changes(0).label(), farm::v1::CHANGE_LABEL_UNCHANGED);
  ASSERT_EQ(response.verdict_changes_size(), 1);
  EXPECT_EQ(response.verdict_changes(0).label(), farm::v1::CHANGE_LABEL_UNCHANGED);

  request.set_threshold_percent(-1);
  EXPECT_EQ(service_->CompareSweeps(&context_, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_threshold_percent();
  request.set_sweep_b("ghost");
  const grpc::Status missing = service_->CompareSweeps(&context_, &request, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("sweep_b"));
}

}  // namespace
}  // namespace kvmfarm
