#include "workloads/runner.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workloads/workload.h"

namespace kvmfarm::workloads {
namespace {

using ::testing::HasSubstr;

farm::v1::WorkloadSpec Spec(const std::string& name, uint64_t size, uint64_t iterations) {
  farm::v1::WorkloadSpec spec;
  spec.set_name(name);
  if (size) spec.set_size_bytes(size);
  if (iterations) spec.set_iterations(iterations);
  return spec;
}

TEST(MakeWorkloadTest, UnknownNamesAndBadSizesAreRefused) {
  absl::StatusOr<std::unique_ptr<Workload>> w = MakeWorkload(Spec("gpu", 0, 0));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("unknown workload 'gpu' (known: crypto,"));
  w = MakeWorkload(Spec("mem_read", 1024, 0));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("size_bytes 1024 is outside"));
  farm::v1::WorkloadSpec zero = Spec("integer", 0, 0);
  zero.set_iterations(0);
  EXPECT_FALSE(MakeWorkload(zero).ok());
  EXPECT_EQ(AllWorkloadNames().size(), 7u);
}

TEST(MakeWorkloadTest, DefaultsAreRecordedAsParameters) {
  absl::StatusOr<std::unique_ptr<Workload>> w = MakeWorkload(Spec("mem_random", 0, 0));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->parameters().at("size_bytes"), "268435456");
  EXPECT_EQ((*w)->parameters().at("iterations"), "20000000");
}

TEST(RunWorkloadsTest, EveryRepetitionSummarizedAndFailuresExplained) {
  std::vector<farm::v1::Progress> progress;
  const farm::v1::BenchmarkResult result =
      RunWorkloads({Spec("crypto", 1 << 20, 0), Spec("float", 0, 1000), Spec("warp_drive", 0, 0)},
                   3, [&progress](const farm::v1::Progress& p) { progress.push_back(p); });
  EXPECT_EQ(result.mode(), farm::v1::MODE_NATIVE);
  ASSERT_EQ(result.measurements_size(), 3);  // sha256, aes256gcm, float.time
  for (const farm::v1::Measurement& m : result.measurements()) {
    EXPECT_EQ(m.values_size(), 3) << m.metric();
    ASSERT_TRUE(m.has_median());
    EXPECT_LE(m.min(), m.median());
    EXPECT_LE(m.median(), m.max());
    EXPECT_FALSE(m.parameters().empty());
  }
  EXPECT_EQ(result.measurements(0).metric(), "crypto.sha256");
  EXPECT_TRUE(result.measurements(0).higher_is_better());
  EXPECT_FALSE(result.measurements(2).higher_is_better());
  ASSERT_EQ(result.failures_size(), 1);
  EXPECT_EQ(result.failures(0).workload(), "warp_drive");
  EXPECT_FALSE(result.succeeded());
  EXPECT_THAT(result.failure_reason(), HasSubstr("1 of 3"));
  // A preparing message per runnable workload, then one per repetition.
  EXPECT_EQ(progress.size(), 2u + 6u);
  EXPECT_EQ(progress.back().repetition(), 3u);
  EXPECT_EQ(progress.back().total_steps(), 9u);
  EXPECT_FALSE(result.provenance().workload_build().empty());
  EXPECT_FALSE(result.provenance().kernel_release().empty());
}

}  // namespace
}  // namespace kvmfarm::workloads
