#include "tools/farmctl/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/proto_time.h"

namespace kvmfarm::farmctl {
namespace {

using ::testing::ElementsAre;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

farm::v1::WatchSweepResponse TaskEvent(const std::string& id, const std::string& device,
                                       farm::v1::TaskState state) {
  farm::v1::WatchSweepResponse event;
  farm::v1::Task* task = event.mutable_task();
  task->set_task_id(id);
  task->set_device_id(device);
  task->set_kind(farm::v1::STEP_KIND_BENCHMARK);
  task->set_mode(farm::v1::MODE_TCG);
  task->set_state(state);
  return event;
}

farm::v1::WatchSweepResponse SweepEvent(uint32_t total, uint32_t succeeded, uint32_t running,
                                        int eta_seconds) {
  farm::v1::WatchSweepResponse event;
  farm::v1::SweepCounts* counts = event.mutable_sweep()->mutable_counts();
  counts->set_total(total);
  counts->set_succeeded(succeeded);
  counts->set_running(running);
  counts->set_pending(total - succeeded - running);
  *event.mutable_sweep()->mutable_eta() = ToProtoDuration(absl::Seconds(eta_seconds));
  return event;
}

TEST(ProgressBarTest, FillsInProportionAndClamps) {
  EXPECT_EQ(ProgressBar(0, 4), "[....]");
  EXPECT_EQ(ProgressBar(0.5, 4), "[##..]");
  EXPECT_EQ(ProgressBar(1, 4), "[####]");
  EXPECT_EQ(ProgressBar(1.7, 4), "[####]");
  EXPECT_EQ(ProgressBar(-1, 4), "[....]");
}

TEST(SweepProgressTest, ABarPerDeviceAndAnOverallBarWithEta) {
  SweepProgress progress;
  // The first summary carries every task, so each device's total is known at once.
  farm::v1::WatchSweepResponse first = SweepEvent(4, 0, 0, 120);
  *first.mutable_sweep()->add_tasks() =
      TaskEvent("s/t1", "pixel8", farm::v1::TASK_STATE_PENDING).task();
  *first.mutable_sweep()->add_tasks() =
      TaskEvent("s/t2", "pixel8", farm::v1::TASK_STATE_PENDING).task();
  *first.mutable_sweep()->add_tasks() =
      TaskEvent("s/t3", "host", farm::v1::TASK_STATE_PENDING).task();
  *first.mutable_sweep()->add_tasks() =
      TaskEvent("s/t4", "host", farm::v1::TASK_STATE_PENDING).task();
  progress.Update(first, kT0);
  progress.Update(TaskEvent("s/t1", "pixel8", farm::v1::TASK_STATE_SUCCEEDED), kT0);
  farm::v1::WatchSweepResponse running = TaskEvent("s/t2", "pixel8", farm::v1::TASK_STATE_RUNNING);
  running.mutable_task()->mutable_progress()->set_message("crypto repetition 2 of 2");
  running.mutable_task()->mutable_progress()->set_step(2);
  running.mutable_task()->mutable_progress()->set_total_steps(2);
  progress.Update(running, kT0);
  progress.Update(SweepEvent(4, 1, 1, 95), kT0);
  EXPECT_THAT(progress.Render(8, kT0),
              ElementsAre("host    [........] 0/2  waiting",
                          "pixel8  [######..] 1/2  benchmark tcg: crypto repetition 2 of 2",
                          "overall [##......] 1/4 done, 1 running, 0 failed  ETA 1m35s"));
}

TEST(SweepProgressTest, EtaUnderASecond) {
  SweepProgress progress;
  progress.Update(TaskEvent("s/t1", "host", farm::v1::TASK_STATE_RUNNING), kT0);
  progress.Update(SweepEvent(1, 0, 1, 0), kT0);
  EXPECT_EQ(progress.Render(4, kT0).back(),
            "overall [....] 0/1 done, 1 running, 0 failed  ETA <1s");
}

TEST(SweepProgressTest, EtaCountsDownBetweenSummaries) {
  SweepProgress progress;
  progress.Update(TaskEvent("s/t1", "host", farm::v1::TASK_STATE_RUNNING), kT0);
  progress.Update(SweepEvent(2, 0, 1, 100), kT0);
  // A task event 30 s later brings no new summary: the estimate has 70 s left.
  progress.Update(TaskEvent("s/t1", "host", farm::v1::TASK_STATE_RUNNING), kT0 + absl::Seconds(30));
  EXPECT_EQ(progress.Render(4, kT0 + absl::Seconds(30)).back(),
            "overall [....] 0/2 done, 1 running, 0 failed  ETA 1m10s");
  // Overdue: it says under a second rather than a negative time.
  EXPECT_EQ(progress.Render(4, kT0 + absl::Seconds(500)).back(),
            "overall [....] 0/2 done, 1 running, 0 failed  ETA <1s");
}

TEST(SweepProgressTest, NoEtaOnceEverythingFinished) {
  SweepProgress progress;
  progress.Update(TaskEvent("s/t1", "host", farm::v1::TASK_STATE_SUCCEEDED), kT0);
  progress.Update(SweepEvent(1, 1, 0, 3), kT0);
  EXPECT_THAT(progress.Render(4, kT0), ElementsAre("host    [####] 1/1  done",
                                                   "overall [####] 1/1 done, 0 running, 0 failed"));
}

}  // namespace
}  // namespace kvmfarm::farmctl
