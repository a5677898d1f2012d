#include "agent/probe/properties.h"

#include <string>

#include "agent/probe/probe_test_util.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseGetpropTest, ReadsKeysAndValues) {
  absl::StatusOr<Properties> props = ParseGetprop(
      "[ro.product.model]: [Pixel 8]\n"
      "[ro.boot.hypervisor.vm.supported]: [true]\n"
      "[ro.empty]: []\n"
      "[ro.odd]: [a]: [b]\n");
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.product.model"), "Pixel 8");
  EXPECT_EQ(props->GetOr("ro.boot.hypervisor.vm.supported"), "true");
  EXPECT_EQ(props->Get("ro.empty"), std::string(""));
  EXPECT_EQ(props->GetOr("ro.odd"), "a]: [b");
  EXPECT_FALSE(props->Get("ro.missing").has_value());
  EXPECT_EQ(props->GetOr("ro.missing", "fallback"), "fallback");
}

TEST(ParseGetpropTest, SkipsGarbledLinesAmongGoodOnes) {
  absl::StatusOr<Properties> props =
      ParseGetprop("garbage\n[ro.a]: [1]\n[broken\n]: [x]\n[ro.b]: [2]\r\n");
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->size(), 2u);
  EXPECT_EQ(props->GetOr("ro.b"), "2");
}

TEST(ParseGetpropTest, EmptyIsNoPropertiesButGarbageIsAnError) {
  absl::StatusOr<Properties> empty = ParseGetprop("");
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
  EXPECT_THAT(ParseGetprop("this is not getprop output\n\x01\x02"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[key]: [value]")));
  // Truncated mid-line: the complete lines still count.
  absl::StatusOr<Properties> truncated = ParseGetprop("[ro.a]: [1]\n[ro.b]: [tr");
  ASSERT_THAT(truncated, IsOk());
  EXPECT_EQ(truncated->size(), 1u);
}

TEST(LoadPropertiesTest, FixtureGetpropFile) {
  ScratchRoot root;
  root.Write("/getprop.txt", "[ro.soc.model]: [SM8650]\n");
  absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "");
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.soc.model"), "SM8650");
  EXPECT_THAT(props->source(), HasSubstr("getprop.txt"));
}

TEST(LoadPropertiesTest, FixtureWithoutPropsHasNone) {
  ScratchRoot root;
  absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "");
  ASSERT_THAT(props, IsOk());
  EXPECT_TRUE(props->empty());
}

TEST(LoadPropertiesTest, PropsFlagWinsAndErrorsNameIt) {
  ScratchRoot root;
  root.Write("/props.txt", "[ro.product.model]: [OnePlus 12]\n");
  root.Write("/getprop.txt", "[ro.product.model]: [ignored]\n");
  absl::StatusOr<Properties> props =
      LoadProperties(Sysroot(root.path()), root.path() + "/props.txt");
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.product.model"), "OnePlus 12");
  EXPECT_THAT(LoadProperties(Sysroot(root.path()), root.path() + "/nope.txt"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--props")));
  root.Write("/bad.txt", "not props");
  EXPECT_THAT(LoadProperties(Sysroot(root.path()), root.path() + "/bad.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--props")));
}

}  // namespace
}  // namespace kvmfarm::probe
