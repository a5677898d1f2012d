#include "agent/throttling.h"

#include <vector>

#include "agent/environment.h"
#include "agent/probe/probe_test_util.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A phone-like tree: two CPUs with their caps, and a zone with an active (fan) trip
// at 50 °C and a passive one at 90 °C.
void WriteCoolPhone(const ScratchRoot& root) {
  root.Write("/sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq", "2000000\n");
  root.Write("/sys/devices/system/cpu/cpu4/cpufreq/scaling_max_freq", "3000000\n");
  root.Write("/sys/class/thermal/thermal_zone0/type", "cpu-big\n");
  root.Write("/sys/class/thermal/thermal_zone0/temp", "60000\n");
  root.Write("/sys/class/thermal/thermal_zone0/trip_point_0_type", "active\n");
  root.Write("/sys/class/thermal/thermal_zone0/trip_point_0_temp", "50000\n");
  root.Write("/sys/class/thermal/thermal_zone0/trip_point_1_type", "passive\n");
  root.Write("/sys/class/thermal/thermal_zone0/trip_point_1_temp", "90000\n");
}

farm::v1::EnvironmentSample Sample(absl::Duration offset, uint32_t cpu4_max_khz,
                                   int32_t millicelsius) {
  farm::v1::EnvironmentSample s;
  *s.mutable_offset() = ToProtoDuration(offset);
  (*s.mutable_cpu_max_frequency_khz())[4] = cpu4_max_khz;
  (*s.mutable_thermal_millicelsius())["soc"] = millicelsius;
  (*s.mutable_thermal_trip_millicelsius())["soc"] = 90000;
  return s;
}

farm::v1::BenchmarkResult TwoRepetitionResult() {
  farm::v1::BenchmarkResult result;
  for (const char* metric : {"integer.time", "crypto.sha256"}) {
    farm::v1::Measurement* m = result.add_measurements();
    m->set_metric(metric);
    m->add_values(1);
    m->add_values(2);
  }
  return result;
}

TEST(ThrottlingTest, TheSamplerSeesACapFallAndTheRepetitionIsMarked) {
  ScratchRoot root;
  WriteCoolPhone(root);
  EnvironmentSampler sampler(probe::Sysroot(root.path()), absl::Hours(1));
  sampler.Start();
  // The thermal governor lowers the big core's cap while the job runs.
  root.Write("/sys/devices/system/cpu/cpu4/cpufreq/scaling_max_freq", "1900000\n");
  const std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples.front().cpu_max_frequency_khz().at(4), 3000000u);
  // The active trip starts a fan: only the passive one counts.
  EXPECT_EQ(samples.front().thermal_trip_millicelsius().at("cpu-big"), 90000);
  const absl::Duration end = FromProtoDuration(samples.back().offset());

  // Repetition 1 ran before the change was seen, repetition 2 until the end.
  RepetitionWindows windows;
  farm::v1::Progress progress;
  progress.set_workload("integer");
  progress.set_repetition(1);
  windows.OnProgress(progress, absl::ZeroDuration());
  progress.set_repetition(2);
  windows.OnProgress(progress, end / 2);
  farm::v1::BenchmarkResult result = TwoRepetitionResult();
  MarkThrottled(windows.Close(end), samples, ThrottleOptions{}, &result);

  EXPECT_THAT(result.measurements(0).throttled_repetitions(), ElementsAre(1));
  EXPECT_THAT(result.measurements(0).note(),
              HasSubstr("throttled in repetition 2: cpu4 maximum frequency 1.90 GHz, below 90 % "
                        "of 3.00 GHz at the start"));
  EXPECT_THAT(result.measurements(1).throttled_repetitions(), IsEmpty());  // crypto didn't run
  EXPECT_THAT(result.notes(), ElementsAre("1 figures have throttled repetitions"));
}

TEST(ThrottlingTest, ThePassiveTripPointThrottles) {
  ScratchRoot root;
  WriteCoolPhone(root);
  const farm::v1::EnvironmentSample cool = ReadEnvironment(probe::Sysroot(root.path()), {});
  root.Write("/sys/class/thermal/thermal_zone0/temp", "90000\n");
  const farm::v1::EnvironmentSample hot =
      ReadEnvironment(probe::Sysroot(root.path()), absl::Seconds(2));
  EXPECT_EQ(ThrottleReason({cool, hot}, absl::ZeroDuration(), absl::Seconds(1), {}), "");
  EXPECT_EQ(ThrottleReason({cool, hot}, absl::Seconds(1), absl::Seconds(3), {}),
            "thermal zone cpu-big at 90.0 °C, past its trip point 90.0 °C");
}

TEST(ThrottleReasonTest, TheFractionIsTheBound) {
  const std::vector<farm::v1::EnvironmentSample> samples = {
      Sample(absl::ZeroDuration(), 3000000, 40000), Sample(absl::Seconds(1), 2700000, 40000),
      Sample(absl::Seconds(2), 2699999, 40000)};
  EXPECT_EQ(ThrottleReason(samples, absl::Seconds(1), absl::Seconds(1), {}), "");
  EXPECT_THAT(ThrottleReason(samples, absl::Seconds(2), absl::Seconds(2), {}),
              HasSubstr("cpu4 maximum frequency 2.70 GHz"));
  ThrottleOptions strict;
  strict.min_frequency_fraction = 0.95;
  EXPECT_THAT(ThrottleReason(samples, absl::Seconds(1), absl::Seconds(1), strict),
              HasSubstr("below 95 %"));
}

TEST(ThrottleReasonTest, AWindowWithoutSamplesTakesTheNextOneOnlyThen) {
  const std::vector<farm::v1::EnvironmentSample> samples = {
      Sample(absl::ZeroDuration(), 3000000, 40000), Sample(absl::Seconds(1), 3000000, 40000),
      Sample(absl::Seconds(3), 3000000, 95000)};
  // (1.5 s, 2 s) has no sample: the one at 3 s stands for it.
  EXPECT_THAT(ThrottleReason(samples, absl::Milliseconds(1500), absl::Seconds(2), {}),
              HasSubstr("thermal zone soc at 95.0 °C"));
  // (0.5 s, 2 s) has the cool one at 1 s: what came after is not its business.
  EXPECT_EQ(ThrottleReason(samples, absl::Milliseconds(500), absl::Seconds(2), {}), "");
}

TEST(MarkThrottledTest, ADeviceExposingNothingSaysItWasNotChecked) {
  farm::v1::EnvironmentSample bare;
  farm::v1::BenchmarkResult result = TwoRepetitionResult();
  MarkThrottled({{"integer", 0, absl::ZeroDuration(), absl::Seconds(1)}}, {bare, bare}, {},
                &result);
  EXPECT_THAT(result.notes(), ElementsAre(HasSubstr("throttling not checked")));
  EXPECT_THAT(result.measurements(0).throttled_repetitions(), IsEmpty());
}

TEST(MarkThrottledTest, ACoolRunSaysWhatWasChecked) {
  const std::vector<farm::v1::EnvironmentSample> samples = {
      Sample(absl::ZeroDuration(), 3000000, 40000), Sample(absl::Seconds(1), 3000000, 41000)};
  farm::v1::BenchmarkResult result = TwoRepetitionResult();
  MarkThrottled({{"integer", 0, absl::ZeroDuration(), absl::Seconds(1)}}, samples, {}, &result);
  EXPECT_THAT(result.notes(), ElementsAre(HasSubstr("no throttling seen in 2 samples")));
}

TEST(RepetitionWindowsTest, ARepetitionEndsAtTheNextLineOfAnyKind) {
  RepetitionWindows windows;
  farm::v1::Progress p;
  p.set_workload("crypto");
  windows.OnProgress(p, absl::Seconds(1));  // "preparing crypto": no repetition
  p.set_repetition(1);
  windows.OnProgress(p, absl::Seconds(2));
  p.set_workload("integer");
  p.set_repetition(0);
  windows.OnProgress(p, absl::Seconds(5));  // preparing the next workload
  p.set_repetition(1);
  windows.OnProgress(p, absl::Seconds(6));
  const std::vector<RepetitionWindow> closed = windows.Close(absl::Seconds(9));
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[0].workload, "crypto");
  EXPECT_EQ(closed[0].repetition, 0u);
  EXPECT_EQ(closed[0].from, absl::Seconds(2));
  EXPECT_EQ(closed[0].to, absl::Seconds(5));
  EXPECT_EQ(closed[1].workload, "integer");
  EXPECT_EQ(closed[1].to, absl::Seconds(9));
}

}  // namespace
}  // namespace kvmfarm
