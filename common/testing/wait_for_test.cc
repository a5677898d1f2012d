#include "common/testing/wait_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace kvmfarm::testing {
namespace {

TEST(WaitForTest, ReturnsAsSoonAsTheConditionHolds) {
  std::atomic<bool> done{false};
  std::thread worker([&] { done = true; });
  EXPECT_TRUE(WaitFor([&] { return done.load(); }, absl::Seconds(30)));
  worker.join();
}

TEST(WaitForTest, GivesUpAtTheLimit) {
  int asked = 0;
  EXPECT_FALSE(WaitFor(
      [&] {
        ++asked;
        return false;
      },
      absl::Milliseconds(30), absl::Milliseconds(10)));
  EXPECT_GE(asked, 2);  // asked while waiting and once more at the limit
}

}  // namespace
}  // namespace kvmfarm::testing
