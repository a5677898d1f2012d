#include "agent/conditions.h"

#include "agent/environment.h"
#include "agent/probe/probe_test_util.h"
#include "common/proto_time.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

farm::v1::EnvironmentSample Battery(const std::string& status, int capacity) {
  farm::v1::EnvironmentSample sample;
  sample.mutable_battery()->set_status(status);
  sample.mutable_battery()->set_capacity_percent(capacity);
  return sample;
}

TEST(CheckBatteryTest, ChargingAndLevelAreRequiredWhereAsked) {
  farm::v1::MeasurementConditions conditions;
  std::string note;
  EXPECT_THAT(CheckBattery(Battery("Discharging", 10), conditions, &note), IsOk());  // none asked
  conditions.set_require_charging(true);
  EXPECT_THAT(CheckBattery(Battery("Discharging", 90), conditions, &note),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "battery Discharging: the sweep requires charging"));
  EXPECT_THAT(CheckBattery(Battery("Charging", 20), conditions, &note), IsOk());
  EXPECT_THAT(CheckBattery(Battery("Full", 100), conditions, &note), IsOk());
  conditions.set_min_battery_percent(50);
  EXPECT_THAT(CheckBattery(Battery("Charging", 35), conditions, &note),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "battery at 35 %, below the 50 % the sweep requires"));
  EXPECT_EQ(note, "");
  // A board on mains power meets both, and says so.
  EXPECT_THAT(CheckBattery(farm::v1::EnvironmentSample(), conditions, &note), IsOk());
  EXPECT_THAT(note, HasSubstr("no battery exposed: mains powered"));
}

class CoolDownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/sys/class/thermal/thermal_zone0/type", "cpu-big\n");
    root_.Write("/sys/class/thermal/thermal_zone0/temp", "52000\n");
    root_.Write("/sys/class/thermal/thermal_zone1/type", "battery\n");
    root_.Write("/sys/class/thermal/thermal_zone1/temp", "30000\n");
    conditions_.set_cool_down_within_celsius(5);
    *conditions_.mutable_cool_down_max_wait() = ToProtoDuration(absl::Seconds(30));
  }

  ScratchRoot root_;
  farm::v1::MeasurementConditions conditions_;
  FakeClock clock_;
};

// The zone cools as the agent waits: the test lowers it on the third poll.
TEST_F(CoolDownTest, WaitsUntilTheHottestZoneIsWithinTheBoundOfTheStart) {
  int polls = 0;
  const CoolDown cool = WaitToCoolDown(
      probe::Sysroot(root_.path()), 40000, conditions_, clock_, [&](absl::Time until) {
        clock_.Advance(until - clock_.Now());
        if (++polls == 3) root_.Write("/sys/class/thermal/thermal_zone0/temp", "44500\n");
        return true;
      });
  EXPECT_TRUE(cool.cooled);
  EXPECT_EQ(cool.waited, absl::Seconds(3));
  EXPECT_EQ(cool.note, "cooled down to 44.5 °C in 3s");
}

TEST_F(CoolDownTest, TheWaitIsBoundedAndSaysItDidNotCool) {
  const CoolDown cool = WaitToCoolDown(probe::Sysroot(root_.path()), 40000, conditions_, clock_,
                                       [&](absl::Time until) {
                                         clock_.Advance(until - clock_.Now());
                                         return true;
                                       });
  EXPECT_FALSE(cool.cooled);
  EXPECT_EQ(cool.waited, absl::Seconds(30));
  EXPECT_EQ(cool.note, "did not cool down: 52.0 °C after 30s (start 40.0 °C, within 5 °C asked)");
}

TEST_F(CoolDownTest, AStoppedJobStopsWaitingAndACoolDeviceDoesNotWait) {
  int polls = 0;
  const CoolDown stopped = WaitToCoolDown(probe::Sysroot(root_.path()), 40000, conditions_, clock_,
                                          [&](absl::Time) { return ++polls < 2; });
  EXPECT_FALSE(stopped.cooled);
  EXPECT_EQ(polls, 2);
  const CoolDown cool =
      WaitToCoolDown(probe::Sysroot(root_.path()), 50000, conditions_, clock_, [](absl::Time) {
        ADD_FAILURE() << "no wait was needed";
        return false;
      });
  EXPECT_TRUE(cool.cooled);
  EXPECT_EQ(cool.note, "");
}

}  // namespace
}  // namespace kvmfarm
