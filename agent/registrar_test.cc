// The registrar against a controller served in-process on port 0.
#include "agent/registrar.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/testing/wait_for.h"
#include "farm/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The far side: a controller that accepts every registration it can read, and
// counts registrations and heartbeats.
class AcceptingController final : public farm::v1::ControllerService::Service {
 public:
  grpc::Status RegisterAgent(grpc::ServerContext*, const farm::v1::RegisterAgentRequest*,
                             farm::v1::RegisterAgentResponse* response) override {
    ++registrations;
    response->set_device_id("d1");
    response->set_session_id("s1");
    response->mutable_heartbeat_interval()->set_nanos(50000000);  // 50 ms
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const farm::v1::HeartbeatRequest* request,
                         farm::v1::HeartbeatResponse*) override {
    if (request->session_id() == "s1") ++heartbeats;
    return grpc::Status::OK;
  }
  std::atomic<int> registrations{0};
  std::atomic<int> heartbeats{0};
};

// Several replicas (--controller a,b): the agent registers with one that answers,
// and when it goes away, with the next, with no operator action.
TEST(RegistrarTest, MovesToTheNextReplicaWhenOneGoesAway) {
  AcceptingController first_replica, second_replica;
  std::vector<std::unique_ptr<GrpcServer>> servers;
  for (AcceptingController* replica : {&first_replica, &second_replica}) {
    GrpcServerOptions options;
    options.services = {replica};
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(*std::move(server));
  }
  RegistrarOptions options;
  // A replica that is down already, then the two.
  options.controller_addresses = {"127.0.0.1:1", servers[0]->address(), servers[1]->address()};
  options.rpc_deadline = absl::Seconds(1);
  Registrar registrar(
      options, [] { return farm::v1::RegisterAgentRequest(); }, [] { return absl::nullopt; });
  registrar.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return first_replica.heartbeats > 2; }));
  EXPECT_EQ(second_replica.registrations, 0);
  servers[0]->Shutdown(absl::ZeroDuration());  // the replica dies
  ASSERT_TRUE(testing::WaitFor([&] { return second_replica.heartbeats > 2; }));
  EXPECT_EQ(second_replica.registrations, 1);
  registrar.Stop();
  servers[1]->Shutdown(absl::ZeroDuration());
}

// Log lines of WARNING and above, while it lives.
class WarningLog {
 public:
  WarningLog() {
    SetLogSink([this](LogLevel level, absl::string_view line) {
      if (level < LogLevel::kWarning) return;
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~WarningLog() { SetLogSink(nullptr); }

  std::string Find(absl::string_view text) {
    absl::MutexLock lock(&mu_);
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, text)) return line;
    }
    return "";
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// A registration the controller cannot parse (a string field that is not UTF-8)
// came back as a status without a message, and the agent logged an empty reason.
TEST(RegistrarTest, ARefusedRegistrationIsLoggedWithItsReason) {
  AcceptingController controller;
  GrpcServerOptions options;
  options.services = {&controller};
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  WarningLog log;

  RegistrarOptions registrar_options;
  registrar_options.controller_addresses = {(*server)->address()};
  Registrar registrar(
      registrar_options,
      [] {
        farm::v1::RegisterAgentRequest request;
        request.mutable_capability()->mutable_device()->set_model("Pixel\xff");
        return request;
      },
      [] { return absl::nullopt; });
  registrar.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return !log.Find("cannot register").empty(); }));
  registrar.Stop();
  const std::string line = log.Find("cannot register");
  EXPECT_THAT(line, Not(HasSubstr(":  (retrying")));
  EXPECT_THAT(line, HasSubstr(": INTERNAL without a message (the controller may have failed"));
  (*server)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace kvmfarm
