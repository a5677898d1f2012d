#include "agent/probe/kvm_device.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "agent/probe/probe_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::HasSubstr;

TEST(ProbeKvmNodeTest, RecordedNoAccessFromTheFixture) {
  ScratchRoot root;
  root.Write("/dev/kvm", "");
  root.Write("/kvm_probe.textproto",
             "present: true\nmode: 0660\nowner: \"system\"\ngroup: \"system\"\n"
             "opened: false\nopen_errno: 13\n");
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot(root.path()), {}, &checks);
  EXPECT_TRUE(node.present());
  EXPECT_FALSE(node.opened());
  EXPECT_EQ(node.open_errno(), 13);
  const farm::v1::Check* open = FindCheck(checks, "kvm.open");
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(open->detail(), HasSubstr("Permission denied (errno 13)"));
  EXPECT_THAT(FindCheck(checks, "kvm.node")->detail(), HasSubstr("0660 owner system:system"));
}

TEST(ProbeKvmNodeTest, RecordedWorkingKvm) {
  ScratchRoot root;
  root.Write("/dev/kvm", "");
  root.Write("/kvm_probe.textproto",
             "present: true\nopened: true\napi_version: 12\n"
             "extensions { name: \"KVM_CAP_ARM_VM_IPA_SIZE\" id: 165 value: 40 }\n"
             "smoke_test { outcome: OUTCOME_PASS detail: \"KVM_EXIT_MMIO\" }\n");
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot(root.path()), {}, &checks);
  EXPECT_EQ(node.api_version(), 12);
  EXPECT_EQ(FindCheck(checks, "kvm.api_version")->outcome(), farm::v1::OUTCOME_PASS);
  EXPECT_EQ(FindCheck(checks, "kvm.smoke_test")->outcome(), farm::v1::OUTCOME_PASS);
  EXPECT_EQ(FindCheck(checks, "kvm.extensions")->detail(), "KVM_CAP_ARM_VM_IPA_SIZE=40");
}

TEST(ProbeKvmNodeTest, ARecordOfANodeTheTreeLacksIsAnInconsistentFixture) {
  ScratchRoot root;
  root.Write("/kvm_probe.textproto", "present: true\nopened: true\napi_version: 12\n");
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot(root.path()), {}, &checks);
  EXPECT_FALSE(node.present());
  const farm::v1::Check* recorded = FindCheck(checks, "kvm.recorded");
  ASSERT_NE(recorded, nullptr);
  EXPECT_EQ(recorded->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(recorded->detail(), HasSubstr("inconsistent fixture: " + root.path() +
                                            "/kvm_probe.textproto says "
                                            "present: true but " +
                                            root.path() + "/dev/kvm does not exist"));
  EXPECT_EQ(FindCheck(checks, "kvm.node")->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_EQ(FindCheck(checks, "kvm.api_version"), nullptr);
}

TEST(ProbeKvmNodeTest, ARecordOfNoNodeWhereTheTreeHasOneIsAnInconsistentFixture) {
  ScratchRoot root;
  root.Write("/dev/kvm", "");
  root.Write("/kvm_probe.textproto", "present: false\n");
  Checks checks;
  EXPECT_TRUE(ProbeKvmNode(Sysroot(root.path()), {}, &checks).present());
  EXPECT_EQ(FindCheck(checks, "kvm.recorded")->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(FindCheck(checks, "kvm.recorded")->detail(), HasSubstr("dev/kvm exists"));
}

TEST(ProbeKvmNodeTest, GarbledRecordIsIgnoredWithAWarning) {
  ScratchRoot root;
  root.Write("/kvm_probe.textproto", "present: maybe {{{");
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot(root.path()), {}, &checks);
  EXPECT_FALSE(node.present());
  EXPECT_EQ(FindCheck(checks, "kvm.recorded")->outcome(), farm::v1::OUTCOME_WARN);
  EXPECT_EQ(FindCheck(checks, "kvm.node")->outcome(), farm::v1::OUTCOME_FAIL);
}

TEST(ProbeKvmNodeTest, FixtureNodeWithoutRecordLeavesAccessUnknown) {
  ScratchRoot root;
  root.Write("/dev/kvm", "");
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot(root.path()), {}, &checks);
  EXPECT_TRUE(node.present());
  EXPECT_FALSE(node.has_open_errno());
  EXPECT_EQ(FindCheck(checks, "kvm.open")->outcome(), farm::v1::OUTCOME_SKIP);
}

// What is true on the machine running the test: with an openable /dev/kvm, the
// API is 12 and the smoke test's vCPU reaches its exits; without one, nothing opens.
TEST(ProbeKvmNodeTest, ThisMachine) {
  Checks checks;
  const farm::v1::KvmNodeProbe node = ProbeKvmNode(Sysroot("/"), {}, &checks);
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    EXPECT_FALSE(node.opened());
    GTEST_SKIP() << "/dev/kvm can't be opened here: " << FindCheck(checks, "kvm.node")->detail();
  }
  ::close(fd);
  EXPECT_TRUE(node.present());
  EXPECT_TRUE(node.opened());
  EXPECT_EQ(node.api_version(), 12);
  ASSERT_TRUE(node.has_smoke_test());
  EXPECT_EQ(node.smoke_test().outcome(), farm::v1::OUTCOME_PASS) << node.smoke_test().detail();
#if defined(__x86_64__)
  EXPECT_THAT(node.smoke_test().detail(), HasSubstr("KVM_EXIT_IO out port 0x10 value 0x42"));
#endif
  EXPECT_GT(node.extensions_size(), 0);
}

}  // namespace
}  // namespace kvmfarm::probe
