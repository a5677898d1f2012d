// An agent serving from a phone, without a phone: the phone's layout (static arm64
// agent and workload, arm64 image, Debian's arm64 QEMU bundle) in an emulated arm64
// machine with EL2, so with a real arm64 KVM; the agent listens inside it and this
// host reaches it through QEMU's user-mode network (hostfwd, as adb forward does for
// a phone). A host client gets the capability after the agent's own boot check,
// runs native arm64 workloads, and the same workloads in a guest under that KVM.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "common/subprocess.h"
#include "common/testing/run_binary.h"
#include "common/testing/wait_for.h"
#include "common/tls/tls_credentials.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/arm64/emulated_arm64.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::Runfile;
using ::testing::HasSubstr;

// A port on the host's loopback that is free now (QEMU binds it right after).
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

class EmulatedPhoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int port = FreeLoopbackPort();
    ASSERT_NE(port, 0);
    testing::EmulatedArm64 machine;
    machine.kernel_args = "farm.test=serve";
    machine.initramfs = "tests/arm64/phone_initramfs.cpio.gz";
    machine.memory_mib = 2048;
    machine.cpus = 2;
    machine.extra_args = {"-netdev",
                          absl::StrCat("user,id=net0,hostfwd=tcp:127.0.0.1:", port, "-:7420"),
                          "-device", "virtio-net-device,netdev=net0"};
    ProcessSpec spec;
    spec.argv = testing::EmulatedArm64Command(machine);
    spec.timeout = absl::Minutes(10);
    spec.on_stdout_line = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      absl::StrAppend(&console_, line, "\n");
      if (absl::StrContains(line, "farm-agent serving on") && !serving_.HasBeenNotified()) {
        serving_.Notify();
      }
    };
    absl::StatusOr<std::unique_ptr<Subprocess>> qemu = Subprocess::Start(spec);
    ASSERT_TRUE(qemu.ok()) << qemu.status();
    qemu_ = *std::move(qemu);
    // Until the agent says it serves, QEMU exits (e.g. the port was taken after
    // all), or three minutes pass.
    const absl::Time give_up = absl::Now() + absl::Minutes(3);
    while (!serving_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      ASSERT_FALSE(qemu_->WaitFor(absl::ZeroDuration()))
          << "QEMU exited before the agent served: " << qemu_->Wait().stderr_data << "\n"
          << Console();
      ASSERT_LT(absl::Now(), give_up) << "the agent in the emulated phone never served:\n"
                                      << Console();
    }
    // As the lab's controller, expecting the phone's certificate: mutual TLS, as
    // a lab runs it.
    stub_ = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), ControllerCredentials()));
  }
  void TearDown() override {
    if (qemu_) qemu_->Kill();
  }

  // Controller c1 of the phone's lab (phone_lab.tar) dialing device emulated-phone.
  static std::shared_ptr<grpc::ChannelCredentials> ControllerCredentials() {
    const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/phone_lab");
    std::filesystem::create_directories(dir);
    ProcessSpec untar;
    untar.argv = {"tar", "-x", "-C", dir, "-f", Runfile("tests/arm64/phone_lab.tar")};
    absl::StatusOr<ProcessResult> done = RunProcess(untar);
    EXPECT_TRUE(done.ok() && done->Succeeded()) << (done.ok() ? done->stderr_data : "");
    TlsFiles files;
    files.ca = dir + "/ca.crt";
    files.cert = dir + "/controller-c1.crt";
    files.key = dir + "/controller-c1.key";
    std::filesystem::permissions(
        files.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    PeerRule phone;
    phone.lab = "phonelab";
    phone.kind = SpiffeId::Kind::kDevice;
    phone.name = "emulated-phone";
    return MakeChannelCredentials(files, phone);
  }

  std::string Console() {
    absl::MutexLock lock(&mu_);
    return console_;
  }

  // The capability once the agent's background boot check has landed in it.
  farm::v1::KvmCapability CapabilityAfterBootCheck() {
    farm::v1::KvmCapability capability;
    bool answered = true;
    // The check takes seconds under emulation.
    kvmfarm::testing::WaitFor(
        [&] {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
          farm::v1::GetCapabilityResponse response;
          const grpc::Status status =
              stub_->GetCapability(&context, farm::v1::GetCapabilityRequest(), &response);
          EXPECT_TRUE(status.ok()) << status.error_message();
          answered = status.ok();
          if (answered) capability = response.capability();
          return !answered || capability.has_kvm_boot_check();
        },
        absl::Minutes(3), absl::Milliseconds(500));
    return capability;
  }

  farm::v1::BenchmarkResult RunBenchmark(const farm::v1::RunBenchmarkRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
    auto reader = stub_->RunBenchmark(&context, request);
    farm::v1::RunBenchmarkResponse response;
    farm::v1::BenchmarkResult result;
    while (reader->Read(&response)) {
      if (response.has_result()) result = response.result();
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << Console();
    return result;
  }

  static farm::v1::RunBenchmarkRequest Request(const std::string& id, farm::v1::Mode mode) {
    farm::v1::RunBenchmarkRequest request;
    request.set_attempt_id(id);
    request.set_mode(mode);
    request.set_repetitions(2);
    farm::v1::WorkloadSpec* crypto = request.add_workloads();
    crypto->set_name("crypto");
    crypto->set_size_bytes(1 << 20);
    farm::v1::WorkloadSpec* nbody = request.add_workloads();
    nbody->set_name("float");
    nbody->set_iterations(20000);
    return request;
  }

  absl::Mutex mu_;
  std::string console_ ABSL_GUARDED_BY(mu_);
  absl::Notification serving_;
  std::unique_ptr<Subprocess> qemu_;
  std::unique_ptr<farm::v1::AgentService::Stub> stub_;
};

TEST_F(EmulatedPhoneTest, ServesTheVerdictNativeFiguresAndAGuestUnderKvm) {
  const farm::v1::KvmCapability capability = CapabilityAfterBootCheck();
  EXPECT_EQ(capability.device().device_id(), "emulated-phone");
  EXPECT_EQ(capability.device().cpu_arch(), farm::v1::CPU_ARCH_ARM64);
  ASSERT_TRUE(capability.has_kvm_boot_check()) << Console();
  EXPECT_TRUE(capability.kvm_boot_check().succeeded())
      << capability.kvm_boot_check().failure_reason() << "\n"
      << Console();
  EXPECT_EQ(capability.verdict(), farm::v1::VERDICT_KVM_READY);
  // KVM_READY is Debian's kernel booting, not kvmfarm's minimal one.
  EXPECT_EQ(capability.kvm_boot_check().guest().image(), "arm64-debian");

  const farm::v1::BenchmarkResult native =
      RunBenchmark(Request("phone/native", farm::v1::MODE_NATIVE));
  EXPECT_TRUE(native.succeeded()) << native.failure_reason() << native.log();
  ASSERT_EQ(native.measurements_size(), 3) << native.DebugString();
  EXPECT_THAT(native.provenance().kernel_release(), HasSubstr("arm64"));

  farm::v1::RunBenchmarkRequest in_guest = Request("phone/kvm", farm::v1::MODE_KVM);
  in_guest.set_compare_with_native(true);
  in_guest.mutable_guest()->set_image("arm64");
  const farm::v1::BenchmarkResult kvm = RunBenchmark(in_guest);
  EXPECT_TRUE(kvm.succeeded()) << kvm.failure_reason() << kvm.log();
  int under_kvm = 0;
  for (const farm::v1::Measurement& m : kvm.measurements()) {
    if (m.mode() != farm::v1::MODE_KVM) continue;
    ++under_kvm;
    EXPECT_TRUE(m.has_percent_of_native()) << m.metric();
    // For the record (bazel test --test_output=all): figures of emulation, not of
    // a phone; what they show is that every path works.
    std::cout << m.metric() << " under the emulated KVM: " << m.median() << " " << m.unit() << " ("
              << m.percent_of_native() << " % of native)\n";
  }
  EXPECT_EQ(under_kvm, 3) << kvm.DebugString();
  ASSERT_TRUE(kvm.guest_boot().succeeded());
  // kvmfarm's kernel under the emulated machine's KVM, split into its stages (for
  // the record: a figure of emulation, not of a phone).
  ASSERT_EQ(kvm.guest_boot().vms_size(), 1);
  const farm::v1::VmBoot& boot = kvm.guest_boot().vms(0);
  ASSERT_TRUE(boot.has_stages()) << boot.stages_note();
  std::cout << "kvmfarm's arm64 kernel under the emulated KVM: "
            << absl::FormatDuration(FromProtoDuration(boot.time_to_userspace()))
            << " to user space; vmm_start "
            << absl::FormatDuration(FromProtoDuration(boot.stages().vmm_start())) << ", kernel "
            << absl::FormatDuration(FromProtoDuration(boot.stages().kernel())) << ", userspace "
            << absl::FormatDuration(FromProtoDuration(boot.stages().userspace())) << "\n";
}

}  // namespace
}  // namespace kvmfarm
