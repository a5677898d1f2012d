#include "agent/environment.h"

#include "agent/probe/probe_test_util.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;

TEST(ReadEnvironmentTest, PhoneLikeTree) {
  ScratchRoot root;
  root.Write("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1800000\n");
  root.Write("/sys/devices/system/cpu/cpu7/cpufreq/scaling_cur_freq", "3300000\n");
  root.Write("/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "1\n");
  root.Write("/sys/class/thermal/thermal_zone0/type", "cpu-big\n");
  root.Write("/sys/class/thermal/thermal_zone0/temp", "45200\n");
  root.Write("/sys/class/power_supply/battery/current_now", "-850000\n");
  root.Write("/sys/class/power_supply/battery/voltage_now", "3950000\n");
  root.Write("/sys/class/power_supply/battery/capacity", "81\n");
  root.Write("/sys/class/power_supply/battery/status", "Discharging\n");
  const farm::v1::EnvironmentSample s =
      ReadEnvironment(probe::Sysroot(root.path()), absl::Seconds(2));
  EXPECT_EQ(s.cpu_frequency_khz().size(), 2u);
  EXPECT_EQ(s.cpu_frequency_khz().at(7), 3300000u);
  EXPECT_EQ(s.thermal_millicelsius().at("cpu-big"), 45200);
  EXPECT_EQ(s.battery().current_now_ua(), -850000);
  EXPECT_EQ(s.battery().capacity_percent(), 81);
  EXPECT_FALSE(s.battery().has_temp_decicelsius());  // not exposed: absent, not zero
  EXPECT_EQ(s.battery().status(), "Discharging");
  EXPECT_EQ(FromProtoDuration(s.offset()), absl::Seconds(2));
}

TEST(ReadEnvironmentTest, NothingExposedIsAllAbsent) {
  ScratchRoot root;
  const farm::v1::EnvironmentSample s =
      ReadEnvironment(probe::Sysroot(root.path()), absl::ZeroDuration());
  EXPECT_TRUE(s.cpu_frequency_khz().empty());
  EXPECT_TRUE(s.thermal_millicelsius().empty());
  EXPECT_FALSE(s.has_battery());
}

farm::v1::EnvironmentSample PowerSample(double seconds, int64_t ua, int64_t uv) {
  farm::v1::EnvironmentSample s;
  *s.mutable_offset() = ToProtoDuration(absl::Seconds(seconds));
  s.mutable_battery()->set_current_now_ua(ua);
  s.mutable_battery()->set_voltage_now_uv(uv);
  return s;
}

TEST(EnergyJoulesTest, IntegratesPowerOverTheWindow) {
  // 1 A at 4 V for 2 s, then 0.5 A at 4 V for 1 s: 8 J + 2 J.
  std::vector<farm::v1::EnvironmentSample> samples = {PowerSample(0, -1000000, 4000000),
                                                      PowerSample(2, -500000, 4000000),
                                                      PowerSample(3, -500000, 4000000)};
  ASSERT_TRUE(EnergyJoules(samples, absl::ZeroDuration(), absl::Seconds(3)).has_value());
  EXPECT_NEAR(*EnergyJoules(samples, absl::ZeroDuration(), absl::Seconds(3)), 10.0, 1e-9);
  EXPECT_NEAR(*EnergyJoules(samples, absl::Seconds(2), absl::Seconds(3)), 2.0, 1e-9);
  EXPECT_FALSE(EnergyJoules(samples, absl::Seconds(5), absl::Seconds(6)).has_value());
  EXPECT_FALSE(EnergyJoules({}, absl::ZeroDuration(), absl::Seconds(1)).has_value());
}

TEST(EnvironmentSamplerTest, StopAlwaysHasAtLeastTwoSamples) {
  ScratchRoot root;
  root.Write("/sys/class/thermal/thermal_zone0/type", "soc\n");
  root.Write("/sys/class/thermal/thermal_zone0/temp", "40000\n");
  EnvironmentSampler sampler(probe::Sysroot(root.path()), absl::Hours(1));
  sampler.Start();
  const std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();
  ASSERT_GE(samples.size(), 2u);  // the first reading and the last
  EXPECT_EQ(samples.back().thermal_millicelsius().at("soc"), 40000);
}

}  // namespace
}  // namespace kvmfarm
