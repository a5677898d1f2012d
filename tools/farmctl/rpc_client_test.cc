#include "tools/farmctl/rpc_client.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_server.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers GetSweep (NOT_FOUND for "missing") and streams two events for
// WatchSweep; remembers the deadline each call arrived with.
class FakeController final : public farm::v1::ControllerService::Service {
 public:
  grpc::Status GetSweep(grpc::ServerContext* context, const farm::v1::GetSweepRequest* request,
                        farm::v1::GetSweepResponse* response) override {
    RecordDeadline(context);
    if (request->sweep_id() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no sweep 'missing'");
    }
    response->mutable_sweep()->set_sweep_id(request->sweep_id());
    return grpc::Status::OK;
  }

  grpc::Status WatchSweep(grpc::ServerContext* context, const farm::v1::WatchSweepRequest* request,
                          grpc::ServerWriter<farm::v1::WatchSweepResponse>* writer) override {
    RecordDeadline(context);
    if (request->sweep_id() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no sweep 'missing'");
    }
    for (const char* task : {"t0", "t1"}) {
      farm::v1::WatchSweepResponse event;
      event.mutable_task()->set_task_id(task);
      writer->Write(event);
    }
    return grpc::Status::OK;
  }

  // Sweeps s0..s4 in pages of at most 2 (fewer when page_size says so); the token
  // is the next index. A request for FAILED sweeps gets a broken server's answer:
  // the same token back, forever.
  grpc::Status ListSweeps(grpc::ServerContext*, const farm::v1::ListSweepsRequest* request,
                          farm::v1::ListSweepsResponse* response) override {
    int next = request->page_token().empty() ? 0 : std::stoi(request->page_token());
    if (!request->states().empty()) {
      response->set_next_page_token(request->page_token().empty() ? "0" : request->page_token());
      return grpc::Status::OK;
    }
    const int size = request->page_size() == 0 ? 2 : std::min<int>(2, request->page_size());
    for (int end = std::min(next + size, 5); next < end; ++next) {
      response->add_sweeps()->set_sweep_id(absl::StrCat("s", next));
    }
    if (next < 5) response->set_next_page_token(absl::StrCat(next));
    {
      absl::MutexLock lock(&mu_);
      ++list_calls_;
    }
    return grpc::Status::OK;
  }

  int list_calls() {
    absl::MutexLock lock(&mu_);
    return list_calls_;
  }

  std::chrono::system_clock::time_point last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  void RecordDeadline(grpc::ServerContext* context) {
    absl::MutexLock lock(&mu_);
    last_deadline_ = context->deadline();
  }

  absl::Mutex mu_;
  std::chrono::system_clock::time_point last_deadline_ ABSL_GUARDED_BY(mu_);
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class RpcClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GrpcServerOptions options;
    options.services = {&service_};
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }
  void TearDown() override { server_->Shutdown(absl::ZeroDuration()); }

  // Seconds from now to the deadline the last call arrived with.
  // gRPC sends a call's timeout rounded up to its wire unit, and the server adds it
  // to its own clock: the deadline it sees may lie a little past the client's.
  static constexpr double kTimeoutRounding = 1.0;

  double LastDeadlineSecondsAway() {
    return absl::ToDoubleSeconds(absl::FromChrono(service_.last_deadline()) - absl::Now());
  }

  FakeController service_;
  std::unique_ptr<GrpcServer> server_;
};

TEST_F(RpcClientTest, CallReturnsTheResponseAndSetsTheDeadline) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  farm::v1::GetSweepRequest request;
  request.set_sweep_id("s-1");
  absl::StatusOr<farm::v1::GetSweepResponse> response =
      controller.Call(&ControllerStub::GetSweep, request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->sweep().sweep_id(), "s-1");
  EXPECT_GT(LastDeadlineSecondsAway(), 20);
  EXPECT_LE(LastDeadlineSecondsAway(), 30 + kTimeoutRounding);
}

// Several replicas (--controller a,b): calls reach one that answers, even when the
// first listed is down.
TEST_F(RpcClientTest, SeveralReplicasAreOneClientThatSkipsTheDeadOnes) {
  EXPECT_EQ(ControllerClient::Target("127.0.0.1:1,127.0.0.1:2"), "ipv4:127.0.0.1:1,127.0.0.1:2");
  EXPECT_EQ(ControllerClient::Target("[::1]:1,[::1]:2"), "ipv6:[::1]:1,[::1]:2");
  EXPECT_EQ(ControllerClient::Target("127.0.0.1:7421"), "127.0.0.1:7421");
  ControllerClient controller = ControllerClient::Connect("127.0.0.1:1," + server_->address());
  farm::v1::GetSweepRequest request;
  request.set_sweep_id("s-1");
  EXPECT_THAT(controller.Call(&ControllerStub::GetSweep, request), IsOk());
}

TEST_F(RpcClientTest, CallHonoursTheClientsDeadline) {
  ControllerClient controller = ControllerClient::Connect(server_->address(), absl::Seconds(60));
  farm::v1::GetSweepRequest request;
  request.set_sweep_id("s-1");
  ASSERT_THAT(controller.Call(&ControllerStub::GetSweep, request), IsOk());
  EXPECT_GT(LastDeadlineSecondsAway(), 50);
  EXPECT_LE(LastDeadlineSecondsAway(), 60 + kTimeoutRounding);
}

TEST_F(RpcClientTest, FailedCallKeepsCodeAndMessage) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  farm::v1::GetSweepRequest request;
  request.set_sweep_id("missing");
  EXPECT_THAT(controller.Call(&ControllerStub::GetSweep, request),
              StatusIs(absl::StatusCode::kNotFound, "no sweep 'missing'"));
}

TEST_F(RpcClientTest, UnreachableServerIsUnavailable) {
  ControllerClient controller = ControllerClient::Connect("127.0.0.1:1");
  EXPECT_THAT(controller.Call(&ControllerStub::GetSweep, farm::v1::GetSweepRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RpcClientTest, StreamHandsOverEveryMessageWithoutADeadline) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  farm::v1::WatchSweepRequest request;
  request.set_sweep_id("s-1");
  std::vector<std::string> tasks;
  EXPECT_THAT(controller.Stream(&ControllerStub::WatchSweep, request,
                                [&](const farm::v1::WatchSweepResponse& event) {
                                  tasks.push_back(event.task().task_id());
                                }),
              IsOk());
  EXPECT_THAT(tasks, ElementsAre("t0", "t1"));
  // A watch lasts as long as the sweep: no deadline at all (a year is "none" enough).
  EXPECT_GT(LastDeadlineSecondsAway(), 365 * 24 * 3600.0);
}

TEST_F(RpcClientTest, StreamReturnsTheServersError) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  farm::v1::WatchSweepRequest request;
  request.set_sweep_id("missing");
  int messages = 0;
  EXPECT_THAT(controller.Stream(&ControllerStub::WatchSweep, request,
                                [&](const farm::v1::WatchSweepResponse&) { ++messages; }),
              StatusIs(absl::StatusCode::kNotFound, "no sweep 'missing'"));
  EXPECT_EQ(messages, 0);
}

std::vector<std::string> SweepIds(const std::vector<farm::v1::Sweep>& sweeps) {
  std::vector<std::string> ids;
  for (const farm::v1::Sweep& sweep : sweeps) ids.push_back(sweep.sweep_id());
  return ids;
}

TEST_F(RpcClientTest, CallPagedFollowsTheTokensToTheEnd) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps =
      controller.CallPaged(&ControllerStub::ListSweeps, farm::v1::ListSweepsRequest(),
                           &farm::v1::ListSweepsResponse::sweeps);
  ASSERT_THAT(sweeps, IsOk());
  EXPECT_THAT(SweepIds(*sweeps), ElementsAre("s0", "s1", "s2", "s3", "s4"));
  EXPECT_EQ(service_.list_calls(), 3);
}

TEST_F(RpcClientTest, CallPagedStopsAtTheLimitAndAsksForNoMore) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps =
      controller.CallPaged(&ControllerStub::ListSweeps, farm::v1::ListSweepsRequest(),
                           &farm::v1::ListSweepsResponse::sweeps, /*limit=*/3);
  ASSERT_THAT(sweeps, IsOk());
  EXPECT_THAT(SweepIds(*sweeps), ElementsAre("s0", "s1", "s2"));
  EXPECT_EQ(service_.list_calls(), 2);  // pages of 2, then of the 1 still wanted
}

TEST_F(RpcClientTest, CallPagedRefusesAServerThatRepeatsItsToken) {
  ControllerClient controller = ControllerClient::Connect(server_->address());
  farm::v1::ListSweepsRequest failed;
  failed.add_states(farm::v1::SWEEP_STATE_FAILED);
  EXPECT_THAT(controller.CallPaged(&ControllerStub::ListSweeps, failed,
                                   &farm::v1::ListSweepsResponse::sweeps),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("same page_token")));
}

}  // namespace
}  // namespace kvmfarm::farmctl
