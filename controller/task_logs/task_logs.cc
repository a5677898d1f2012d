#include "controller/task_logs/task_logs.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvmfarm::task_logs {

absl::StatusOr<farm::v1::GetTaskLogsResponse> TaskLogs(store::Store& store,
                                                       const std::string& task_id) {
  if (task_id.empty()) return absl::InvalidArgumentError("task_id is required");
  ASSIGN_OR_RETURN(const std::vector<store::StoredAttempt> attempts, store.TaskAttempts(task_id));
  if (attempts.empty()) {
    return absl::NotFoundError(absl::StrCat("task_id: no attempts of task '", task_id, "'"));
  }
  farm::v1::GetTaskLogsResponse response;
  response.set_task_id(task_id);
  // Without the task (an old database), the logs still come, without a result.
  const absl::StatusOr<farm::v1::Task> task = store.GetTask(task_id);
  for (const store::StoredAttempt& a : attempts) {
    farm::v1::AttemptLog* log = response.add_attempts();
    log->set_attempt_id(a.attempt_id);
    *log->mutable_started_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(a.started_ns);
    log->set_outcome(a.outcome);
    log->set_console_log(a.console_log);
    if (task.ok() && task->attempt_id() == a.attempt_id &&
        task->result_case() != farm::v1::Task::RESULT_NOT_SET) {
      std::string json;
      if (google::protobuf::util::MessageToJsonString(*task, &json).ok()) {
        log->set_raw_result_json(json);
      }
    }
  }
  return response;
}

}  // namespace kvmfarm::task_logs
