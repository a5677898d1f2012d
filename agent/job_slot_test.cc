#include "agent/job_slot.h"

#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/agent_busy.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(JobSlotTest, OneJobAtATimeAndTheSecondIsToldWhoIsBusy) {
  JobSlot slot;
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> first =
      slot.Acquire("sweep-1/t-1/a-1", farm::v1::JOB_KIND_BENCHMARK);
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(slot.Acquire("sweep-1/t-2/a-1", farm::v1::JOB_KIND_BOOT),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("busy with job sweep-1/t-1/a-1 (JOB_KIND_BENCHMARK)")));
  ASSERT_TRUE(slot.Current().has_value());
  EXPECT_EQ(slot.Current()->attempt_id(), "sweep-1/t-1/a-1");
  first->reset();
  EXPECT_FALSE(slot.Current().has_value());
  EXPECT_THAT(slot.Acquire("sweep-1/t-2/a-1", farm::v1::JOB_KIND_BOOT), IsOk());
}

TEST(JobSlotTest, TheAgentsOwnJobIsMarkedAndItsBusyAnswerIsRecognised) {
  JobSlot slot;
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> check =
      slot.Acquire("kvm-boot-check", farm::v1::JOB_KIND_BOOT_CHECK, JobSlot::Origin::kAgent);
  ASSERT_THAT(check, IsOk());
  ASSERT_TRUE(slot.Current().has_value());
  EXPECT_TRUE(slot.Current()->agent_initiated());
  const absl::StatusOr<std::unique_ptr<JobSlot::Lease>> refused =
      slot.Acquire("sweep-1/t-1/a-1", farm::v1::JOB_KIND_BENCHMARK);
  EXPECT_TRUE(IsAgentBusy(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("the agent's own"));
  // gRPC's own RESOURCE_EXHAUSTED (a message too large) is not a busy agent.
  EXPECT_FALSE(IsAgentBusy(absl::ResourceExhaustedError("Received message larger than max")));
  check->reset();
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> client =
      slot.Acquire("sweep-1/t-1/a-1", farm::v1::JOB_KIND_BENCHMARK);
  ASSERT_THAT(client, IsOk());
  EXPECT_FALSE(slot.Current()->agent_initiated());
}

TEST(JobSlotTest, AttemptIdIsRequired) {
  JobSlot slot;
  EXPECT_THAT(slot.Acquire("", farm::v1::JOB_KIND_BENCHMARK),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt_id")));
  EXPECT_THAT(slot.Cancel(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JobSlotTest, CancelReachesOnlyTheRunningAttempt) {
  JobSlot slot;
  EXPECT_THAT(slot.Cancel("a-9"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
      slot.Acquire("a-1", farm::v1::JOB_KIND_BENCHMARK);
  ASSERT_THAT(lease, IsOk());
  int kills = 0;
  (*lease)->OnCancel([&kills] { ++kills; });
  EXPECT_THAT(slot.Cancel("a-0"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("running: a-1")));
  EXPECT_EQ(kills, 0);
  EXPECT_FALSE((*lease)->cancelled());
  EXPECT_THAT(slot.Cancel("a-1"), IsOk());
  EXPECT_EQ(kills, 1);
  EXPECT_TRUE((*lease)->cancelled());
}

TEST(JobSlotTest, CancelBeforeTheJobRegistersItsKillerStillKills) {
  JobSlot slot;
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
      slot.Acquire("a-1", farm::v1::JOB_KIND_BOOT);
  ASSERT_THAT(lease, IsOk());
  ASSERT_THAT(slot.Cancel("a-1"), IsOk());
  bool killed = false;
  (*lease)->OnCancel([&killed] { killed = true; });
  EXPECT_TRUE(killed);
}

// The controller cancels an attempt whose RunJob is still on its way: the job is
// refused when it arrives, not run for a quarter of an hour for nobody.
TEST(JobSlotTest, ACancelThatOvertakesItsJobStopsItFromStarting) {
  JobSlot slot;
  EXPECT_THAT(slot.Cancel("a-1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(slot.Acquire("a-1", farm::v1::JOB_KIND_BENCHMARK),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled before it started")));
  EXPECT_FALSE(slot.Current().has_value());
  // Other attempts run; only the last kRememberedCancels ids are remembered.
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> running =
      slot.Acquire("a-2", farm::v1::JOB_KIND_BENCHMARK);
  ASSERT_THAT(running, IsOk());
  for (size_t i = 0; i < JobSlot::kRememberedCancels; ++i) {
    (void)slot.Cancel("other-" + std::to_string(i));
  }
  EXPECT_THAT(slot.Acquire("a-1", farm::v1::JOB_KIND_BENCHMARK),
              StatusIs(absl::StatusCode::kResourceExhausted));  // forgotten; a-2 is running
}

// A deposed leader that wakes up sends an old epoch: refused, once a newer one has
// been seen; requests without an epoch are admitted (a controller alone).
TEST(JobSlotTest, RequestsFromAnOlderLeaderEpochAreRefused) {
  JobSlot slot;
  EXPECT_THAT(slot.AdmitLeaderEpoch(1), IsOk());
  EXPECT_THAT(slot.AdmitLeaderEpoch(2), IsOk());
  EXPECT_THAT(slot.AdmitLeaderEpoch(1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("epoch 2 leads now")));
  EXPECT_THAT(slot.AdmitLeaderEpoch(2), IsOk());
  EXPECT_THAT(slot.AdmitLeaderEpoch(0), IsOk());
}

TEST(JobSlotTest, ProgressShowsInCurrent) {
  JobSlot slot;
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
      slot.Acquire("a-1", farm::v1::JOB_KIND_BENCHMARK);
  ASSERT_THAT(lease, IsOk());
  farm::v1::Progress progress;
  progress.set_workload("crypto");
  progress.set_repetition(2);
  (*lease)->SetProgress(progress);
  EXPECT_EQ(slot.Current()->progress().workload(), "crypto");
}

TEST(JobSlotTest, ConcurrentAcquiresLetExactlyOneIn) {
  JobSlot slot;
  std::atomic<int> winners{0};
  std::vector<std::unique_ptr<JobSlot::Lease>> leases(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
          slot.Acquire("a-" + std::to_string(i), farm::v1::JOB_KIND_BENCHMARK);
      if (lease.ok()) {
        ++winners;
        leases[i] = *std::move(lease);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

}  // namespace
}  // namespace kvmfarm
