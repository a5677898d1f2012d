// AgentServiceImpl in-process on fixture trees: capability and status answered from
// the probe, and every refusal before a job starts. No QEMU, no farm-workload.
#include "agent/agent_service.h"

#include <grpcpp/grpcpp.h>
#include <sys/statvfs.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/testing/run_binary.h"
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

TEST(AgentServiceTest, CapabilityIsTheFixturesProbe) {
  AgentServiceImpl service(FixtureConfig("pixel8-stock"));
  ASSERT_TRUE(service.Initialize().ok());
  grpc::ServerContext context;
  farm::v1::GetCapabilityRequest request;
  farm::v1::GetCapabilityResponse response;
  ASSERT_TRUE(service.GetCapability(&context, &request, &response).ok());
  EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_EQ(response.agent().version(), "1.2.3");
  EXPECT_EQ(response.agent().listen_address(), "127.0.0.1:7000");
  EXPECT_TRUE(response.agent().has_uptime());
}

TEST(AgentServiceTest, ABootCheckOnAFixtureIsOnlyARefresh) {
  AgentServiceImpl service(FixtureConfig("mtk-d9300-stock"));
  ASSERT_TRUE(service.Initialize().ok());
  grpc::ServerContext context;
  farm::v1::GetCapabilityRequest request;
  request.set_boot_check(true);
  farm::v1::GetCapabilityResponse response;
  ASSERT_TRUE(service.GetCapability(&context, &request, &response).ok());
  EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_FALSE(response.capability().has_kvm_boot_check());
  EXPECT_FALSE(service.busy());
}

TEST(AgentServiceTest, StatusSaysFixtureAndIdle) {
  AgentServiceImpl service(FixtureConfig("pixel8-stock"));
  ASSERT_TRUE(service.Initialize().ok());
  grpc::ServerContext context;
  farm::v1::GetStatusRequest request;
  farm::v1::GetStatusResponse response;
  ASSERT_TRUE(service.GetStatus(&context, &request, &response).ok());
  EXPECT_TRUE(response.is_fixture());
  EXPECT_FALSE(response.has_busy_job());
  EXPECT_EQ(response.device_id(), service.Capability().device().device_id());
  EXPECT_EQ(response.agent().version(), "1.2.3");
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
  AgentServiceImpl service(FixtureConfig("pixel8-stock"));
  grpc::ServerContext context;
  farm::v1::CancelRequest request;
  request.set_attempt_id("nothing");
  farm::v1::CancelResponse response;
  EXPECT_EQ(service.Cancel(&context, &request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.clear_attempt_id();
  EXPECT_EQ(service.Cancel(&context, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kvmfarm
