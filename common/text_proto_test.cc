#include "common/text_proto.h"

#include "common/testing/status_matchers.h"
#include "farm/v1/controller.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseTextProtoTest, ParsesAMessage) {
  farm::v1::Inventory inventory;
  ASSERT_THAT(ParseTextProto("devices { device_id: \"a\" agent_address: \"h:1\" }", &inventory),
              IsOk());
  ASSERT_EQ(inventory.devices_size(), 1);
  EXPECT_EQ(inventory.devices(0).agent_address(), "h:1");
}

TEST(ParseTextProtoTest, TheErrorSaysWhereAndWhat) {
  farm::v1::Inventory inventory;
  EXPECT_THAT(ParseTextProto("devices {\n  device_id: \"a\"\n  bogus: 1\n}", &inventory),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3:")));
  EXPECT_THAT(ParseTextProto("devices { device_id: \"a\xff", &inventory),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace kvmfarm
