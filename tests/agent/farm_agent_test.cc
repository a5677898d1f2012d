// farm-agent as a process: the one-shot probe CLI, and the gRPC server on port 0
// answering a real client (capability, status, health, refusals) until SIGTERM.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/subprocess.h"
#include "common/testing/grpc_raw.h"
#include "common/testing/status_matchers.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/kvmfarm/", path);
}

std::string Agent() { return Runfile("agent/farm-agent"); }
std::string Fixture(const std::string& name) {
  return Runfile("tests/fixtures/devices/" + name);
}

ProcessResult RunAgent(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {Agent()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(60);
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  EXPECT_THAT(result, IsOk());
  return result.ok() ? *result : ProcessResult();
}

TEST(FarmAgentCliTest, ProbePrintsTheReportForAFixture) {
  const ProcessResult result = RunAgent({"--probe", "--sysroot", Fixture("pixel8-stock")});
  EXPECT_TRUE(result.Succeeded()) << result.stderr_data;
  EXPECT_THAT(result.stdout_data, HasSubstr("FAIL  kvm.open"));
  EXPECT_THAT(result.stdout_data, HasSubstr("Verdict: KVM_NO_ACCESS"));
  EXPECT_THAT(result.stdout_data, HasSubstr("Recommendation: TCG only"));
}

TEST(FarmAgentCliTest, ProbeJsonIsAKvmCapability) {
  const ProcessResult result =
      RunAgent({"--probe", "--json", "--sysroot", Fixture("mtk-d9300-stock")});
  ASSERT_TRUE(result.Succeeded()) << result.stderr_data;
  farm::v1::KvmCapability capability;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.stdout_data, &capability).ok())
      << result.stdout_data;
  EXPECT_EQ(capability.verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_EQ(capability.hypervisor_kind(), farm::v1::HYPERVISOR_KIND_GENIEZONE);
  EXPECT_EQ(capability.device().soc_marketing_name(), "Dimensity 9300");
}

TEST(FarmAgentCliTest, ProbeOfThisMachineRuns) {
  const ProcessResult result = RunAgent({"--probe"});
  EXPECT_TRUE(result.Succeeded()) << result.stderr_data;
  EXPECT_THAT(result.stdout_data, HasSubstr("Verdict: "));
}

TEST(FarmAgentCliTest, BadInputsAreOneClearLineAndExit2) {
  ProcessResult result = RunAgent({"--probe", "--sysroot", "/nonexistent/tree"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("--sysroot '/nonexistent/tree'"));
  result = RunAgent({"--probe", "--props", "/nonexistent/props.txt"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("--props"));
  result = RunAgent({"--probe", "stray"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("unexpected argument 'stray'"));
  result = RunAgent({"--listen", "nonsense"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("not host:port"));
}

// A farm-agent serving on 127.0.0.1:0; the address comes from its log line, so the
// test waits for the event, not for time.
class RunningAgent {
 public:
  explicit RunningAgent(std::vector<std::string> args) {
    ProcessSpec spec;
    spec.argv = {Agent(), "--listen", "127.0.0.1:0"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.timeout = absl::Seconds(120);
    spec.on_stderr_line = [this](absl::string_view line) {
      const size_t at = line.find("farm-agent serving on ");
      if (at == absl::string_view::npos) return;
      absl::string_view rest = line.substr(at + 22);
      absl::MutexLock lock(&mu_);
      address_ = std::string(rest.substr(0, rest.find(' ')));
      if (!listening_.HasBeenNotified()) listening_.Notify();
    };
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
    EXPECT_THAT(process, IsOk());
    if (process.ok()) process_ = *std::move(process);
  }

  // Waits until the agent says it listens (its address) or exits early (""),
  // at most a minute.
  std::string WaitUntilListening() {
    if (!process_) return "";
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (!listening_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      if (process_->WaitFor(absl::ZeroDuration())) {
        ADD_FAILURE() << "farm-agent exited early: " << process_->Wait().stderr_data;
        return "";
      }
      if (absl::Now() > give_up) return "";
    }
    absl::MutexLock lock(&mu_);
    return address_;
  }

  Subprocess& process() { return *process_; }

 private:
  std::unique_ptr<Subprocess> process_;
  absl::Mutex mu_;
  std::string address_;
  absl::Notification listening_;
};

TEST(FarmAgentServerTest, ServesCapabilityStatusAndHealthThenStopsOnSigterm) {
  RunningAgent agent({"--sysroot", Fixture("pixel8-kvm"), "--device-id", "bench-7"});
  const std::string address = agent.WaitUntilListening();
  ASSERT_FALSE(address.empty()) << "farm-agent never said it was listening";
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = farm::v1::AgentService::NewStub(channel);

  {
    grpc::ClientContext context;
    farm::v1::GetCapabilityResponse response;
    ASSERT_TRUE(
        stub->GetCapability(&context, farm::v1::GetCapabilityRequest(), &response).ok());
    EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
    EXPECT_EQ(response.capability().hypervisor_kind(), farm::v1::HYPERVISOR_KIND_PKVM);
    EXPECT_EQ(response.capability().device().device_id(), "bench-7");
    EXPECT_FALSE(response.agent().version().empty());
  }
  {
    grpc::ClientContext context;
    farm::v1::GetCapabilityRequest refresh;
    refresh.set_refresh(true);
    farm::v1::GetCapabilityResponse response;
    ASSERT_TRUE(stub->GetCapability(&context, refresh, &response).ok());
    EXPECT_EQ(response.capability().device().soc_marketing_name(), "Tensor G3");
  }
  {
    grpc::ClientContext context;
    farm::v1::GetStatusResponse response;
    ASSERT_TRUE(stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response).ok());
    EXPECT_EQ(response.device_id(), "bench-7");
    EXPECT_TRUE(response.is_fixture());
    EXPECT_FALSE(response.has_busy_job());
  }
  {
    std::string health;
    grpc::Status status = testing::CallRawUnary(channel, "/grpc.health.v1.Health/Check",
                                                "", &health);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(health, testing::kHealthServing);
  }
  {
    // A fixture agent refuses measurements: its numbers would be this host's.
    grpc::ClientContext context;
    farm::v1::RunBenchmarkRequest request;
    request.set_attempt_id("a-1");
    request.set_mode(farm::v1::MODE_NATIVE);
    auto reader = stub->RunBenchmark(&context, request);
    farm::v1::RunBenchmarkResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_THAT(FromGrpcStatus(reader->Finish()),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fixture")));
  }
  {
    grpc::ClientContext context;
    farm::v1::BootVmRequest request;
    auto reader = stub->BootVm(&context, request);
    farm::v1::BootVmResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_THAT(FromGrpcStatus(reader->Finish()),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  {
    grpc::ClientContext context;
    farm::v1::CancelResponse response;
    EXPECT_THAT(FromGrpcStatus(stub->Cancel(&context, farm::v1::CancelRequest(), &response)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt_id")));
    grpc::ClientContext context2;
    farm::v1::CancelRequest request;
    request.set_attempt_id("nope");
    EXPECT_THAT(FromGrpcStatus(stub->Cancel(&context2, request, &response)),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("'nope'")));
  }

  ASSERT_EQ(::kill(agent.process().pid(), SIGTERM), 0);
  const ProcessResult result = agent.process().Wait();
  EXPECT_EQ(result.exit_code, 0) << result.Describe() << "\n" << result.stderr_data;
  EXPECT_THAT(result.stderr_data, HasSubstr("shutting down"));
}

TEST(FarmAgentServerTest, TwoAgentsCannotShareAPort) {
  RunningAgent first({"--sysroot", Fixture("sd835")});
  const std::string address = first.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  const ProcessResult second = RunAgent({"--sysroot", Fixture("sd835"), "--listen", address});
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_THAT(second.stderr_data, HasSubstr("cannot listen on " + address));
}

}  // namespace
}  // namespace kvmfarm
