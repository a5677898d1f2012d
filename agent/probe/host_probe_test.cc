// The real probe on the machine running the test, asserting what is true here:
// an openable /dev/kvm means API 12 and a passing smoke test; no /dev/kvm means
// NO_HYPERVISOR_MODE for a guest without vmx/svm, else KVM_NOT_IN_KERNEL or UNKNOWN,
// with a reason.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "agent/probe/capability_text.h"
#include "agent/probe/probe.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::testing::IsOk;

TEST(HostProbeTest, TellsTheTruthAboutThisMachine) {
  absl::StatusOr<farm::v1::KvmCapability> c = RunProbe(ProbeOptions());
  ASSERT_THAT(c, IsOk());
  const std::string report = FormatCapabilityText(*c);
  EXPECT_FALSE(c->device().is_fixture());
  EXPECT_TRUE(c->has_agent_user());
  EXPECT_FALSE(c->verdict_reasons().empty()) << report;
  EXPECT_NE(c->verdict(), farm::v1::VERDICT_UNSPECIFIED);
  // Without the boot check (agent/probe/boot_check, not run by RunProbe), never READY.
  EXPECT_NE(c->verdict(), farm::v1::VERDICT_KVM_READY) << report;

  if (::access("/dev/kvm", F_OK) != 0) {
    EXPECT_FALSE(c->kvm_node().present());
    // A guest of a hypervisor that passes no vmx/svm (this project's PVM machines)
    // has no hypervisor mode; otherwise the kernel lacks KVM or nothing decides.
    const auto& flags = c->cpu_virt_flags();
    const bool guest_without_vmx =
        std::find(flags.begin(), flags.end(), "hypervisor") != flags.end() &&
        std::find(flags.begin(), flags.end(), "vmx") == flags.end() &&
        std::find(flags.begin(), flags.end(), "svm") == flags.end();
    if (guest_without_vmx) {
      EXPECT_EQ(c->verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE) << report;
    } else {
      EXPECT_THAT(c->verdict(),
                  ::testing::AnyOf(farm::v1::VERDICT_KVM_NOT_IN_KERNEL,
                                   farm::v1::VERDICT_NO_HYPERVISOR_MODE, farm::v1::VERDICT_UNKNOWN))
          << report;
    }
    return;
  }
  EXPECT_TRUE(c->kvm_node().present());
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    EXPECT_EQ(c->verdict(), farm::v1::VERDICT_KVM_NO_ACCESS) << report;
    return;
  }
  ::close(fd);
  EXPECT_EQ(c->kvm_node().api_version(), 12);
  EXPECT_EQ(c->kvm_node().smoke_test().outcome(), farm::v1::OUTCOME_PASS) << report;
  EXPECT_EQ(c->verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED) << report;
}

}  // namespace
}  // namespace kvmfarm::probe
