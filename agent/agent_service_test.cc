// AgentServiceImpl in-process on fixture trees: capability and status answered from
// the probe, and every refusal before a job starts. No QEMU, no farm-workload.
#include "agent/agent_service.h"

#include <grpcpp/grpcpp.h>
#include <sys/statvfs.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "agent/testing/probe_gate.h"
#include "common/grpc_server.h"
#include "common/testing/run_binary.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

AgentConfig FixtureConfig(const std::string& device) {
  AgentConfig config;
  config.probe.sysroot = testing::Runfile("tests/fixtures/devices/" + device);
  config.version = "1.2.3";
  config.listen_address = "127.0.0.1:7000";
  config.native.workload_binary = "farm-workload";
  return config;
}

// The service behind a real gRPC server on 127.0.0.1:0 (GetCapability, GetStatus
// and Cancel are callback methods: only a server calls them), and a client.
class ServedAgent {
 public:
  explicit ServedAgent(AgentConfig config) : service_(std::move(config)) {
    GrpcServerOptions options;
    options.services = {&service_};
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = *std::move(server);
    stub_ = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }
  AgentServiceImpl& service() { return service_; }
  farm::v1::AgentService::Stub& stub() { return *stub_; }

  grpc::Status GetCapability(const farm::v1::GetCapabilityRequest& request,
                             farm::v1::GetCapabilityResponse* response) {
    grpc::ClientContext context;
    return stub_->GetCapability(&context, request, response);
  }
  // With a deadline: it must answer even while refreshes wait.
  grpc::Status GetStatus(farm::v1::GetStatusResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    return stub_->GetStatus(&context, farm::v1::GetStatusRequest(), response);
  }
  grpc::Status Cancel(const std::string& attempt_id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    farm::v1::CancelRequest request;
    request.set_attempt_id(attempt_id);
    farm::v1::CancelResponse response;
    return stub_->Cancel(&context, request, &response);
  }

 private:
  AgentServiceImpl service_;  // outlives the server
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<farm::v1::AgentService::Stub> stub_;
};

// The fixture's probe, held until the test releases it; counts its runs.
class HeldProbe : public testing::ProbeGate {
 public:
  explicit HeldProbe(AgentConfig* config) {
    config->run_probe = [this](const probe::ProbeOptions& options) {
      return Run([&] { return probe::RunProbe(options); });
    };
  }
};

// Refresh calls in flight on the client's callback API (no thread each).
class RefreshCalls {
 public:
  RefreshCalls(farm::v1::AgentService::Stub& stub, int count, absl::Duration deadline) {
    farm::v1::GetCapabilityRequest request;
    request.set_refresh(true);
    for (int i = 0; i < count; ++i) calls_.push_back(std::make_unique<Call>());
    for (std::unique_ptr<Call>& call : calls_) {
      call->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      stub.async()->GetCapability(&call->context, &request, &call->response,
                                  [this, raw = call.get()](grpc::Status status) {
                                    absl::MutexLock lock(&mu_);
                                    raw->status = std::move(status);
                                    ++ended_;
                                  });
    }
  }
  ~RefreshCalls() { WaitUntilAllEnded(); }
  bool WaitUntilAllEnded() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](RefreshCalls* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                         self->mu_) { return self->ended_ == self->calls_.size(); },
                                    this),
                                absl::Seconds(60));
  }
  // How many ended with `code`, and with which verdict when OK.
  int Ended(grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    int count = 0;
    for (const std::unique_ptr<Call>& call : calls_) count += call->status.error_code() == code;
    return count;
  }
  const farm::v1::GetCapabilityResponse& response(int i) const { return calls_[i]->response; }

 private:
  struct Call {
    grpc::ClientContext context;
    farm::v1::GetCapabilityResponse response;
    grpc::Status status = grpc::Status(grpc::StatusCode::UNKNOWN, "not ended");
  };
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Call>> calls_;
  size_t ended_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(AgentServiceTest, CapabilityIsTheFixturesProbe) {
  ServedAgent agent(FixtureConfig("pixel8-stock"));
  ASSERT_TRUE(agent.service().Initialize().ok());
  farm::v1::GetCapabilityResponse response;
  ASSERT_TRUE(agent.GetCapability(farm::v1::GetCapabilityRequest(), &response).ok());
  EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_EQ(response.agent().version(), "1.2.3");
  EXPECT_EQ(response.agent().listen_address(), "127.0.0.1:7000");
  EXPECT_TRUE(response.agent().has_uptime());
}

TEST(AgentServiceTest, ABootCheckOnAFixtureIsOnlyARefresh) {
  ServedAgent agent(FixtureConfig("mtk-d9300-stock"));
  ASSERT_TRUE(agent.service().Initialize().ok());
  farm::v1::GetCapabilityRequest request;
  request.set_boot_check(true);
  farm::v1::GetCapabilityResponse response;
  ASSERT_TRUE(agent.GetCapability(request, &response).ok());
  EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_FALSE(response.capability().has_kvm_boot_check());
  EXPECT_FALSE(agent.service().busy());
  EXPECT_EQ(agent.service().refresh_probes_started(), 1);
}

TEST(AgentServiceTest, StatusSaysFixtureAndIdle) {
  ServedAgent agent(FixtureConfig("pixel8-stock"));
  ASSERT_TRUE(agent.service().Initialize().ok());
  farm::v1::GetStatusResponse response;
  ASSERT_TRUE(agent.GetStatus(&response).ok());
  EXPECT_TRUE(response.is_fixture());
  EXPECT_FALSE(response.has_busy_job());
  EXPECT_EQ(response.device_id(), agent.service().Capability().device().device_id());
  EXPECT_EQ(response.agent().version(), "1.2.3");
}

// Issue 15: a hundred refreshes at once share one probe and hold no thread while
// it runs; GetStatus and Cancel answer meanwhile.
TEST(AgentServiceTest, ConcurrentRefreshesShareOneProbeWhileStatusAnswers) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  HeldProbe probe(&config);
  ServedAgent agent(config);
  RefreshCalls refreshes(agent.stub(), 100, absl::Seconds(60));
  ASSERT_TRUE(testing::WaitFor([&] { return agent.service().refresh_callers_waiting() == 100; }));
  EXPECT_EQ(probe.started(), 1);

  farm::v1::GetStatusResponse status;
  const grpc::Status answered = agent.GetStatus(&status);
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  EXPECT_TRUE(status.is_fixture());
  EXPECT_EQ(agent.Cancel("nothing").error_code(), grpc::StatusCode::NOT_FOUND);

  probe.Release();
  ASSERT_TRUE(refreshes.WaitUntilAllEnded());
  EXPECT_EQ(refreshes.Ended(grpc::StatusCode::OK), 100);
  EXPECT_EQ(refreshes.response(99).capability().verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_EQ(probe.started(), 1);
  EXPECT_EQ(agent.service().refresh_probes_started(), 1);
  EXPECT_EQ(agent.service().Capability().verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
}

// Callers whose deadline passed leave at once; the probe in flight ends once,
// unheard, and none starts for them. The next refresh probes afresh.
TEST(AgentServiceTest, RefreshCallersThatGaveUpStartNoFurtherProbe) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  HeldProbe probe(&config);
  ServedAgent agent(config);
  {
    RefreshCalls refreshes(agent.stub(), 50, absl::Milliseconds(500));
    ASSERT_TRUE(refreshes.WaitUntilAllEnded());
    EXPECT_EQ(refreshes.Ended(grpc::StatusCode::DEADLINE_EXCEEDED), 50);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return agent.service().refresh_callers_waiting() == 0; }));
  probe.Release();
  ASSERT_TRUE(testing::WaitFor([&] { return probe.finished() >= 1; }));
  EXPECT_EQ(probe.started(), 1);
  EXPECT_EQ(agent.service().refresh_probes_started(), 1);

  farm::v1::GetCapabilityRequest refresh;
  refresh.set_refresh(true);
  farm::v1::GetCapabilityResponse response;
  ASSERT_TRUE(agent.GetCapability(refresh, &response).ok());
  EXPECT_EQ(probe.started(), 2);
}

TEST(AgentServiceTest, AFixtureTreeMeasuresNothing) {
  AgentServiceImpl service(FixtureConfig("sd835"));
  ASSERT_TRUE(service.Initialize().ok());
  grpc::ServerContext context;
  farm::v1::RunBenchmarkRequest benchmark;
  benchmark.set_attempt_id("a1");
  benchmark.set_mode(farm::v1::MODE_NATIVE);
  benchmark.add_workloads()->set_name("integer");
  grpc::Status status = service.RunBenchmark(&context, &benchmark, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("fixture tree"));
  farm::v1::BootVmRequest boot;
  boot.set_attempt_id("b1");
  boot.set_accel(farm::v1::MODE_TCG);
  status = service.BootVm(&context, &boot, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(service.busy());
}

// On the device itself (sysroot "/", never initialized: no probe runs), requests are
// still checked before any job starts.
TEST(AgentServiceTest, BadRequestsAreRefusedBeforeAJobStarts) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  config.probe.sysroot = "/";
  config.vm.image_dir = "/nonexistent/images";
  AgentServiceImpl service(config);
  grpc::ServerContext context;

  farm::v1::RunBenchmarkRequest no_attempt;
  no_attempt.set_mode(farm::v1::MODE_NATIVE);
  no_attempt.add_workloads()->set_name("integer");
  grpc::Status status = service.RunBenchmark(&context, &no_attempt, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("attempt_id"));

  farm::v1::RunBenchmarkRequest in_guest = no_attempt;
  in_guest.set_attempt_id("a2");
  in_guest.set_mode(farm::v1::MODE_TCG);
  status = service.RunBenchmark(&context, &in_guest, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("/nonexistent/images does not exist"));

  farm::v1::BootVmRequest boot;
  boot.set_attempt_id("b2");
  boot.set_accel(farm::v1::MODE_UNSPECIFIED);
  status = service.BootVm(&context, &boot, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(service.busy());
}

// 18446744074 s wrapped to 290 ms and 9223372037 s to "not positive" when read
// through int64 nanoseconds; each is refused for what it is, naming the field.
TEST(AgentServiceTest, DeadlinesBeyondADayAreRefusedNamingTheField) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  config.probe.sysroot = "/";
  AgentServiceImpl service(config);
  grpc::ServerContext context;

  farm::v1::RunBenchmarkRequest benchmark;
  benchmark.set_attempt_id("a4");
  benchmark.set_mode(farm::v1::MODE_NATIVE);
  benchmark.add_workloads()->set_name("integer");
  benchmark.mutable_deadline()->set_seconds(18'446'744'074);
  grpc::Status status = service.RunBenchmark(&context, &benchmark, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "deadline: 18446744074s is more than the 24h allowed");

  farm::v1::BootVmRequest boot;
  boot.set_attempt_id("b4");
  boot.set_accel(farm::v1::MODE_TCG);
  boot.mutable_boot_deadline()->set_seconds(9'223'372'037);
  status = service.BootVm(&context, &boot, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "boot_deadline: 9223372037s is more than the 24h allowed");

  boot.clear_boot_deadline();
  boot.mutable_deadline()->set_seconds(5);
  boot.mutable_deadline()->set_nanos(-1);
  status = service.BootVm(&context, &boot, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("deadline: seconds 5 and nanos -1"));
  EXPECT_FALSE(service.busy());
}

TEST(AgentServiceTest, WithoutFarmWorkloadNativeBenchmarksAreRefused) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  config.probe.sysroot = "/";
  config.native.workload_binary.clear();
  AgentServiceImpl service(config);
  grpc::ServerContext context;
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("a3");
  request.set_mode(farm::v1::MODE_NATIVE);
  request.add_workloads()->set_name("integer");
  const grpc::Status status = service.RunBenchmark(&context, &request, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("farm-workload was not found"));
}

// A phone's storage is its owner's: an io file that would nearly fill the work
// directory's filesystem is refused before anything is written.
TEST(AgentServiceTest, AnIoJobThatWouldFillTheDeviceIsRefusedNamingBothFigures) {
  constexpr uint64_t kLargestIo = uint64_t{64} << 30;
  AgentConfig config = FixtureConfig("pixel8-stock");
  config.probe.sysroot = "/";
  config.native.work_dir = "/dev/shm";  // smaller than the largest io on most machines
  struct statvfs fs;
  if (statvfs(config.native.work_dir.c_str(), &fs) != 0 ||
      uint64_t{fs.f_bavail} * fs.f_frsize > kLargestIo) {
    GTEST_SKIP() << "no filesystem with less than 64 GiB free at /dev/shm";
  }
  AgentServiceImpl service(config);
  grpc::ServerContext context;
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("a5");
  request.set_mode(farm::v1::MODE_NATIVE);
  request.add_workloads()->set_name("integer");
  farm::v1::WorkloadSpec* io = request.add_workloads();
  io->set_name("io");
  io->set_size_bytes(kLargestIo);
  const grpc::Status status = service.RunBenchmark(&context, &request, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              AllOf(HasSubstr(absl::StrCat("the io workload needs ", kLargestIo, " bytes")),
                    HasSubstr("in /dev/shm"), HasSubstr("are free")));
  EXPECT_FALSE(service.busy());
}

TEST(AgentServiceTest, TheBackgroundBootCheckSaysWhenTheSlotIsFreeAgain) {
  AgentConfig config = FixtureConfig("pixel8-stock");
  config.probe.sysroot = "/";
  config.vm.image_dir = "/nonexistent/images";  // the check ends quickly, unbooted
  AgentServiceImpl service(config);
  ASSERT_TRUE(service.Initialize().ok());
  absl::Notification done;
  bool busy_when_told = true;
  service.StartBackgroundBootCheck([&] {
    busy_when_told = service.busy();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Minutes(2)));
  EXPECT_FALSE(busy_when_told);
  // The check ran (booted, failed, or skipped for a reason on this machine).
  const farm::v1::KvmCapability capability = service.Capability();
  bool checked = false;
  for (const farm::v1::Check& check : capability.checks()) {
    if (check.name() == "kvm.boot_check") checked = true;
  }
  EXPECT_TRUE(checked) << capability.DebugString();
  service.StopJobs();
}

TEST(AgentServiceTest, CancelOfNoJobIsNotFound) {
  ServedAgent agent(FixtureConfig("pixel8-stock"));
  EXPECT_EQ(agent.Cancel("nothing").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(agent.Cancel("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kvmfarm
