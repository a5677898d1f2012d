#include "workloads/compute.h"

#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::workloads {
namespace {

using ::kvmfarm::testing::IsOk;

TEST(CountPrimesTest, KnownCounts) {
  std::vector<uint8_t> scratch;
  EXPECT_EQ(CountPrimesBelow(100, &scratch), 25u);
  EXPECT_EQ(CountPrimesBelow(1000000, &scratch), 78498u);
  EXPECT_EQ(CountPrimesBelow(2, &scratch), 0u);
}

// The same splitmix64 finaliser written out independently; the end value of the
// default chain was also computed in Python.
uint64_t ReferenceHashChain(uint64_t x, uint64_t steps) {
  while (steps--) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
  }
  return x;
}

TEST(HashChainTest, MatchesTheReference) {
  EXPECT_EQ(HashChain(1, 1000), ReferenceHashChain(1, 1000));
  EXPECT_EQ(HashChain(0x6b766d6661726dull, 1ull << 22), 0xc3345805da40dfbaull);
}

TEST(NBodyTest, BenchmarksGameKnownAnswer) {
  double before = 0, after = 0;
  NBody(1000, &before, &after);
  EXPECT_NEAR(before, -0.169075164, 5e-10);
  EXPECT_NEAR(after, -0.169087605, 5e-10);
}

TEST(ComputeWorkloadTest, IntegerAndFloatRunAndValidate) {
  std::unique_ptr<Workload> integer = MakeIntegerWorkload(1);
  ASSERT_THAT(integer->Prepare(), IsOk());
  absl::StatusOr<std::vector<Sample>> samples = integer->RunOnce();
  ASSERT_THAT(samples, IsOk());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].metric, "integer.time");
  EXPECT_GT((*samples)[0].value, 0);

  std::unique_ptr<Workload> nbody = MakeFloatWorkload(1000);
  ASSERT_THAT(nbody->Prepare(), IsOk());
  samples = nbody->RunOnce();
  ASSERT_THAT(samples, IsOk());
  EXPECT_EQ((*samples)[0].metric, "float.time");
  EXPECT_EQ(nbody->parameters().at("iterations"), "1000");
}

}  // namespace
}  // namespace kvmfarm::workloads
