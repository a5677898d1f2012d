#include "common/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_status.h"
#include "common/testing/grpc_raw.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::CallRawUnary;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::kHealthServing;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

// Answers GetStatus only; every other RPC is the generated UNIMPLEMENTED.
class StatusOnlyAgent final : public farm::v1::AgentService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext*, const farm::v1::GetStatusRequest*,
                         farm::v1::GetStatusResponse* response) override {
    response->set_device_id("test-device");
    response->mutable_agent()->set_version("0.0.0-test");
    return grpc::Status::OK;
  }
};

// The one agent instance every test serves; stateless, so sharing is safe.
StatusOnlyAgent& TestAgent() {
  static auto* agent = new StatusOnlyAgent;
  return *agent;
}

// A GrpcServer on 127.0.0.1:0 serving TestAgent().
absl::StatusOr<std::unique_ptr<GrpcServer>> StartTestServer(std::string port_file = "") {
  GrpcServerOptions options;
  options.services = {&TestAgent()};
  options.port_file = std::move(port_file);
  return GrpcServer::Start(options);
}

std::shared_ptr<grpc::Channel> Dial(const GrpcServer& server) {
  return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
}

TEST(GrpcServerTest, AnAgentRpcAnswersARealClientOverLoopback) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = StartTestServer();
  ASSERT_THAT(server, IsOk());
  EXPECT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), absl::StrCat("127.0.0.1:", (*server)->port()));

  auto stub = farm::v1::AgentService::NewStub(Dial(**server));
  grpc::ClientContext context;
  farm::v1::GetStatusResponse response;
  grpc::Status status = stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.device_id(), "test-device");
  EXPECT_EQ(response.agent().version(), "0.0.0-test");

  // An RPC the service does not implement is a clean UNIMPLEMENTED, through the
  // one conversion point.
  grpc::ClientContext cancel_context;
  farm::v1::CancelResponse cancel_response;
  EXPECT_THAT(
      FromGrpcStatus(stub->Cancel(&cancel_context, farm::v1::CancelRequest(), &cancel_response)),
      StatusIs(absl::StatusCode::kUnimplemented));
}

// A synchronous GetStatus that holds its thread until the test releases it.
class HeldStatusAgent final : public farm::v1::AgentService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext*, const farm::v1::GetStatusRequest*,
                         farm::v1::GetStatusResponse*) override {
    held_.fetch_add(1);
    release_.WaitForNotification();
    return grpc::Status::OK;
  }
  void Release() { release_.Notify(); }
  int held() const { return held_.load(); }

 private:
  absl::Notification release_;
  std::atomic<int> held_{0};
};

// Past max_threads a synchronous call is refused at once instead of starting
// another thread (issue 15: farm-agent caps its server at 32).
TEST(GrpcServerTest, MaxThreadsRefusesSynchronousCallsBeyondTheCap) {
  HeldStatusAgent agent;
  GrpcServerOptions options;
  options.services = {&agent};
  options.max_threads = 4;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_THAT(server, IsOk());
  auto stub = farm::v1::AgentService::NewStub(Dial(**server));
  constexpr int kCalls = 12;
  std::vector<grpc::ClientContext> contexts(kCalls);
  std::vector<farm::v1::GetStatusResponse> responses(kCalls);
  const farm::v1::GetStatusRequest request;
  absl::Mutex mu;
  int ended = 0, refused = 0;
  for (int i = 0; i < kCalls; ++i) {
    stub->async()->GetStatus(&contexts[i], &request, &responses[i], [&](grpc::Status status) {
      absl::MutexLock lock(&mu);
      ++ended;
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
    });
  }
  EXPECT_TRUE(testing::WaitFor([&] {
    absl::MutexLock lock(&mu);
    return refused > 0 && agent.held() + refused == kCalls;
  })) << agent.held()
      << " held";
  EXPECT_LT(agent.held(), 4);
  agent.Release();
  EXPECT_TRUE(testing::WaitFor([&] {
    absl::MutexLock lock(&mu);
    return ended == kCalls;
  }));
}

TEST(GrpcServerTest, ServesTheStandardHealthService) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = StartTestServer();
  ASSERT_THAT(server, IsOk());
  std::string response;
  // HealthCheckRequest{service: ""} is the empty message; the answer is
  // HealthCheckResponse{status: SERVING (1)} = field 1, varint 1.
  grpc::Status status = CallRawUnary(Dial(**server), "/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, kHealthServing);

  // A service that is not registered is NOT_FOUND.
  status = CallRawUnary(Dial(**server), "/grpc.health.v1.Health/Check",
                        std::string("\x0a\x04nope", 6), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(GrpcServerTest, RegistersServerReflection) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = StartTestServer();
  ASSERT_THAT(server, IsOk());
  // Reflection is a bidi stream: send ServerReflectionRequest{list_services: ""}
  // (field 7, empty string) and read one response.
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(Dial(**server));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const std::string bytes = testing::ByteBufferToString(response);
  EXPECT_THAT(bytes, HasSubstr("farm.v1.AgentService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(GrpcServerTest, ASecondServerOnTheSamePortFailsInsteadOfSharingIt) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> first = StartTestServer();
  ASSERT_THAT(first, IsOk());
  StatusOnlyAgent other;
  GrpcServerOptions same_port;
  same_port.listen_address = (*first)->address();
  same_port.services = {&other};
  EXPECT_THAT(GrpcServer::Start(same_port),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr((*first)->address())));
}

TEST(GrpcServerTest, WritesThePortFile) {
  const std::string port_file = absl::StrCat(std::getenv("TEST_TMPDIR"), "/agent.port");
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = StartTestServer(port_file);
  ASSERT_THAT(server, IsOk());
  std::ifstream in(port_file);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, (*server)->port());
}

TEST(GrpcServerTest, MalformedAddressNamesTheProblem) {
  GrpcServerOptions options;
  options.listen_address = "localhost";
  EXPECT_THAT(GrpcServer::Start(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("'localhost' is not host:port")));
  options.listen_address = "127.0.0.1:99999";
  EXPECT_THAT(GrpcServer::Start(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GrpcServerTest, ShutdownMarksNotServingAndStopsAnswering) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = StartTestServer();
  ASSERT_THAT(server, IsOk());
  auto channel = Dial(**server);
  (*server)->Shutdown(absl::Seconds(1));
  (*server)->Shutdown(absl::Seconds(1));  // idempotent
  auto stub = farm::v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  farm::v1::GetStatusResponse response;
  EXPECT_FALSE(stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response).ok());
}

// Runs in a death-test child, which has a single thread: the contract of
// BlockShutdownSignals is "before any other thread starts", and this test process
// already runs gRPC's threads.
void BlockSignalThenExitWithWhatArrives() {
  BlockShutdownSignals();
  ::kill(::getpid(), SIGTERM);
  const int first = WaitForShutdownSignal();
  ::kill(::getpid(), SIGINT);
  const int second = WaitForShutdownSignal();
  std::_Exit(first == SIGTERM && second == SIGINT ? 42 : 1);
}

TEST(ShutdownSignalTest, WaitReturnsTheSignalThatArrived) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(BlockSignalThenExitWithWhatArrives(), ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace kvmfarm
