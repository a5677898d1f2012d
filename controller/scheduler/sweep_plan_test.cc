#include "controller/scheduler/sweep_plan.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::scheduler {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

farm::v1::SweepSpec CapabilitySweep(int64_t task_deadline_seconds) {
  farm::v1::SweepSpec spec;
  spec.mutable_plan()->set_capability(true);
  spec.mutable_task_deadline()->set_seconds(task_deadline_seconds);
  return spec;
}

TEST(ValidateSweepSpecTest, ConditionsOutsideTheirBoundsNameTheField) {
  farm::v1::SweepSpec spec = CapabilitySweep(600);
  spec.mutable_conditions()->set_min_battery_percent(150);
  EXPECT_THAT(ValidateSweepSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.conditions.min_battery_percent 150")));
}

TEST(ValidateSweepSpecTest, AcceptsATaskDeadlineOfADay) {
  EXPECT_THAT(ValidateSweepSpec(CapabilitySweep(86'400)), IsOk());
}

// Read through int64 nanoseconds, 18446744074 s was 290 ms and 9223372037 s was
// "not positive".
TEST(ValidateSweepSpecTest, RefusesATaskDeadlineBeyondADayNamingTheField) {
  EXPECT_THAT(ValidateSweepSpec(CapabilitySweep(18'446'744'074)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.task_deadline: 18446744074s is more than the 24h allowed"));
  EXPECT_THAT(ValidateSweepSpec(CapabilitySweep(9'223'372'037)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.task_deadline: 9223372037s is more than")));
}

TEST(ValidateSweepSpecTest, RefusesZeroAndMalformedTaskDeadlines) {
  EXPECT_THAT(ValidateSweepSpec(CapabilitySweep(0)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.task_deadline: 0s is not positive")));
  farm::v1::SweepSpec spec = CapabilitySweep(-3);
  spec.mutable_task_deadline()->set_nanos(5);
  EXPECT_THAT(ValidateSweepSpec(spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("spec.task_deadline: seconds -3")));
}

TEST(TaskDeadlineTest, TheSpecsDeadlineOrTheFallback) {
  EXPECT_THAT(TaskDeadline(CapabilitySweep(90), absl::Minutes(30)),
              IsOkAndHolds(absl::Seconds(90)));
  farm::v1::SweepSpec unset;
  EXPECT_THAT(TaskDeadline(unset, absl::Minutes(30)), IsOkAndHolds(absl::Minutes(30)));
}

}  // namespace
}  // namespace kvmfarm::scheduler
