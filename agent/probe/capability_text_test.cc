#include "agent/probe/capability_text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::testing::HasSubstr;

TEST(CapabilityTextTest, ALinePerCheckThenTheVerdict) {
  farm::v1::KvmCapability c;
  c.mutable_device()->set_device_id("pixel8-a");
  c.mutable_device()->set_model("Pixel 8");
  c.mutable_device()->set_soc_marketing_name("Tensor G3");
  c.mutable_device()->set_soc_model("zuma");
  farm::v1::Check* check = c.add_checks();
  check->set_name("kvm.open");
  check->set_outcome(farm::v1::OUTCOME_FAIL);
  check->set_detail("open(/dev/kvm, O_RDWR): Permission denied (errno 13)");
  c.set_verdict(farm::v1::VERDICT_KVM_NO_ACCESS);
  c.add_verdict_reasons("owner system:system");
  c.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_PKVM);
  c.set_recommendation("TCG only: development, a single lightweight VM");
  c.add_to_change_verdict("run as root");
  const std::string report = FormatCapabilityText(c);
  EXPECT_THAT(report, HasSubstr("kvmfarm probe: Pixel 8 (pixel8-a)"));
  EXPECT_THAT(report, HasSubstr("Tensor G3 (zuma)"));
  EXPECT_THAT(report, HasSubstr("  FAIL  kvm.open  open(/dev/kvm, O_RDWR): Permission denied"));
  EXPECT_THAT(report, HasSubstr("Verdict: KVM_NO_ACCESS\n  - owner system:system\n"));
  EXPECT_THAT(report, HasSubstr("Hypervisor: pkvm"));
  EXPECT_THAT(report, HasSubstr("To change the verdict:\n  - run as root\n"));
}

}  // namespace
}  // namespace kvmfarm::probe
