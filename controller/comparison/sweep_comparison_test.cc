#include "controller/comparison/sweep_comparison.h"

#include <google/protobuf/util/time_util.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::comparison {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

// The spread of five repetitions around a median: +-1 %.
constexpr double kSpread[] = {0.99, 0.995, 1.0, 1.005, 1.01};

// One task's summary of one metric: five repetitions around `median`.
store::StoredSummary Summary(const std::string& device, const std::string& metric,
                             farm::v1::Mode mode, double median, bool higher = true) {
  store::StoredSummary s;
  s.device_id = device;
  s.sweep_id = "s1";
  s.measurement.set_metric(metric);
  s.measurement.set_unit(higher ? "MB/s" : "s");
  s.measurement.set_higher_is_better(higher);
  s.measurement.set_mode(mode);
  (*s.measurement.mutable_parameters())["size_bytes"] = "1048576";
  for (double f : kSpread) s.measurement.add_values(median * f);
  s.measurement.set_median(median);
  return s;
}

TEST(CompareTest, ClassifiesEveryChangeRegressionsFirst) {
  const std::vector<store::StoredSummary> a = {
      Summary("d", "crypto.sha256", farm::v1::MODE_KVM, 1000),
      Summary("d", "float.time", farm::v1::MODE_KVM, 1.0, false),
      Summary("d", "mem_read.bandwidth", farm::v1::MODE_KVM, 5000),
      Summary("d", "io.read", farm::v1::MODE_KVM, 800),
  };
  const std::vector<store::StoredSummary> b = {
      Summary("d", "crypto.sha256", farm::v1::MODE_KVM, 500),                  // half: regression
      Summary("d", "float.time", farm::v1::MODE_KVM, 0.5, false),              // faster: improved
      Summary("d", "mem_read.bandwidth", farm::v1::MODE_KVM, 5100),            // +2 %: unchanged
      Summary("d", "boot.time_to_userspace", farm::v1::MODE_KVM, 0.2, false),  // new
  };
  const std::vector<farm::v1::MetricChange> changes = CompareSummaries(a, b, 5.0);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0].metric(), "crypto.sha256");
  EXPECT_EQ(changes[0].label(), farm::v1::CHANGE_LABEL_REGRESSION);
  EXPECT_DOUBLE_EQ(changes[0].change_percent(), -50);
  EXPECT_EQ(changes[1].label(), farm::v1::CHANGE_LABEL_MISSING);
  EXPECT_EQ(changes[1].metric(), "io.read");
  EXPECT_EQ(changes[2].label(), farm::v1::CHANGE_LABEL_IMPROVED);
  EXPECT_EQ(changes[2].metric(), "float.time");
  EXPECT_EQ(changes[3].label(), farm::v1::CHANGE_LABEL_NEW);
  EXPECT_EQ(changes[4].label(), farm::v1::CHANGE_LABEL_UNCHANGED);
  // Each decision says how it was made.
  EXPECT_EQ(changes[0].test(), "mann-whitney-u exact");
  EXPECT_NEAR(changes[0].p_value(), 2.0 / 252, 1e-12);  // five apart from five
  EXPECT_EQ(changes[0].samples_a(), 5u);
  EXPECT_EQ(changes[0].samples_b(), 5u);
  EXPECT_LT(changes[0].ratio_low(), 0.5 + 1e-9);
  EXPECT_GT(changes[0].ratio_high(), 0.5 - 1e-9);
  EXPECT_LT(changes[0].ratio_high(), 1);
}

// A store of three repetitions a side can't show a change at 0.05 (the U test's
// smallest p is 0.1): it says so rather than "unchanged", whatever the medians do.
TEST(CompareTest, TooFewRepetitionsAreInconclusiveNeverUnchanged) {
  auto three = [](double median) {
    store::StoredSummary s = Summary("d", "crypto.sha256", farm::v1::MODE_NATIVE, median);
    s.measurement.clear_values();
    for (double f : {0.99, 1.0, 1.01}) s.measurement.add_values(median * f);
    return s;
  };
  for (double after : {1000.0, 1010.0, 500.0}) {
    const std::vector<farm::v1::MetricChange> changes =
        CompareSummaries({three(1000)}, {three(after)}, 5.0);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].label(), farm::v1::CHANGE_LABEL_INCONCLUSIVE) << after;
    EXPECT_EQ(changes[0].samples_a(), 3u);
    EXPECT_GE(changes[0].p_value(), 0.1);
  }
  // Five a side show a halving.
  EXPECT_EQ(CompareSummaries({Summary("d", "crypto.sha256", farm::v1::MODE_NATIVE, 1000)},
                             {Summary("d", "crypto.sha256", farm::v1::MODE_NATIVE, 500)}, 5.0)[0]
                .label(),
            farm::v1::CHANGE_LABEL_REGRESSION);
}

// A large difference in the medians that the noise of the repetitions hides is not
// a regression: it is inconclusive until more repetitions show it.
TEST(CompareTest, ANoisyDifferenceIsInconclusive) {
  store::StoredSummary a = Summary("d", "crypto.sha256", farm::v1::MODE_NATIVE, 1000);
  store::StoredSummary b = Summary("d", "crypto.sha256", farm::v1::MODE_NATIVE, 900);
  a.measurement.clear_values();
  b.measurement.clear_values();
  for (double v : {600, 1000, 1400, 700, 1300}) a.measurement.add_values(v);
  for (double v : {500, 900, 1350, 650, 1250}) b.measurement.add_values(v);
  const std::vector<farm::v1::MetricChange> changes = CompareSummaries({a}, {b}, 5.0);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].label(), farm::v1::CHANGE_LABEL_INCONCLUSIVE);
  EXPECT_GT(changes[0].p_value(), 0.05);
  EXPECT_DOUBLE_EQ(changes[0].change_percent(), -10);
  // Medians without their repetitions: nothing to test.
  a.measurement.clear_values();
  const std::vector<farm::v1::MetricChange> bare = CompareSummaries({a}, {b}, 5.0);
  EXPECT_EQ(bare[0].label(), farm::v1::CHANGE_LABEL_INCONCLUSIVE);
  EXPECT_FALSE(bare[0].has_p_value());
  EXPECT_EQ(bare[0].test(), "");
}

TEST(CompareTest, AKernelUpdateThatBreaksKvmIsAVerdictRegression) {
  const std::vector<farm::v1::VerdictChange> changes = CompareVerdicts(
      {{"p8", farm::v1::VERDICT_KVM_READY}, {"op12", farm::v1::VERDICT_KVM_BOOT_FAILED}},
      {{"p8", farm::v1::VERDICT_KVM_UNUSABLE},
       {"op12", farm::v1::VERDICT_KVM_READY},
       {"new", farm::v1::VERDICT_UNKNOWN}});
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].device_id(), "new");
  EXPECT_EQ(changes[0].label(), farm::v1::CHANGE_LABEL_NEW);
  EXPECT_EQ(changes[1].device_id(), "op12");
  EXPECT_EQ(changes[1].label(), farm::v1::CHANGE_LABEL_IMPROVED);
  EXPECT_EQ(changes[2].label(), farm::v1::CHANGE_LABEL_REGRESSION);
}

class CompareStoredSweepsTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = store::testing::OpenScratchStore(); }

  // A sweep of one device: a capability task with `verdict` and a benchmark task
  // measuring crypto.sha256 at `value`.
  void StoreSweep(const std::string& sweep_id, farm::v1::Verdict verdict, double value) {
    farm::v1::Sweep sweep;
    sweep.set_sweep_id(sweep_id);
    ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
    farm::v1::Task capability;
    capability.set_task_id(sweep_id + "/t0");
    capability.set_sweep_id(sweep_id);
    capability.set_device_id("d0");
    capability.mutable_capability()->set_verdict(verdict);
    ASSERT_THAT(store_->StoreTaskResult(capability, capability.task_id() + "/a1"), IsOk());
    farm::v1::Task benchmark;
    benchmark.set_task_id(sweep_id + "/t1");
    benchmark.set_sweep_id(sweep_id);
    benchmark.set_device_id("d0");
    *benchmark.mutable_finished_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(1000);
    farm::v1::Measurement* m = benchmark.mutable_benchmark()->add_measurements();
    m->set_metric("crypto.sha256");
    m->set_mode(farm::v1::MODE_NATIVE);
    m->set_higher_is_better(true);
    for (double f : kSpread) m->add_values(value * f);
    m->set_median(value);
    ASSERT_THAT(store_->StoreTaskResult(benchmark, benchmark.task_id() + "/a1"), IsOk());
  }

  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(CompareStoredSweepsTest, ComparesMetricsWithTheDefaultThresholdAndVerdicts) {
  StoreSweep("a", farm::v1::VERDICT_KVM_READY, 1000);
  StoreSweep("b", farm::v1::VERDICT_KVM_BOOT_FAILED, 970);  // -3 %: within 5 %
  absl::StatusOr<SweepComparison> comparison =
      CompareStoredSweeps(*store_, "a", "b", absl::nullopt);
  ASSERT_THAT(comparison, IsOk());
  ASSERT_EQ(comparison->changes.size(), 1u);
  EXPECT_EQ(comparison->changes[0].label(), farm::v1::CHANGE_LABEL_UNCHANGED);
  ASSERT_EQ(comparison->verdict_changes.size(), 1u);
  EXPECT_EQ(comparison->verdict_changes[0].label(), farm::v1::CHANGE_LABEL_REGRESSION);

  comparison = CompareStoredSweeps(*store_, "a", "b", 1.0);
  ASSERT_THAT(comparison, IsOk());
  EXPECT_EQ(comparison->changes[0].label(), farm::v1::CHANGE_LABEL_REGRESSION);
}

// A boot's figures carry the guest image's digest: a sweep that booted another
// kernel says so in its cells' provenance, unless a benchmark in the same mode
// (whose own provenance names the image too) speaks for the cell.
TEST(ProvenanceTest, ABootsProvenanceNamesTheGuestImageItBooted) {
  farm::v1::Sweep sweep;
  farm::v1::Task* boot = sweep.add_tasks();
  boot->set_device_id("d0");
  boot->mutable_boot_result()->mutable_provenance()->set_guest_image_sha256("debian");
  boot->mutable_boot_result()->add_measurements()->set_mode(farm::v1::MODE_TCG);
  ProvenanceByCell cells = ProvenanceOf(sweep);
  ASSERT_EQ(cells.count({"d0", farm::v1::MODE_TCG}), 1u);
  farm::v1::Provenance kvmfarm = cells.at({"d0", farm::v1::MODE_TCG});
  kvmfarm.set_guest_image_sha256("kvmfarm");
  EXPECT_EQ(ProvenanceChanges(cells.at({"d0", farm::v1::MODE_TCG}), kvmfarm),
            "guest image debian -> kvmfarm");

  farm::v1::Task* benchmark = sweep.add_tasks();
  benchmark->set_device_id("d0");
  benchmark->mutable_benchmark()->mutable_provenance()->set_guest_image_sha256("workloads");
  benchmark->mutable_benchmark()->add_measurements()->set_mode(farm::v1::MODE_TCG);
  EXPECT_EQ(ProvenanceOf(sweep).at({"d0", farm::v1::MODE_TCG}).guest_image_sha256(), "workloads");
}

TEST_F(CompareStoredSweepsTest, BadRequestsNameTheField) {
  StoreSweep("a", farm::v1::VERDICT_KVM_READY, 1000);
  EXPECT_THAT(CompareStoredSweeps(*store_, "", "a", absl::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sweep_a is required")));
  EXPECT_THAT(CompareStoredSweeps(*store_, "a", "", absl::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sweep_b is required")));
  EXPECT_THAT(CompareStoredSweeps(*store_, "a", "ghost", absl::nullopt),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep_b: no sweep 'ghost'")));
  EXPECT_THAT(CompareStoredSweeps(*store_, "a", "a", -1.0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold_percent")));
  EXPECT_THAT(CompareStoredSweeps(*store_, "a", "a", absl::nullopt, 1.5),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("significance")));
}

}  // namespace
}  // namespace kvmfarm::comparison
