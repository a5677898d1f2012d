#include "common/limits.h"

#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

// The figures are promises of the API: a change here changes what requests are
// accepted, so it should be a deliberate one.
TEST(LimitsTest, ThePromisedFigures) {
  EXPECT_EQ(kMaxBenchmarkRepetitions, 1000u);
  EXPECT_EQ(kMaxBootRepetitions, 100u);
  EXPECT_EQ(kMaxVmsPerBoot, 16u);
  EXPECT_EQ(kMinGuestVcpus, 1u);
  EXPECT_EQ(kMaxGuestVcpus, 64u);
  EXPECT_EQ(kMinGuestMemoryMib, 64u);
  EXPECT_EQ(kMaxGuestMemoryMib, 65536u);
}

TEST(LimitsTest, EverySweepTheControllerAcceptsMakesJobsAgentsAccept) {
  EXPECT_EQ(kMaxSweepRepetitions, 100u);
  EXPECT_LE(kMaxSweepRepetitions, kMaxBenchmarkRepetitions);
  EXPECT_LE(kMaxSweepRepetitions, kMaxBootRepetitions);
}

}  // namespace
}  // namespace kvmfarm
