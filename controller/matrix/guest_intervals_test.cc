#include "controller/matrix/guest_intervals.h"

#include "controller/matrix/matrix.h"
#include "gtest/gtest.h"

namespace kvmfarm::matrix {
namespace {

// Five repetitions within +-1 % of a median.
constexpr double kSpread[] = {0.99, 0.995, 1.0, 1.005, 1.01};

farm::v1::Measurement* Add(farm::v1::BenchmarkResult* result, farm::v1::Mode mode, double median,
                           bool higher_is_better = true) {
  farm::v1::Measurement* m = result->add_measurements();
  m->set_metric(higher_is_better ? "crypto.sha256" : "integer.time");
  m->set_higher_is_better(higher_is_better);
  m->set_mode(mode);
  for (double f : kSpread) m->add_values(median * f);
  m->set_median(median);
  return m;
}

// The summaries a store would keep of task `task_id`'s `result`.
std::vector<store::StoredSummary> Stored(const std::string& task_id,
                                         const farm::v1::BenchmarkResult& result) {
  std::vector<store::StoredSummary> out;
  for (const farm::v1::Measurement& m : result.measurements()) {
    store::StoredSummary s;
    s.device_id = "d1";
    s.task_id = task_id;
    s.measurement = m;
    out.push_back(s);
  }
  return out;
}

TEST(GuestIntervalsTest, EachGuestFigureGetsIntervalsAgainstNativeAndTheOtherGuest) {
  farm::v1::BenchmarkResult result;
  Add(&result, farm::v1::MODE_NATIVE, 1000);
  Add(&result, farm::v1::MODE_KVM, 900);
  Add(&result, farm::v1::MODE_TCG, 100);
  AttachGuestIntervals({}, "t1", &result);
  EXPECT_FALSE(result.measurements(0).has_intervals());  // native: none
  const farm::v1::GuestIntervals& kvm = result.measurements(1).intervals();
  EXPECT_EQ(kvm.native_task_id(), "t1");
  EXPECT_LT(kvm.percent_of_native().low(), 90);
  EXPECT_GT(kvm.percent_of_native().high(), 90);
  EXPECT_GT(kvm.percent_of_native().low(), 87);  // +-1 % a side: within a few percent
  EXPECT_LT(kvm.percent_of_native().high(), 93);
  EXPECT_LT(kvm.kvm_speedup_over_tcg().low(), 9);
  EXPECT_GT(kvm.kvm_speedup_over_tcg().high(), 9);
  const farm::v1::GuestIntervals& tcg = result.measurements(2).intervals();
  EXPECT_LT(tcg.percent_of_native().low(), 10);
  EXPECT_GT(tcg.percent_of_native().high(), 10);
  EXPECT_EQ(tcg.other_guest_task_id(), "t1");
}

// A time: lower is better, so 1.25 s in the guest against 1 s native is 80 %.
TEST(GuestIntervalsTest, ForATimeTheGuestsPercentageIsNativeOverGuest) {
  farm::v1::BenchmarkResult native;
  Add(&native, farm::v1::MODE_NATIVE, 1.0, false);
  farm::v1::BenchmarkResult guest;
  Add(&guest, farm::v1::MODE_KVM, 1.25, false);
  AttachGuestIntervals(Stored("t-native", native), "t-kvm", &guest);
  const farm::v1::GuestIntervals& kvm = guest.measurements(0).intervals();
  EXPECT_EQ(kvm.native_task_id(), "t-native");  // the device's latest native figure
  EXPECT_LT(kvm.percent_of_native().low(), 80);
  EXPECT_GT(kvm.percent_of_native().high(), 80);
  EXPECT_FALSE(kvm.has_kvm_speedup_over_tcg());  // no TCG figure yet
}

TEST(GuestIntervalsTest, TheMatrixShowsAnIntervalOnlyWhileItsNativeFigureIsTheCells) {
  farm::v1::BenchmarkResult result;
  Add(&result, farm::v1::MODE_NATIVE, 1000);
  Add(&result, farm::v1::MODE_KVM, 900);
  AttachGuestIntervals({}, "t1", &result);
  std::vector<store::StoredSummary> summaries = Stored("t1", result);
  farm::v1::Device device;
  device.set_device_id("d1");
  std::vector<farm::v1::MatrixRow> rows =
      BuildMatrix({device}, summaries, farm::v1::GROUP_BY_DEVICE);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].cells_size(), 1);
  EXPECT_TRUE(rows[0].cells(0).has_kvm_percent_of_native_interval());
  EXPECT_LT(rows[0].cells(0).kvm_percent_of_native_interval().low(), 90);
  // Native measured again later: the stored interval is against an older figure.
  summaries[0].task_id = "t2";
  rows = BuildMatrix({device}, summaries, farm::v1::GROUP_BY_DEVICE);
  EXPECT_TRUE(rows[0].cells(0).has_kvm_percent_of_native());
  EXPECT_FALSE(rows[0].cells(0).has_kvm_percent_of_native_interval());
}

}  // namespace
}  // namespace kvmfarm::matrix
