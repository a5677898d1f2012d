#include "common/backoff.h"

#include <gtest/gtest.h>

namespace kvmfarm {
namespace {

TEST(ExponentialBackoffTest, DoublesFromBaseUpToMax) {
  const ExponentialBackoff backoff(absl::Seconds(1), absl::Seconds(60));
  EXPECT_EQ(backoff.ForRetry(0), absl::Seconds(1));
  EXPECT_EQ(backoff.ForRetry(1), absl::Seconds(1));
  EXPECT_EQ(backoff.ForRetry(2), absl::Seconds(2));
  EXPECT_EQ(backoff.ForRetry(4), absl::Seconds(8));
  EXPECT_EQ(backoff.ForRetry(7), absl::Seconds(60));  // 64 s capped
  EXPECT_EQ(backoff.ForRetry(1000), absl::Seconds(60));
}

TEST(ExponentialBackoffTest, NextWalksTheSequenceAndResetStartsOver) {
  ExponentialBackoff backoff(absl::Milliseconds(500), absl::Seconds(2));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Seconds(2));
  EXPECT_EQ(backoff.Next(), absl::Seconds(2));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
}

TEST(ExponentialBackoffTest, AMaxBelowTheBaseIsTheBase) {
  const ExponentialBackoff backoff(absl::Seconds(5), absl::Seconds(1));
  EXPECT_EQ(backoff.ForRetry(3), absl::Seconds(5));
}

}  // namespace
}  // namespace kvmfarm
