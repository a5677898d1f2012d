#include "common/measurement_conditions.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ValidateMeasurementConditionsTest, EachBoundNamesItsField) {
  farm::v1::MeasurementConditions c;
  EXPECT_THAT(ValidateMeasurementConditions(c, "spec.conditions"), IsOk());
  c.set_min_battery_percent(100);
  c.set_cool_down_within_celsius(50);
  c.mutable_cool_down_max_wait()->set_seconds(3600);
  EXPECT_THAT(ValidateMeasurementConditions(c, "spec.conditions"), IsOk());
  c.set_min_battery_percent(101);
  EXPECT_THAT(ValidateMeasurementConditions(c, "spec.conditions"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.conditions.min_battery_percent 101 is more than 100"));
  c.set_min_battery_percent(0);
  c.set_cool_down_within_celsius(4000000000u);
  EXPECT_THAT(ValidateMeasurementConditions(c, "conditions"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("conditions.cool_down_within_celsius 4000000000")));
  c.set_cool_down_within_celsius(3);
  c.mutable_cool_down_max_wait()->set_seconds(-5);
  EXPECT_THAT(
      ValidateMeasurementConditions(c, "conditions"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("conditions.cool_down_max_wait")));
}

}  // namespace
}  // namespace kvmfarm
