#include "common/proto_enum.h"

#include <gtest/gtest.h>

#include "farm/v1/common.pb.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm {
namespace {

TEST(ProtoEnumTest, DropsTheTypePrefix) {
  EXPECT_EQ(EnumValueName(farm::v1::VERDICT_KVM_READY), "KVM_READY");
  EXPECT_EQ(EnumValueName(farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY), "VENDOR_HYPERVISOR_ONLY");
  EXPECT_EQ(EnumValueName(farm::v1::KVM_ARM_MODE_PROTECTED), "PROTECTED");
  EXPECT_EQ(EnumValueName(farm::v1::MODE_TCG), "TCG");
  EXPECT_EQ(LowerEnumValueName(farm::v1::OPERATIONAL_STATE_OFFLINE), "offline");
  EXPECT_EQ(LowerEnumValueName(farm::v1::STEP_KIND_BENCHMARK), "benchmark");
}

TEST(ProtoEnumTest, AnUndefinedValueIsItsNumber) {
  EXPECT_EQ(EnumValueName(static_cast<farm::v1::Verdict>(99)), "99");
}

}  // namespace
}  // namespace kvmfarm
