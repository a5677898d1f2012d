#include "agent/probe/hypervisor.h"

#include "agent/probe/probe_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::Contains;
using ::testing::HasSubstr;

TEST(VendorHypervisorTest, GunyahFromNodeAndSysfs) {
  ScratchRoot root;
  root.Write("/dev/gunyah", "");
  root.Write("/sys/hypervisor/type", "gunyah\n");
  Checks checks;
  const VendorHypervisor v = ReadVendorHypervisor(Sysroot(root.path()), Properties(), &checks);
  EXPECT_EQ(v.kind, farm::v1::HYPERVISOR_KIND_GUNYAH);
  EXPECT_THAT(v.evidence, Contains("/sys/hypervisor/type = gunyah"));
  EXPECT_EQ(FindCheck(checks, "hypervisor.vendor")->outcome(), farm::v1::OUTCOME_WARN);
}

TEST(VendorHypervisorTest, GenieZoneAndTheVersionProperty) {
  ScratchRoot root;
  root.Write("/dev/gzvm", "");
  Checks checks;
  EXPECT_EQ(ReadVendorHypervisor(Sysroot(root.path()), Properties(), &checks).kind,
            farm::v1::HYPERVISOR_KIND_GENIEZONE);
  ScratchRoot props_only;
  Checks more;
  const VendorHypervisor v = ReadVendorHypervisor(
      Sysroot(props_only.path()),
      Properties(
          std::map<std::string, std::string>{{"ro.boot.hypervisor.version", "gunyah-hyp 1.0"}}),
      &more);
  EXPECT_EQ(v.kind, farm::v1::HYPERVISOR_KIND_GUNYAH);
}

TEST(VendorHypervisorTest, NothingFoundAddsNoCheck) {
  ScratchRoot root;
  Checks checks;
  const VendorHypervisor v = ReadVendorHypervisor(Sysroot(root.path()), Properties(), &checks);
  EXPECT_EQ(v.kind, farm::v1::HYPERVISOR_KIND_NONE);
  EXPECT_TRUE(checks.empty());
}

TEST(DecideHypervisorKindTest, KvmFlavours) {
  ScratchRoot root;
  Checks checks;
  farm::v1::KvmCapability c;
  c.mutable_kvm_node()->set_present(true);
  EXPECT_EQ(DecideHypervisorKind(Sysroot(root.path()), c, {}, &checks),
            farm::v1::HYPERVISOR_KIND_KVM);
  c.mutable_boot_mode()->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_PROTECTED);
  EXPECT_EQ(DecideHypervisorKind(Sysroot(root.path()), c, {}, &checks),
            farm::v1::HYPERVISOR_KIND_PKVM);
  root.Write("/sys/module/kvm_pvm/initstate", "live\n");
  EXPECT_EQ(DecideHypervisorKind(Sysroot(root.path()), c, {}, &checks),
            farm::v1::HYPERVISOR_KIND_PVM);
  EXPECT_THAT(checks.rbegin()->detail(), HasSubstr("kvm_pvm"));
}

TEST(DecideHypervisorKindTest, NoKvmFallsBackToTheVendor) {
  ScratchRoot root;
  Checks checks;
  VendorHypervisor vendor;
  vendor.kind = farm::v1::HYPERVISOR_KIND_GENIEZONE;
  vendor.evidence = {"/dev/gzvm exists (MediaTek GenieZone)"};
  EXPECT_EQ(DecideHypervisorKind(Sysroot(root.path()), farm::v1::KvmCapability(), vendor, &checks),
            farm::v1::HYPERVISOR_KIND_GENIEZONE);
  EXPECT_EQ(DecideHypervisorKind(Sysroot(root.path()), farm::v1::KvmCapability(), {}, &checks),
            farm::v1::HYPERVISOR_KIND_NONE);
  EXPECT_EQ(checks.rbegin()->outcome(), farm::v1::OUTCOME_FAIL);
}

}  // namespace
}  // namespace kvmfarm::probe
