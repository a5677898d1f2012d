#include "agent/native_comparison.h"

#include <string>

#include "common/measurement.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

farm::v1::Measurement Figure(const std::string& metric, double median, bool higher_is_better,
                             farm::v1::Mode mode) {
  farm::v1::Measurement m;
  m.set_metric(metric);
  m.set_median(median);
  m.set_higher_is_better(higher_is_better);
  m.set_mode(mode);
  (*m.mutable_parameters())["size"] = "64M";
  return m;
}

TEST(MergeNativeTest, NativeFiguresComeFirstAndGuestOnesGetTheirPercentage) {
  farm::v1::BenchmarkResult native, guest;
  *native.add_measurements() = Figure("mem_read.bandwidth", 20.0, true, farm::v1::MODE_NATIVE);
  *native.add_measurements() = Figure("crypto.latency", 2.0, false, farm::v1::MODE_NATIVE);
  *guest.add_measurements() = Figure("mem_read.bandwidth", 15.0, true, farm::v1::MODE_TCG);
  *guest.add_measurements() = Figure("crypto.latency", 8.0, false, farm::v1::MODE_TCG);
  MergeNative(native, &guest);
  ASSERT_EQ(guest.measurements_size(), 4);
  EXPECT_EQ(guest.measurements(0).mode(), farm::v1::MODE_NATIVE);
  EXPECT_EQ(guest.measurements(1).mode(), farm::v1::MODE_NATIVE);
  EXPECT_FALSE(guest.measurements(0).has_percent_of_native());
  // Throughput: guest / native.
  EXPECT_DOUBLE_EQ(guest.measurements(2).percent_of_native(), 75.0);
  // Latency: native / guest, so 100 % is still "as fast as native".
  EXPECT_DOUBLE_EQ(guest.measurements(3).percent_of_native(), 25.0);
}

TEST(MergeNativeTest, AGuestOfAnotherArchitectureComparesWithTheSameFigure) {
  farm::v1::BenchmarkResult native, guest;
  *native.add_measurements() = Figure("integer.ops", 100.0, true, farm::v1::MODE_NATIVE);
  farm::v1::Measurement arm = Figure("integer.ops", 10.0, true, farm::v1::MODE_TCG);
  (*arm.mutable_parameters())[kGuestArchParameter] = "arm64";
  *guest.add_measurements() = arm;
  MergeNative(native, &guest);
  ASSERT_EQ(guest.measurements_size(), 2);
  EXPECT_DOUBLE_EQ(guest.measurements(1).percent_of_native(), 10.0);
}

TEST(MergeNativeTest, OtherParametersOrMissingMediansGetNoPercentage) {
  farm::v1::BenchmarkResult native, guest;
  *native.add_measurements() = Figure("io.read", 50.0, true, farm::v1::MODE_NATIVE);
  farm::v1::Measurement other_size = Figure("io.read", 40.0, true, farm::v1::MODE_KVM);
  (*other_size.mutable_parameters())["size"] = "1G";
  *guest.add_measurements() = other_size;
  farm::v1::Measurement no_median = Figure("io.read", 0, true, farm::v1::MODE_KVM);
  no_median.clear_median();
  *guest.add_measurements() = no_median;
  *guest.add_measurements() = Figure("io.read", 0.0, true, farm::v1::MODE_KVM);
  MergeNative(native, &guest);
  ASSERT_EQ(guest.measurements_size(), 4);
  for (int i = 1; i < 4; ++i) EXPECT_FALSE(guest.measurements(i).has_percent_of_native()) << i;
}

TEST(MergeNativeTest, NativeFailuresAndEnvironmentAreKept) {
  farm::v1::BenchmarkResult native, guest;
  farm::v1::WorkloadFailure* failure = native.add_failures();
  failure->set_workload("io");
  failure->set_reason("no space");
  (*native.add_environment()->mutable_cpu_frequency_khz())[0] = 1800000;
  (*guest.add_environment()->mutable_cpu_frequency_khz())[0] = 1;
  native.add_notes("no throttling seen in 3 samples");
  MergeNative(native, &guest);
  ASSERT_EQ(guest.failures_size(), 1);
  EXPECT_EQ(guest.failures(0).workload(), "io");
  EXPECT_EQ(guest.failures(0).reason(), "native: no space");
  ASSERT_EQ(guest.environment_size(), 2);
  EXPECT_EQ(guest.environment(0).cpu_frequency_khz().at(0), 1800000u);  // native's first
  EXPECT_EQ(guest.environment(1).cpu_frequency_khz().at(0), 1u);
  EXPECT_THAT(guest.notes(), ::testing::ElementsAre("native: no throttling seen in 3 samples"));
}

}  // namespace
}  // namespace kvmfarm
