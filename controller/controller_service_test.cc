// ControllerServiceImpl in process: its methods called directly on a SQLite store in
// TEST_TMPDIR, a fake clock and fake agents; no network. The domain libraries have
// their own tests: these check that requests reach them and errors come back as
// gRPC statuses with their codes.
#include "controller/controller_service.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/store/sqlite_store.h"
#include "controller/testing/in_process_controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ControllerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Plaintext loopback: every caller may do everything (auth has its own tests).
    auth::Authorizer::Options anyone;
    anyone.insecure = true;
    authorizer_ = *auth::Authorizer::Create(anyone);
    service_ = std::make_unique<ControllerServiceImpl>(
        controller_.fleet.get(), controller_.store.get(), controller_.scheduler.get(),
        controller_.summaries.get(), authorizer_.get());
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
      controller_.scheduler->Dispatch();
      controller_.RunQueued();
    }
    return response.sweep().sweep_id();
  }

  grpc::ServerContext context_;
  testing::InProcessController controller_;
  std::unique_ptr<auth::Authorizer> authorizer_;
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

// Calls `method` page after page (page_size `page_size`), following next_page_token
// to the end; each page's ids, as `id_of` reads them from the response.
template <typename Request, typename Response, typename IdsOf>
std::vector<std::vector<std::string>> Pages(
    ControllerServiceImpl* service,
    grpc::Status (ControllerServiceImpl::*method)(grpc::ServerContext*, const Request*, Response*),
    Request request, uint32_t page_size, IdsOf ids_of) {
  grpc::ServerContext context;
  std::vector<std::vector<std::string>> pages;
  request.set_page_size(page_size);
  do {
    Response response;
    const grpc::Status status = (service->*method)(&context, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok() || pages.size() > 100) break;
    pages.push_back(ids_of(response));
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return pages;
}

std::vector<std::string> DeviceIds(const farm::v1::ListDevicesResponse& response) {
  std::vector<std::string> ids;
  for (const farm::v1::Device& d : response.devices()) ids.push_back(d.device_id());
  return ids;
}

std::vector<std::string> SweepIds(const farm::v1::ListSweepsResponse& response) {
  std::vector<std::string> ids;
  for (const farm::v1::Sweep& s : response.sweeps()) ids.push_back(s.sweep_id());
  return ids;
}

std::vector<std::string> Descriptions(const farm::v1::GetDeviceHistoryResponse& response) {
  std::vector<std::string> lines;
  for (const farm::v1::DeviceEvent& e : response.events()) lines.push_back(e.description());
  return lines;
}

TEST_F(ControllerServiceTest, ListDevicesPagesFollowTheTokensToEveryDeviceOnce) {
  for (const char* id : {"d3", "d0", "d4", "d1", "d2"}) Register(id);
  farm::v1::ListDevicesRequest request;
  EXPECT_THAT(Pages(service_.get(), &ControllerServiceImpl::ListDevices, request, 2, DeviceIds),
              ElementsAre(ElementsAre("d0", "d1"), ElementsAre("d2", "d3"), ElementsAre("d4")));
  // One page when it all fits: no token.
  EXPECT_THAT(Pages(service_.get(), &ControllerServiceImpl::ListDevices, request, 0, DeviceIds),
              ElementsAre(ElementsAre("d0", "d1", "d2", "d3", "d4")));
  // A device registered between two pages is in the later page, nothing repeats.
  request.set_page_size(2);
  farm::v1::ListDevicesResponse first;
  ASSERT_TRUE(service_->ListDevices(&context_, &request, &first).ok());
  Register("d1a");
  request.set_page_token(first.next_page_token());
  farm::v1::ListDevicesResponse second;
  ASSERT_TRUE(service_->ListDevices(&context_, &request, &second).ok());
  EXPECT_THAT(DeviceIds(second), ElementsAre("d1a", "d2"));
}

TEST_F(ControllerServiceTest, AnInventedOrMisusedPageTokenIsInvalidArgument) {
  Register("d0");
  Register("d1");
  farm::v1::ListDevicesRequest devices;
  devices.set_page_size(1);
  farm::v1::ListDevicesResponse page;
  ASSERT_TRUE(service_->ListDevices(&context_, &devices, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());

  devices.set_page_token("bm90IGEgdG9rZW4");
  grpc::Status invented = service_->ListDevices(&context_, &devices, &page);
  EXPECT_EQ(invented.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invented.error_message(), HasSubstr("page_token"));
  // The same token with another selector, or for another list.
  devices.set_page_token(page.next_page_token());
  devices.mutable_selector()->add_device_ids("d1");
  EXPECT_EQ(service_->ListDevices(&context_, &devices, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  farm::v1::ListSweepsRequest sweeps;
  sweeps.set_page_token(devices.page_token());
  farm::v1::ListSweepsResponse sweep_page;
  EXPECT_EQ(service_->ListSweeps(&context_, &sweeps, &sweep_page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  farm::v1::GetDeviceHistoryRequest history;
  history.set_device_id("d0");
  history.set_page_token("garbage");
  farm::v1::GetDeviceHistoryResponse events;
  EXPECT_EQ(service_->GetDeviceHistory(&context_, &history, &events).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControllerServiceTest, ListSweepsFiltersByStateBeforePaging) {
  Register("d0");
  // Two finished sweeps, then three never dispatched (queued): newest first, the
  // finished ones come last, so a filter applied after the page size finds none.
  const std::string done0 = RunSweep("d0");
  const std::string done1 = RunSweep("d0");
  for (int i = 0; i < 3; ++i) {
    farm::v1::StartSweepRequest start;
    start.mutable_spec()->mutable_selector()->add_device_ids("d0");
    start.mutable_spec()->mutable_plan()->set_capability(true);
    farm::v1::StartSweepResponse started;
    ASSERT_TRUE(service_->StartSweep(&context_, &start, &started).ok());
  }
  farm::v1::ListSweepsRequest succeeded;
  succeeded.add_states(farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_THAT(Pages(service_.get(), &ControllerServiceImpl::ListSweeps, succeeded, 1, SweepIds),
              ElementsAre(ElementsAre(done1), ElementsAre(done0)));
  const auto all = Pages(service_.get(), &ControllerServiceImpl::ListSweeps,
                         farm::v1::ListSweepsRequest(), 2, SweepIds);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_THAT(all[2], ElementsAre(done0));
}

TEST_F(ControllerServiceTest, DeviceHistoryPagesAreTheWholeHistoryNewestFirst) {
  Register("d0");
  RunSweep("d0");
  RunSweep("d0");
  farm::v1::GetDeviceHistoryRequest request;
  request.set_device_id("d0");
  const auto whole =
      Pages(service_.get(), &ControllerServiceImpl::GetDeviceHistory, request, 0, Descriptions);
  ASSERT_EQ(whole.size(), 1u);
  ASSERT_GE(whole[0].size(), 5u);
  const auto paged =
      Pages(service_.get(), &ControllerServiceImpl::GetDeviceHistory, request, 2, Descriptions);
  std::vector<std::string> joined;
  for (const auto& page : paged) {
    EXPECT_LE(page.size(), 2u);
    joined.insert(joined.end(), page.begin(), page.end());
  }
  EXPECT_EQ(joined, whole[0]);
  EXPECT_THAT(whole[0].back(), HasSubstr("registered"));
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
  controller_.clock.Advance(absl::Seconds(1));
  request.set_sweep_b(RunSweep("d0"));
  farm::v1::CompareSweepsResponse response;
  ASSERT_TRUE(service_->CompareSweeps(&context_, &request, &response).ok());
  ASSERT_EQ(response.changes_size(), 1);
  // Three repetitions a side: the test can't show a change either way.
  EXPECT_EQ(response.changes(0).label(), farm::v1::CHANGE_LABEL_INCONCLUSIVE);
  EXPECT_EQ(response.changes(0).samples_a(), 3u);
  EXPECT_EQ(response.changes(0).p_value(), 1);
  // (The fake agent reports the same values each time: ties, so the normal form.)
  EXPECT_EQ(response.changes(0).test(), "mann-whitney-u normal");
  ASSERT_EQ(response.verdict_changes_size(), 1);
  EXPECT_EQ(response.verdict_changes(0).label(), farm::v1::CHANGE_LABEL_UNCHANGED);

  request.set_threshold_percent(-1);
  EXPECT_EQ(service_->CompareSweeps(&context_, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_threshold_percent();
  request.set_significance(0);
  EXPECT_EQ(service_->CompareSweeps(&context_, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_significance();
  request.set_sweep_b("ghost");
  const grpc::Status missing = service_->CompareSweeps(&context_, &request, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("sweep_b"));
}

}  // namespace
}  // namespace kvmfarm
