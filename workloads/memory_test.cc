#include "workloads/memory.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::workloads {
namespace {

using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;

constexpr uint64_t kSmall = 4 << 20;

TEST(MemoryWorkloadTest, SequentialReadAndWriteReportBandwidth) {
  for (auto* make : {&MakeMemReadWorkload, &MakeMemWriteWorkload}) {
    std::unique_ptr<Workload> w = (*make)(kSmall, 2);
    ASSERT_THAT(w->Prepare(), IsOk());
    absl::StatusOr<std::vector<Sample>> samples = w->RunOnce();
    ASSERT_THAT(samples, IsOk()) << w->name();
    ASSERT_EQ(samples->size(), 1u);
    EXPECT_EQ((*samples)[0].metric, w->name() + ".bandwidth");
    EXPECT_GT((*samples)[0].value, 0);
    EXPECT_EQ(w->parameters().at("size_bytes"), "4194304");
  }
}

TEST(MemoryWorkloadTest, RandomChaseClosesItsCycle) {
  std::unique_ptr<Workload> w = MakeMemRandomWorkload(kSmall, 100000);
  ASSERT_THAT(w->Prepare(), IsOk());
  absl::StatusOr<std::vector<Sample>> samples = w->RunOnce();
  ASSERT_THAT(samples, IsOk());
  ASSERT_EQ(samples->size(), 2u);
  const double ops = (*samples)[0].value;
  const double latency = (*samples)[1].value;
  EXPECT_GT(ops, 0);
  EXPECT_NEAR(ops * latency, 1e9, 1e3);
}

TEST(MemoryWorkloadTest, SmallBufferIsNotedAgainstTheCache) {
  const uint64_t llc = LastLevelCacheBytes();
  if (llc == 0) GTEST_SKIP() << "no cache information in sysfs here";
  EXPECT_THAT(MakeMemReadWorkload(llc, 1)->note(), HasSubstr("smaller than 4x"));
  EXPECT_EQ(MakeMemReadWorkload(4 * llc, 1)->note(), "");
}

TEST(MemoryWorkloadTest, AnImpossibleBufferIsAClearError) {
  std::unique_ptr<Workload> w = MakeMemReadWorkload(1ull << 62, 1);
  EXPECT_THAT(w->Prepare(), ::kvmfarm::testing::StatusIs(absl::StatusCode::kResourceExhausted,
                                                         HasSubstr("cannot allocate")));
}

}  // namespace
}  // namespace kvmfarm::workloads
