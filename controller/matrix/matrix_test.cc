#include "controller/matrix/matrix.h"

#include "common/measurement.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::matrix {
namespace {

farm::v1::Device Device(const std::string& id, const std::string& model,
                        farm::v1::Verdict verdict) {
  farm::v1::Device d;
  d.set_device_id(id);
  d.mutable_identity()->set_model(model);
  d.mutable_identity()->set_soc_marketing_name("Snapdragon 8 Gen 3");
  d.mutable_capability()->set_verdict(verdict);
  d.mutable_capability()->set_recommendation(verdict == farm::v1::VERDICT_KVM_READY ? "use KVM"
                                                                                    : "TCG only");
  return d;
}

store::StoredSummary Summary(const std::string& device, const std::string& metric,
                             farm::v1::Mode mode, std::vector<double> values, bool higher = true,
                             uint32_t requested = 3, const std::string& sweep = "s1") {
  store::StoredSummary s;
  s.device_id = device;
  s.sweep_id = sweep;
  s.measured_ns = 1000;
  s.requested_repetitions = requested;
  s.measurement.set_metric(metric);
  s.measurement.set_unit(higher ? "MB/s" : "s");
  s.measurement.set_higher_is_better(higher);
  s.measurement.set_mode(mode);
  (*s.measurement.mutable_parameters())["size_bytes"] = "1048576";
  for (double v : values) s.measurement.add_values(v);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  s.measurement.set_median(sorted[sorted.size() / 2]);
  return s;
}

TEST(BuildMatrixTest, PercentOfNativeAndSpeedupPerCell) {
  const std::vector<farm::v1::Device> devices = {
      Device("op12", "CPH2581", farm::v1::VERDICT_KVM_READY)};
  const std::vector<store::StoredSummary> summaries = {
      Summary("op12", "crypto.sha256", farm::v1::MODE_NATIVE, {1000, 1010, 990}),
      Summary("op12", "crypto.sha256", farm::v1::MODE_KVM, {900, 910, 890}),
      Summary("op12", "crypto.sha256", farm::v1::MODE_TCG, {70, 75}),  // one short of 3
      Summary("op12", "float.time", farm::v1::MODE_NATIVE, {1.0, 1.0, 1.0}, false),
      Summary("op12", "float.time", farm::v1::MODE_TCG, {20.0, 20.0, 20.0}, false),
  };
  const std::vector<farm::v1::MatrixRow> rows =
      BuildMatrix(devices, summaries, farm::v1::GROUP_BY_DEVICE);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key(), "op12");
  EXPECT_EQ(rows[0].verdict(), farm::v1::VERDICT_KVM_READY);
  EXPECT_EQ(rows[0].recommendation(), "use KVM");
  ASSERT_EQ(rows[0].cells_size(), 2);
  const farm::v1::MatrixCell& crypto = rows[0].cells(0);
  EXPECT_EQ(crypto.metric(), "crypto.sha256");
  EXPECT_DOUBLE_EQ(crypto.native().median(), 1000);
  EXPECT_EQ(crypto.native().samples(), 3u);
  EXPECT_DOUBLE_EQ(crypto.kvm_percent_of_native(), 90);
  EXPECT_NEAR(crypto.tcg_percent_of_native(), 7.25, 1e-9);  // median of 70, 75
  EXPECT_NEAR(crypto.kvm_speedup_over_tcg(), 900 / 72.5, 1e-9);
  EXPECT_EQ(crypto.tcg().samples(), 2u);
  EXPECT_EQ(crypto.tcg().samples_requested(), 3u);  // fewer than asked: visible
  const farm::v1::MatrixCell& nbody = rows[0].cells(1);
  EXPECT_FALSE(nbody.has_kvm());  // not measured: absent, never zero
  EXPECT_FALSE(nbody.has_kvm_percent_of_native());
  EXPECT_NEAR(nbody.tcg_percent_of_native(), 5.0, 1e-9);  // a time: native / guest
}

// A figure whose repetitions spread more than 5 % of their mean is flagged noisy,
// with the spread; one sample has none.
TEST(BuildMatrixTest, NoisyFiguresAreFlaggedWithTheirSpread) {
  const std::vector<farm::v1::Device> devices = {
      Device("op12", "CPH2581", farm::v1::VERDICT_KVM_READY)};
  const std::vector<store::StoredSummary> summaries = {
      Summary("op12", "crypto.sha256", farm::v1::MODE_NATIVE, {1000, 1010, 990}),
      Summary("op12", "crypto.sha256", farm::v1::MODE_TCG, {60, 75, 90}),
      Summary("op12", "float.time", farm::v1::MODE_NATIVE, {1.0}, false),
  };
  const std::vector<farm::v1::MatrixRow> rows =
      BuildMatrix(devices, summaries, farm::v1::GROUP_BY_DEVICE);
  ASSERT_EQ(rows.size(), 1u);
  const farm::v1::MatrixCell& crypto = rows[0].cells(0);
  EXPECT_NEAR(crypto.native().cv_percent(), 1.0, 1e-9);  // sd 10 over mean 1000
  EXPECT_FALSE(crypto.native().noisy());
  EXPECT_NEAR(crypto.tcg().cv_percent(), 20.0, 1e-9);  // sd 15 over mean 75
  EXPECT_TRUE(crypto.tcg().noisy());
  EXPECT_FALSE(rows[0].cells(1).native().has_cv_percent());
  EXPECT_FALSE(rows[0].cells(1).native().noisy());
}

// Repetitions measured while the device throttled are counted in the cell, pooled
// over the figures it rests on.
TEST(BuildMatrixTest, ThrottledRepetitionsAreCounted) {
  const std::vector<farm::v1::Device> devices = {
      Device("p8a", "pixel8", farm::v1::VERDICT_KVM_READY),
      Device("p8b", "pixel8", farm::v1::VERDICT_KVM_READY)};
  std::vector<store::StoredSummary> summaries = {
      Summary("p8a", "crypto.sha256", farm::v1::MODE_NATIVE, {1000, 700, 650}),
      Summary("p8b", "crypto.sha256", farm::v1::MODE_NATIVE, {1000, 990, 600}),
      Summary("p8a", "crypto.sha256", farm::v1::MODE_TCG, {70, 71, 72})};
  summaries[0].measurement.add_throttled_repetitions(1);
  summaries[0].measurement.add_throttled_repetitions(2);
  summaries[1].measurement.add_throttled_repetitions(2);
  const std::vector<farm::v1::MatrixRow> by_device =
      BuildMatrix(devices, summaries, farm::v1::GROUP_BY_DEVICE);
  ASSERT_EQ(by_device.size(), 2u);
  EXPECT_EQ(by_device[0].cells(0).native().throttled_samples(), 2u);
  EXPECT_EQ(by_device[0].cells(0).tcg().throttled_samples(), 0u);
  EXPECT_EQ(by_device[1].cells(0).native().throttled_samples(), 1u);
  const std::vector<farm::v1::MatrixRow> by_model =
      BuildMatrix(devices, summaries, farm::v1::GROUP_BY_MODEL);
  ASSERT_EQ(by_model.size(), 1u);
  EXPECT_EQ(by_model[0].cells(0).native().throttled_samples(), 3u);
  EXPECT_EQ(by_model[0].cells(0).native().samples(), 6u);
}

// An arm64 guest under TCG on an x86-64 host is not the x86-64 guest's figure: its
// own cell, beside the same-architecture one, with the host's native figure.
TEST(BuildMatrixTest, AGuestOfAnotherArchitectureKeepsItsOwnCell) {
  const std::vector<farm::v1::Device> devices = {
      Device("host", "x86", farm::v1::VERDICT_KVM_READY)};
  store::StoredSummary arm64 = Summary("host", "crypto.sha256", farm::v1::MODE_TCG, {10, 10, 10});
  (*arm64.measurement.mutable_parameters())[kGuestArchParameter] = "arm64";
  const std::vector<store::StoredSummary> summaries = {
      Summary("host", "crypto.sha256", farm::v1::MODE_NATIVE, {1000, 1000, 1000}),
      Summary("host", "crypto.sha256", farm::v1::MODE_TCG, {50, 50, 50}),
      arm64,
  };
  const std::vector<farm::v1::MatrixRow> rows =
      BuildMatrix(devices, summaries, farm::v1::GROUP_BY_DEVICE);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].cells_size(), 2);
  // Cells are ordered by parameters: "guest_arch=arm64,..." first.
  const farm::v1::MatrixCell& cross_arch = rows[0].cells(0);
  const farm::v1::MatrixCell& same_arch = rows[0].cells(1);
  EXPECT_FALSE(same_arch.parameters().count(kGuestArchParameter));
  EXPECT_DOUBLE_EQ(same_arch.tcg().median(), 50);
  EXPECT_DOUBLE_EQ(same_arch.tcg_percent_of_native(), 5);
  ASSERT_TRUE(cross_arch.parameters().count(kGuestArchParameter));
  EXPECT_EQ(cross_arch.parameters().at(kGuestArchParameter), "arm64");
  EXPECT_DOUBLE_EQ(cross_arch.tcg().median(), 10);
  EXPECT_DOUBLE_EQ(cross_arch.native().median(), 1000);  // the host's
  EXPECT_DOUBLE_EQ(cross_arch.tcg_percent_of_native(), 1);
}

TEST(BuildMatrixTest, GroupsByModelAndSocPoolingSamples) {
  const std::vector<farm::v1::Device> devices = {
      Device("a", "Pixel 8", farm::v1::VERDICT_KVM_NO_ACCESS),
      Device("b", "Pixel 8", farm::v1::VERDICT_KVM_NO_ACCESS),
      Device("c", "Pixel 8", farm::v1::VERDICT_KVM_READY),
      Device("d", "OnePlus 12", farm::v1::VERDICT_KVM_READY)};
  const std::vector<store::StoredSummary> summaries = {
      Summary("a", "crypto.sha256", farm::v1::MODE_NATIVE, {100, 100, 100}),
      Summary("b", "crypto.sha256", farm::v1::MODE_NATIVE, {200, 200, 200}),
  };
  std::vector<farm::v1::MatrixRow> rows = BuildMatrix(devices, summaries, farm::v1::GROUP_BY_MODEL);
  ASSERT_EQ(rows.size(), 2u);
  const farm::v1::MatrixRow& pixel = rows[1];
  EXPECT_EQ(pixel.key(), "Pixel 8");
  EXPECT_EQ(pixel.device_ids_size(), 3);
  EXPECT_EQ(pixel.verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);  // the most common
  EXPECT_EQ(pixel.verdict_counts().at("VERDICT_KVM_READY"), 1u);
  ASSERT_EQ(pixel.cells_size(), 1);
  EXPECT_EQ(pixel.cells(0).native().samples(), 6u);
  EXPECT_EQ(pixel.cells(0).native().samples_requested(), 6u);
  rows = BuildMatrix(devices, summaries, farm::v1::GROUP_BY_SOC);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key(), "Snapdragon 8 Gen 3");
  EXPECT_EQ(rows[0].device_ids_size(), 4);
}

}  // namespace
}  // namespace kvmfarm::matrix
