#include "controller/task_logs/task_logs.h"

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::task_logs {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

class TaskLogsTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = store::testing::OpenScratchStore(); }
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(TaskLogsTest, EveryAttemptWithTheStoredResultOnItsOwnAttempt) {
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("sweep-x");
  ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
  // An id that doesn't start with its sweep's: the task is found by its id alone.
  farm::v1::Task task;
  task.set_task_id("task-7");
  task.set_sweep_id("sweep-x");
  task.set_device_id("d0");
  task.set_attempt_id("task-7/a1");
  ASSERT_THAT(store_->RecordAttempt(task), IsOk());
  ASSERT_THAT(store_->FinishAttempt("task-7/a1", "infrastructure error: down", ""), IsOk());
  task.set_attempt_id("task-7/a2");
  ASSERT_THAT(store_->RecordAttempt(task), IsOk());
  ASSERT_THAT(store_->FinishAttempt("task-7/a2", "result stored", "console line"), IsOk());
  task.set_attempt_id("task-7/a2");
  task.mutable_benchmark()->add_measurements()->set_metric("crypto.sha256");
  ASSERT_THAT(store_->StoreTaskResult(task, "task-7/a2"), IsOk());

  absl::StatusOr<farm::v1::GetTaskLogsResponse> logs = TaskLogs(*store_, "task-7");
  ASSERT_THAT(logs, IsOk());
  EXPECT_EQ(logs->task_id(), "task-7");
  ASSERT_EQ(logs->attempts_size(), 2);
  EXPECT_EQ(logs->attempts(0).attempt_id(), "task-7/a1");
  EXPECT_THAT(logs->attempts(0).outcome(), HasSubstr("infrastructure error"));
  EXPECT_TRUE(logs->attempts(0).raw_result_json().empty());
  EXPECT_EQ(logs->attempts(1).console_log(), "console line");
  EXPECT_THAT(logs->attempts(1).raw_result_json(), HasSubstr("crypto.sha256"));
}

TEST_F(TaskLogsTest, BadIdsSaySo) {
  EXPECT_THAT(TaskLogs(*store_, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task_id is required")));
  EXPECT_THAT(TaskLogs(*store_, "ghost/t0"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no attempts of task 'ghost/t0'")));
}

}  // namespace
}  // namespace kvmfarm::task_logs
