#include "tools/farmctl/sweep_spec.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseSelectorTest, LabelsAndDeviceIds) {
  absl::StatusOr<farm::v1::Selector> selector = ParseSelector("soc=sm8650,os=android", "a,,b");
  ASSERT_THAT(selector, IsOk());
  ASSERT_EQ(selector->match_size(), 2);
  EXPECT_EQ(selector->match(0).key(), "soc");
  EXPECT_THAT(selector->match(0).values(), ElementsAre("sm8650"));
  EXPECT_EQ(selector->match(1).key(), "os");
  EXPECT_THAT(selector->device_ids(), ElementsAre("a", "b"));
}

TEST(ParseSelectorTest, ValueMayHoldAnEqualsSign) {
  absl::StatusOr<farm::v1::Selector> selector = ParseSelector("kernel=6.1=lts", "");
  ASSERT_THAT(selector, IsOk());
  EXPECT_THAT(selector->match(0).values(), ElementsAre("6.1=lts"));
}

TEST(ParseSelectorTest, LabelWithoutKeyOrValueIsRefused) {
  EXPECT_THAT(ParseSelector("soc", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'soc' is not key=value")));
  EXPECT_THAT(ParseSelector("=x", ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BuildSweepSpecTest, PlanStepsBecomeModesAndBoots) {
  SweepOptions options;
  options.plan = "capability,native,tcg,boot3";
  options.workloads = "crypto";
  options.repetitions = 2;
  options.max_parallel = 4;
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->repetitions(), 2u);
  EXPECT_EQ(spec->max_parallel(), 4u);
  const farm::v1::SweepPlan& plan = spec->plan();
  EXPECT_TRUE(plan.capability());
  EXPECT_THAT(plan.workload_modes(), ElementsAre(farm::v1::MODE_NATIVE, farm::v1::MODE_TCG));
  EXPECT_EQ(plan.guest().image(), "x86_64");
  ASSERT_EQ(plan.boots_size(), 2);
  EXPECT_EQ(plan.boots(0).accel(), farm::v1::MODE_KVM);
  EXPECT_EQ(plan.boots(1).accel(), farm::v1::MODE_TCG);
  EXPECT_EQ(plan.boots(1).vm_count(), 3u);
  EXPECT_TRUE(plan.boots(1).measure_switch_latency());
}

TEST(BuildSweepSpecTest, WorkloadsRunAtQuickSizes) {
  SweepOptions options;
  options.plan = "native";
  options.workloads = "crypto,integer,float,mem_read,mem_write,mem_random,io";
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  ASSERT_THAT(spec, IsOk());
  const auto& w = spec->plan().workloads();
  ASSERT_EQ(w.size(), 7);
  EXPECT_EQ(w[0].size_bytes(), 16u << 20);
  EXPECT_FALSE(w[0].has_iterations());
  EXPECT_EQ(w[1].iterations(), 8u);
  EXPECT_EQ(w[2].iterations(), 2500000u);
  EXPECT_EQ(w[3].size_bytes(), 64u << 20);
  EXPECT_EQ(w[3].iterations(), 3u);
  EXPECT_EQ(w[4].iterations(), 3u);
  EXPECT_EQ(w[5].size_bytes(), 64u << 20);
  EXPECT_EQ(w[5].iterations(), 2000000u);
  EXPECT_EQ(w[6].size_bytes(), 64u << 20);
  EXPECT_FALSE(w[6].has_iterations());
}

TEST(BuildSweepSpecTest, UnknownWorkloadIsLeftForTheControllerToRefuse) {
  SweepOptions options;
  options.plan = "native";
  options.workloads = "gpu";
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->plan().workloads(0).name(), "gpu");
  EXPECT_FALSE(spec->plan().workloads(0).has_size_bytes());
}

TEST(BuildSweepSpecTest, WorkloadsNeedAWorkloadMode) {
  SweepOptions options;
  options.plan = "capability";
  options.workloads = "crypto";
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  ASSERT_THAT(spec, IsOk());
  EXPECT_TRUE(spec->plan().workloads().empty());
}

TEST(BuildSweepSpecTest, UnknownPlanStepIsRefusedByName) {
  SweepOptions options;
  options.plan = "capability,warp";
  EXPECT_THAT(BuildSweepSpec(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'warp'")));
  options.plan = "native";
  options.selector = "nokey";
  EXPECT_THAT(BuildSweepSpec(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BuildSweepSpecTest, MeasurementConditionsTravelWithTheSpec) {
  SweepOptions options;
  options.conditions.set_cool_down_within_celsius(3);
  options.conditions.set_require_charging(true);
  options.conditions.set_min_battery_percent(50);
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->conditions().cool_down_within_celsius(), 3u);
  EXPECT_TRUE(spec->conditions().require_charging());
  EXPECT_EQ(spec->conditions().min_battery_percent(), 50u);
  options.conditions.set_min_battery_percent(150);
  EXPECT_FALSE(BuildSweepSpec(options).ok());
}

}  // namespace
}  // namespace kvmfarm::farmctl
