// The generated gMock stubs (generate_mock_code=true) let client-side code be
// tested against a scripted agent, with no server.
#include <grpcpp/grpcpp.h>

#include "farm/v1/agent.grpc.pb.h"
#include "farm/v1/agent_mock.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SetArgPointee;

// Client-side code under test: what a controller would do with an agent's status.
std::string BusyAttempt(farm::v1::AgentService::StubInterface& stub) {
  grpc::ClientContext context;
  farm::v1::GetStatusResponse response;
  const grpc::Status status = stub.GetStatus(&context, farm::v1::GetStatusRequest(), &response);
  if (!status.ok()) return "unreachable: " + status.error_message();
  return response.has_busy_job() ? response.busy_job().attempt_id() : "idle";
}

TEST(MockStubTest, ScriptedAgentAnswersTheClient) {
  farm::v1::MockAgentServiceStub stub;
  farm::v1::GetStatusResponse busy;
  busy.mutable_busy_job()->set_attempt_id("sweep-7/task-2/attempt-1");
  EXPECT_CALL(stub, GetStatus(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(busy), Return(grpc::Status::OK)))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")))
      .WillOnce(Return(grpc::Status::OK));
  EXPECT_EQ(BusyAttempt(stub), "sweep-7/task-2/attempt-1");
  EXPECT_EQ(BusyAttempt(stub), "unreachable: connection refused");
  EXPECT_EQ(BusyAttempt(stub), "idle");
}

}  // namespace
}  // namespace kvmfarm
