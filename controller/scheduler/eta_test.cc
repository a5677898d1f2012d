#include "controller/scheduler/eta.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace kvmfarm::scheduler {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

google::protobuf::Timestamp At(absl::Duration after_start) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(kStart + after_start));
}

farm::v1::Task MakeTask(const std::string& device, farm::v1::StepKind kind,
                        farm::v1::TaskState state) {
  farm::v1::Task task;
  task.set_device_id(device);
  task.set_kind(kind);
  task.set_state(state);
  return task;
}

void Ran(farm::v1::Task* task, absl::Duration from, absl::Duration to) {
  *task->mutable_started_at() = At(from);
  *task->mutable_finished_at() = At(to);
}

TEST(EstimateTimeLeftTest, UnknownUntilATaskFinished) {
  google::protobuf::RepeatedPtrField<farm::v1::Task> tasks;
  *tasks.Add() = MakeTask("a", farm::v1::STEP_KIND_CAPABILITY, farm::v1::TASK_STATE_RUNNING);
  EXPECT_FALSE(EstimateTimeLeft(tasks, 0, kStart).has_value());
}

TEST(EstimateTimeLeftTest, BusiestDeviceByKindLessWhatIsRunning) {
  google::protobuf::RepeatedPtrField<farm::v1::Task> tasks;
  farm::v1::Task* cap_a = tasks.Add();
  *cap_a = MakeTask("a", farm::v1::STEP_KIND_CAPABILITY, farm::v1::TASK_STATE_SUCCEEDED);
  Ran(cap_a, absl::ZeroDuration(), absl::Seconds(2));
  farm::v1::Task* boot_a = tasks.Add();
  *boot_a = MakeTask("a", farm::v1::STEP_KIND_BOOT, farm::v1::TASK_STATE_SUCCEEDED);
  Ran(boot_a, absl::Seconds(2), absl::Seconds(12));
  // b: capability running for 1 s of its expected 2, then a boot (10 s) to go.
  farm::v1::Task* cap_b = tasks.Add();
  *cap_b = MakeTask("b", farm::v1::STEP_KIND_CAPABILITY, farm::v1::TASK_STATE_RUNNING);
  *cap_b->mutable_started_at() = At(absl::Seconds(11));
  *tasks.Add() = MakeTask("b", farm::v1::STEP_KIND_BOOT, farm::v1::TASK_STATE_PENDING);
  // c: one benchmark, a kind not seen yet: the mean of all finished (6 s).
  *tasks.Add() = MakeTask("c", farm::v1::STEP_KIND_BENCHMARK, farm::v1::TASK_STATE_PENDING);
  const absl::Time now = kStart + absl::Seconds(12);
  EXPECT_EQ(EstimateTimeLeft(tasks, 0, now), absl::Seconds(11));
  // With one device at a time, b's 11 s and c's 6 s are done one after the other.
  EXPECT_EQ(EstimateTimeLeft(tasks, 1, now), absl::Seconds(17));
}

TEST(EstimateTimeLeftTest, ZeroWhenEverythingFinished) {
  google::protobuf::RepeatedPtrField<farm::v1::Task> tasks;
  farm::v1::Task* done = tasks.Add();
  *done = MakeTask("a", farm::v1::STEP_KIND_CAPABILITY, farm::v1::TASK_STATE_SUCCEEDED);
  Ran(done, absl::ZeroDuration(), absl::Seconds(3));
  EXPECT_EQ(EstimateTimeLeft(tasks, 0, kStart + absl::Seconds(3)), absl::ZeroDuration());
}

}  // namespace
}  // namespace kvmfarm::scheduler
