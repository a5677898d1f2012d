#include "common/device_id.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CheckDeviceIdTest, SerialsHostNamesAndFixtureIdsAreDeviceIds) {
  for (const char* id : {"d0", "pixel8-stock-fixture", "HT7A1B2C3", "emulator-5554",
                         "lab-host.example", "rack_3.slot-12"}) {
    EXPECT_THAT(CheckDeviceId(id, "identity.device_id"), IsOk()) << id;
  }
  EXPECT_THAT(CheckDeviceId(std::string(kMaxDeviceIdLength, 'a'), "id"), IsOk());
}

TEST(CheckDeviceIdTest, AnythingElseIsRefusedNamingTheField) {
  for (const std::string& id :
       {std::string(""), std::string("-leading-dash"), std::string(".hidden"), std::string("a/b"),
        std::string("../etc"), std::string("a b"), std::string("a:7420"),
        std::string("caf\xc3\xa9"), std::string("x\n"), std::string(kMaxDeviceIdLength + 1, 'a')}) {
    EXPECT_THAT(CheckDeviceId(id, "identity.device_id"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity.device_id")))
        << id;
  }
}

TEST(DeviceIdFromTest, WhatADeviceCallsItselfBecomesAValidId) {
  EXPECT_EQ(DeviceIdFrom("HT7A1B2C3"), "HT7A1B2C3");
  EXPECT_EQ(DeviceIdFrom("(none)"), "none-");
  EXPECT_EQ(DeviceIdFrom("my phone/2"), "my-phone-2");
  EXPECT_EQ(DeviceIdFrom("--"), "");
  EXPECT_EQ(DeviceIdFrom(std::string(300, 'a')).size(), kMaxDeviceIdLength);
  for (const char* name : {"(none)", "my phone/2", "caf\xc3\xa9"}) {
    EXPECT_THAT(CheckDeviceId(DeviceIdFrom(name), "id"), IsOk()) << name;
  }
}

}  // namespace
}  // namespace kvmfarm
