// Real guest boots under TCG with the images //guest_images builds: boot marker,
// several VMs at once, switch latency, workloads inside a guest, a guest that never
// boots killed at its deadline, and no QEMU left behind.
#include "agent/vm/boot.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/probe/qemu.h"
#include "agent/vm/guest_workloads.h"
#include "agent/vm/image.h"
#include "agent/vm/provenance.h"
#include "common/measurement.h"
#include "common/proto_time.h"
#include "common/testing/run_binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::testing::HasSubstr;

// Children of this process that are still alive (a leaked QEMU would show here).
int LiveChildren() {
  int count = 0;
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    std::ifstream stat(absl::StrCat("/proc/", entry->d_name, "/stat"));
    std::string line;
    if (!std::getline(stat, line)) continue;
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    std::sscanf(line.c_str() + paren + 2, "%c %d", &state, &ppid);
    if (ppid == getpid()) ++count;
  }
  closedir(proc);
  return count;
}

// A boot's stages: each there, the first two adding up to the host's time to user
// space, and the same figures as the job's boot.* measurements.
void ExpectStages(const farm::v1::BootResult& result) {
  ASSERT_EQ(result.vms_size(), 1);
  const farm::v1::VmBoot& vm = result.vms(0);
  ASSERT_TRUE(vm.has_stages()) << vm.stages_note();
  const absl::Duration vmm_start = FromProtoDuration(vm.stages().vmm_start());
  const absl::Duration kernel = FromProtoDuration(vm.stages().kernel());
  const absl::Duration userspace = FromProtoDuration(vm.stages().userspace());
  EXPECT_GT(vmm_start, absl::ZeroDuration());
  EXPECT_GT(kernel, absl::ZeroDuration());
  EXPECT_GT(userspace, absl::ZeroDuration());
  EXPECT_EQ(vmm_start + kernel, FromProtoDuration(vm.time_to_userspace()));
  // The kernel stage is the kernel's clock at the marker (its centisecond uptime)
  // and what ran before that clock started.
  EXPECT_GE(absl::ToDoubleSeconds(kernel),
            absl::ToDoubleSeconds(FromProtoDuration(vm.guest_uptime())) - 0.011);
  std::map<std::string, double> medians;
  for (const farm::v1::Measurement& m : result.measurements()) medians[m.metric()] = m.median();
  EXPECT_DOUBLE_EQ(medians["boot.vmm_start"], absl::ToDoubleSeconds(vmm_start));
  EXPECT_DOUBLE_EQ(medians["boot.kernel"], absl::ToDoubleSeconds(kernel));
  EXPECT_DOUBLE_EQ(medians["boot.userspace"], absl::ToDoubleSeconds(userspace));
  // For the record (bazel test --test_output=all).
  std::cout << result.guest().image() << ": "
            << absl::FormatDuration(FromProtoDuration(vm.time_to_userspace()))
            << " to user space; vmm_start " << absl::FormatDuration(vmm_start) << ", kernel "
            << absl::FormatDuration(kernel) << ", userspace " << absl::FormatDuration(userspace)
            << "\n";
}

class BootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The runfiles link each image file out of the tree, which ResolveImage refuses.
    options_.image_dir = RealImageDirBehindLinks(testing::Runfile("guest_images/images"));
    if (!ResolveImage(options_.image_dir, HostImageName()).ok()) {
      GTEST_SKIP() << "no guest image built";
    }
    if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0) {
      GTEST_SKIP() << "QEMU is not installed (tools/setup.sh installs it)";
    }
    options_.default_boot_deadline = absl::Seconds(60);
    options_.work_dir = std::getenv("TEST_TMPDIR");
  }
  void TearDown() override { EXPECT_EQ(LiveChildren(), 0) << "a QEMU outlived its job"; }

  farm::v1::BootVmRequest Request(uint32_t vm_count) {
    farm::v1::BootVmRequest request;
    request.set_attempt_id("boot-test");
    request.set_accel(farm::v1::MODE_TCG);
    request.set_vm_count(vm_count);
    request.mutable_guest()->set_image(HostImageName());
    return request;
  }

  BootJobOptions options_;
};

TEST_F(BootTest, OneGuestReachesUserSpaceUnderTcg) {
  std::vector<farm::v1::Progress> progress;
  const farm::v1::BootResult result = RunBootJob(
      Request(1), options_,
      {nullptr, nullptr, [&progress](const farm::v1::Progress& p) { progress.push_back(p); }});
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  ASSERT_EQ(result.vms_size(), 1);
  EXPECT_TRUE(result.vms(0).reached_userspace());
  EXPECT_GT(FromProtoDuration(result.vms(0).time_to_userspace()), absl::ZeroDuration());
  EXPECT_GT(FromProtoDuration(result.vms(0).guest_uptime()), absl::ZeroDuration());
  // The host saw the marker after the guest's clock started.
  EXPECT_GE(FromProtoDuration(result.vms(0).time_to_userspace()),
            FromProtoDuration(result.vms(0).guest_uptime()));
  // The overhead is QEMU's memory beyond the guest RAM it backs, against the RAM.
  const farm::v1::VmBoot& vm = result.vms(0);
  EXPECT_EQ(vm.guest_ram_kb(), 256 * 1024);
  EXPECT_GT(vm.guest_mem_used_kb(), 0);
  EXPECT_GT(vm.guest_ram_resident_kb(), 0);
  EXPECT_LE(vm.guest_ram_resident_kb(), vm.guest_ram_kb());
  EXPECT_GT(vm.qemu_rss_kb(), vm.guest_ram_resident_kb());
  ASSERT_TRUE(vm.has_memory_overhead_percent());
  EXPECT_NEAR(vm.memory_overhead_percent(),
              100.0 * (vm.qemu_rss_kb() - vm.guest_ram_resident_kb()) / vm.guest_ram_kb(), 1e-9);
  EXPECT_THAT(vm.last_console_lines(), ::testing::Contains(HasSubstr("FARM_BOOTED")));
  EXPECT_EQ(result.machine(), "microvm");
  EXPECT_EQ(result.guest().cpu_model(), "qemu64");
  ASSERT_GE(result.measurements_size(), 2);
  EXPECT_EQ(result.measurements(0).metric(), "boot.time_to_userspace");
  EXPECT_EQ(result.measurements(0).mode(), farm::v1::MODE_TCG);
  EXPECT_GE(progress.size(), 2u);
  ExpectStages(result);
}

// kvmfarm's kernel (the default image) and Debian's boot the same guest, and both
// say where their time went.
TEST_F(BootTest, TheDebianKernelsImageBootsWithItsStagesToo) {
  farm::v1::BootVmRequest request = Request(1);
  request.mutable_guest()->set_image(DistributionImageName());
  const farm::v1::BootResult result = RunBootJob(request, options_);
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  ExpectStages(result);
  // The boot names the kernel it booted, so a comparison across images says so.
  const absl::StatusOr<GuestImage> debian =
      ResolveImage(options_.image_dir, DistributionImageName());
  const absl::StatusOr<GuestImage> kvmfarm = ResolveImage(options_.image_dir, HostImageName());
  ASSERT_TRUE(debian.ok() && kvmfarm.ok());
  EXPECT_EQ(result.provenance().guest_image_sha256(), ImageSha256(*debian));
  EXPECT_NE(result.provenance().guest_image_sha256(), ImageSha256(*kvmfarm));
  EXPECT_THAT(result.provenance().qemu_version(), HasSubstr("."));
}

// Two vCPUs boot with either kernel (Debian's hung bringing up the second one when
// the PIT was its only tick).
TEST_F(BootTest, TwoVcpuGuestsBootWithEitherKernel) {
  for (const std::string& image : {HostImageName(), DistributionImageName()}) {
    farm::v1::BootVmRequest request = Request(1);
    request.mutable_guest()->set_image(image);
    request.mutable_guest()->set_vcpus(2);
    const farm::v1::BootResult result = RunBootJob(request, options_);
    EXPECT_TRUE(result.succeeded()) << image << ": " << result.failure_reason();
  }
}

TEST_F(BootTest, ThreeGuestsAtOnceAndSwitchLatency) {
  farm::v1::BootVmRequest request = Request(3);
  request.set_measure_switch_latency(true);
  const farm::v1::BootResult result = RunBootJob(request, options_);
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  EXPECT_EQ(result.vms_size(), 3);
  std::map<std::string, farm::v1::Measurement> by_metric;
  for (const farm::v1::Measurement& m : result.measurements()) by_metric[m.metric()] = m;
  ASSERT_EQ(by_metric.count("boot.all_of_n"), 1u);
  EXPECT_EQ(by_metric["boot.time_to_userspace"].values_size(), 3);
  // The last of three is never faster than any one of them.
  EXPECT_GE(by_metric["boot.all_of_n"].median(), by_metric["boot.time_to_userspace"].max() - 1e-9);
  ASSERT_EQ(by_metric.count("boot.switch_latency"), 1u);
  EXPECT_EQ(by_metric["boot.switch_latency"].values_size(), options_.switch_samples);
  EXPECT_EQ(by_metric["boot.switch_latency"].unit(), "ms");
  EXPECT_GT(by_metric["boot.switch_latency"].median(), 0);
}

TEST_F(BootTest, AGuestThatNeverBootsIsKilledAtItsDeadline) {
  farm::v1::BootVmRequest request = Request(1);
  BootJobOptions options = options_;
  options.default_boot_deadline = absl::Seconds(8);
  // QEMU refuses an unknown CPU model and exits: reported with its last words.
  request.mutable_guest()->set_cpu_model("no-such-cpu");
  farm::v1::BootResult result = RunBootJob(request, options);
  EXPECT_FALSE(result.succeeded());
  EXPECT_THAT(result.vms(0).failure_reason(), HasSubstr("before the boot marker"));
  EXPECT_FALSE(result.vms(0).last_console_lines().empty());

  // A guest still booting at its deadline is killed with its process group.
  request.mutable_guest()->set_cpu_model("");
  request.mutable_boot_deadline()->set_nanos(50000000);  // 50 ms: far too short for any boot
  const absl::Time start = absl::Now();
  result = RunBootJob(request, options);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_FALSE(result.succeeded());
  EXPECT_THAT(result.failure_reason(), HasSubstr("no boot marker within 50ms; QEMU was killed"));
}

TEST_F(BootTest, Arm64GuestBootsUnderTcg) {
  farm::v1::BootVmRequest request = Request(1);
  request.mutable_guest()->set_image("arm64");
  const farm::v1::BootResult result = RunBootJob(request, options_);
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  EXPECT_EQ(result.machine(), "virt");
  EXPECT_EQ(result.guest().cpu_model(), "cortex-a72");
  EXPECT_EQ(result.guest_arch(), farm::v1::CPU_ARCH_ARM64);
}

// A phone has no glibc: its QEMU is a bundle started through glibc's loader. The
// same mechanism with this machine's own QEMU: the probe finds it, and an arm64
// guest boots through it.
TEST_F(BootTest, AGuestBootsThroughAQemuBundle) {
  const std::string bundle = absl::StrCat(std::getenv("TEST_TMPDIR"), "/qemu-bundle");
  ASSERT_EQ(::mkdir(bundle.c_str(), 0755), 0);
  const ProcessResult untar = testing::RunBinary(
      "/bin/tar", {"-xf", testing::Runfile("tools/deploy/qemu_bundle_host.tar"), "-C", bundle});
  ASSERT_TRUE(untar.Succeeded()) << untar.stderr_data;

  absl::StatusOr<farm::v1::QemuBinary> found = probe::QueryQemu(bundle);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->bundled());
  EXPECT_EQ(found->guest_arch(), farm::v1::CPU_ARCH_ARM64);
  EXPECT_THAT(found->version(), HasSubstr("QEMU emulator version"));
  EXPECT_THAT(found->accelerators(), ::testing::Contains("tcg"));

  options_.qemu_binary = bundle;
  farm::v1::BootVmRequest request = Request(1);
  request.mutable_guest()->set_image("arm64");
  const farm::v1::BootResult result = RunBootJob(request, options_);
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  EXPECT_EQ(result.guest_arch(), farm::v1::CPU_ARCH_ARM64);
}

// Crypto, n-body and io (on the guest's scratch disk), two repetitions each, in a
// TCG guest of `image`.
farm::v1::RunBenchmarkRequest GuestBenchmarkRequest(const std::string& image) {
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("guest-bench");
  request.set_mode(farm::v1::MODE_TCG);
  request.set_repetitions(2);
  auto* crypto = request.add_workloads();
  crypto->set_name("crypto");
  crypto->set_size_bytes(1 << 20);
  auto* nbody = request.add_workloads();
  nbody->set_name("float");
  nbody->set_iterations(1000);
  auto* io = request.add_workloads();
  io->set_name("io");
  io->set_size_bytes(1 << 20);
  request.mutable_guest()->set_memory_mib(256);
  if (!image.empty()) request.mutable_guest()->set_image(image);
  return request;
}

void ExpectAllWorkloadsRanInTheGuest(const farm::v1::BenchmarkResult& result) {
  ASSERT_EQ(result.measurements_size(), 5) << result.failure_reason() << result.log();
  for (const farm::v1::Measurement& m : result.measurements()) {
    EXPECT_EQ(m.mode(), farm::v1::MODE_TCG);
    EXPECT_EQ(m.values_size(), 2);
  }
  // io ran on the guest's scratch disk, not on its RAM root.
  EXPECT_EQ(result.failures_size(), 0) << result.failures(0).reason();
  EXPECT_THAT(result.log(), HasSubstr("FARM_DISK /dev/vda mounted"));
  EXPECT_TRUE(result.guest_boot().vms(0).reached_userspace());
  EXPECT_THAT(result.log(), HasSubstr("FARM_BOOTED"));
}

TEST_F(BootTest, WorkloadsRunInsideAGuest) {
  std::vector<farm::v1::Progress> progress;
  const farm::v1::BenchmarkResult result = RunWorkloadsInGuest(
      GuestBenchmarkRequest(""), options_,
      {nullptr, nullptr, [&progress](const farm::v1::Progress& p) { progress.push_back(p); }});
  ExpectAllWorkloadsRanInTheGuest(result);
  ASSERT_FALSE(progress.empty());
  EXPECT_THAT(progress.front().message(), HasSubstr("in the guest"));
}

// The arm64 image carries the cross-built farm-workload: on an x86 host only TCG
// runs it; on a phone, -accel kvm takes the same image.
TEST_F(BootTest, WorkloadsRunInsideAnArm64Guest) {
  const farm::v1::BenchmarkResult result =
      RunWorkloadsInGuest(GuestBenchmarkRequest("arm64"), options_, {});
  ExpectAllWorkloadsRanInTheGuest(result);
  EXPECT_EQ(result.guest().cpu_model(), "cortex-a72");
  // Measured by the guest's own farm-workload, on the arm64 kernel.
  EXPECT_THAT(result.provenance().kernel_release(), HasSubstr("arm64"));
  // On another architecture's host the figures say so, and keep apart from a
  // same-architecture guest's.
  for (const farm::v1::Measurement& m : result.measurements()) {
    if (HostArch() == farm::v1::CPU_ARCH_ARM64) {
      EXPECT_FALSE(m.parameters().count(kGuestArchParameter)) << m.metric();
    } else {
      ASSERT_TRUE(m.parameters().count(kGuestArchParameter)) << m.metric();
      EXPECT_EQ(m.parameters().at(kGuestArchParameter), "arm64");
    }
  }
}

}  // namespace
}  // namespace kvmfarm::vm
