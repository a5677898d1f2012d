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
  EXPECT_EQ(truncated->skipped_lines(), 1);
}

TEST(LoadPropertiesTest, FixtureGetpropFile) {
  ScratchRoot root;
  Checks checks;
  root.Write("/getprop.txt", "[ro.soc.model]: [SM8650]\n");
  absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "", &checks);
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.soc.model"), "SM8650");
  EXPECT_THAT(props->source(), HasSubstr("getprop.txt"));
  EXPECT_TRUE(checks.empty());
}

// The device's own getprop output, garbled, unreadable or not a file, is one failed
// check naming it; the probe goes on without properties.
TEST(LoadPropertiesTest, AnUnusableDeviceSourceIsAFailedCheckNotAnError) {
  for (const bool directory : {false, true}) {
    SCOPED_TRACE(directory ? "a directory" : "garbage");
    ScratchRoot root;
    if (directory) {
      root.Write("/getprop.txt/inside", "x");
    } else {
      root.Write("/getprop.txt", "\x7f\x01junk\n[]: []\n[ro.product.model");
    }
    Checks checks;
    absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "", &checks);
    ASSERT_THAT(props, IsOk());
    EXPECT_TRUE(props->empty());
    const farm::v1::Check* check = FindCheck(checks, "android.properties");
    ASSERT_NE(check, nullptr);
    EXPECT_EQ(check->outcome(), farm::v1::OUTCOME_FAIL);
    EXPECT_THAT(check->source(), HasSubstr("getprop.txt"));
    EXPECT_THAT(check->detail(), HasSubstr(directory ? "directory" : "not getprop output"));
  }
}

TEST(LoadPropertiesTest, SkippedLinesAreAWarning) {
  ScratchRoot root;
  root.Write("/getprop.txt", "[ro.soc.model]: [SM8650]\n[]: []\n[ro.soc.manufac");
  Checks checks;
  absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "", &checks);
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.soc.model"), "SM8650");
  const farm::v1::Check* check = FindCheck(checks, "android.properties");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->outcome(), farm::v1::OUTCOME_WARN);
  EXPECT_THAT(check->detail(), HasSubstr("2 line(s)"));
}

TEST(LoadPropertiesTest, FixtureWithoutPropsHasNone) {
  ScratchRoot root;
  Checks checks;
  absl::StatusOr<Properties> props = LoadProperties(Sysroot(root.path()), "", &checks);
  ASSERT_THAT(props, IsOk());
  EXPECT_TRUE(props->empty());
}

TEST(LoadPropertiesTest, PropsFlagWinsAndErrorsNameIt) {
  ScratchRoot root;
  Checks checks;
  root.Write("/props.txt", "[ro.product.model]: [OnePlus 12]\n");
  root.Write("/getprop.txt", "[ro.product.model]: [ignored]\n");
  absl::StatusOr<Properties> props =
      LoadProperties(Sysroot(root.path()), root.path() + "/props.txt", &checks);
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->GetOr("ro.product.model"), "OnePlus 12");
  EXPECT_THAT(LoadProperties(Sysroot(root.path()), root.path() + "/nope.txt", &checks),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--props")));
  root.Write("/bad.txt", "not props");
  EXPECT_THAT(LoadProperties(Sysroot(root.path()), root.path() + "/bad.txt", &checks),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--props")));
}

}  // namespace
}  // namespace kvmfarm::probe
