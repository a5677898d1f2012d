#include "agent/vm/qemu_command.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;

VmSpec Spec(farm::v1::CpuArch arch, farm::v1::Mode accel) {
  VmSpec spec;
  spec.image.arch = arch;
  spec.image.kernel = "/images/x/kernel";
  spec.image.initramfs = "/images/x/initramfs.cpio.gz";
  spec.accel = accel;
  spec.vcpus = 2;
  spec.memory_mib = 512;
  return spec;
}

std::string After(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

TEST(QemuCommandTest, X86KvmUsesMicrovmAndTheHostCpu) {
  absl::StatusOr<QemuCommand> cmd =
      BuildQemuCommand(Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_KVM), "");
  ASSERT_THAT(cmd, IsOk());
  EXPECT_EQ(cmd->argv[0], "qemu-system-x86_64");
  EXPECT_EQ(cmd->machine, "microvm");
  EXPECT_EQ(cmd->cpu_model, "host");
  EXPECT_EQ(After(cmd->argv, "-accel"), "kvm");
  EXPECT_EQ(After(cmd->argv, "-smp"), "2");
  EXPECT_EQ(After(cmd->argv, "-m"), "512");
  EXPECT_EQ(After(cmd->argv, "-kernel"), "/images/x/kernel");
  EXPECT_THAT(After(cmd->argv, "-append"), HasSubstr("console=ttyS0"));
  EXPECT_THAT(cmd->argv, Contains("-no-reboot"));
}

TEST(QemuCommandTest, AnImageWithoutAcpiBootsMicrovmWithoutIt) {
  VmSpec spec = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_KVM);
  EXPECT_EQ(After(BuildQemuCommand(spec, "")->argv, "-M"),
            "microvm,x-option-roms=off,rtc=on,isa-serial=on");
  spec.image.acpi = false;
  EXPECT_EQ(After(BuildQemuCommand(spec, "")->argv, "-M"),
            "microvm,x-option-roms=off,rtc=on,isa-serial=on,acpi=off");
}

TEST(QemuCommandTest, OnlyOneVcpuTcgMicrovmTicksOnThePit) {
  VmSpec spec = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_TCG);
  spec.vcpus = 1;
  EXPECT_THAT(After(BuildQemuCommand(spec, "")->argv, "-append"), HasSubstr(" nolapic_timer"));
  spec.vcpus = 2;  // Debian's kernel would hang bringing up the second vCPU
  EXPECT_THAT(After(BuildQemuCommand(spec, "")->argv, "-append"),
              ::testing::Not(HasSubstr("nolapic_timer")));
  spec.vcpus = 1;
  spec.machine = "pc";  // the stock boot stays stock
  EXPECT_THAT(After(BuildQemuCommand(spec, "")->argv, "-append"),
              ::testing::Not(HasSubstr("nolapic_timer")));
  VmSpec kvm = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_KVM);
  kvm.vcpus = 1;
  EXPECT_THAT(After(BuildQemuCommand(kvm, "")->argv, "-append"),
              ::testing::Not(HasSubstr("nolapic_timer")));
  VmSpec arm = Spec(farm::v1::CPU_ARCH_ARM64, farm::v1::MODE_TCG);
  arm.vcpus = 1;
  EXPECT_THAT(After(BuildQemuCommand(arm, "")->argv, "-append"),
              ::testing::Not(HasSubstr("nolapic_timer")));
}

TEST(QemuCommandTest, GuestVmSpecTakesTheConfigElseTheDefaults) {
  GuestImage image;
  image.name = "arm64";
  farm::v1::GuestConfig guest;
  VmSpec spec = GuestVmSpec(image, farm::v1::MODE_TCG, guest, 1, 1024);
  EXPECT_EQ(spec.image.name, "arm64");
  EXPECT_EQ(spec.accel, farm::v1::MODE_TCG);
  EXPECT_EQ(spec.vcpus, 1u);
  EXPECT_EQ(spec.memory_mib, 1024u);
  EXPECT_EQ(spec.cpu_model, "");
  guest.set_vcpus(3);
  guest.set_memory_mib(300);
  guest.set_cpu_model("max");
  spec = GuestVmSpec(image, farm::v1::MODE_KVM, guest, 1, 1024);
  EXPECT_EQ(spec.accel, farm::v1::MODE_KVM);
  EXPECT_EQ(spec.vcpus, 3u);
  EXPECT_EQ(spec.memory_mib, 300u);
  EXPECT_EQ(spec.cpu_model, "max");
}

TEST(QemuCommandTest, TcgModelsAndArm64) {
  absl::StatusOr<QemuCommand> x86 =
      BuildQemuCommand(Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_TCG), "");
  ASSERT_THAT(x86, IsOk());
  EXPECT_EQ(x86->cpu_model, "qemu64");
  EXPECT_THAT(After(x86->argv, "-append"), ::testing::Not(HasSubstr("tsc_early_khz")));
  VmSpec with_tsc = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_TCG);
  with_tsc.tsc_khz = 2596124;
  EXPECT_THAT(After(BuildQemuCommand(with_tsc, "")->argv, "-append"),
              HasSubstr("tsc_early_khz=2596124"));
  VmSpec arm = Spec(farm::v1::CPU_ARCH_ARM64, farm::v1::MODE_TCG);
  arm.extra_kernel_args = "farm.run=echo";
  arm.qmp_socket = "/tmp/kvmfarm-x/qmp0";
  absl::StatusOr<QemuCommand> cmd = BuildQemuCommand(arm, "/opt/qemu/qemu-system-aarch64");
  ASSERT_THAT(cmd, IsOk());
  EXPECT_EQ(cmd->argv[0], "/opt/qemu/qemu-system-aarch64");
  EXPECT_EQ(cmd->machine, "virt");
  EXPECT_EQ(cmd->cpu_model, "cortex-a72");
  EXPECT_THAT(After(cmd->argv, "-append"),
              HasSubstr("console=ttyAMA0 quiet panic=-1 farm.run=echo"));
  EXPECT_EQ(After(cmd->argv, "-qmp"), "unix:/tmp/kvmfarm-x/qmp0,server=on,wait=off");
}

TEST(QemuCommandTest, RefusesBadShapes) {
  VmSpec spec = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_NATIVE);
  EXPECT_THAT(BuildQemuCommand(spec, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  spec = Spec(farm::v1::CPU_ARCH_X86_64, farm::v1::MODE_TCG);
  spec.vcpus = 0;
  EXPECT_THAT(BuildQemuCommand(spec, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vcpus")));
  spec.vcpus = 1;
  spec.memory_mib = 16;
  EXPECT_THAT(BuildQemuCommand(spec, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("memory_mib")));
}

}  // namespace
}  // namespace kvmfarm::vm
