// -----------------------------------------------------------------------------
// File: task_logs.h
// -----------------------------------------------------------------------------
//
// A task's attempts as evidence (GetTaskLogs): per attempt its id, start, how it
// ended and the agent's console log, and for the attempt whose result was stored,
// that result as JSON. The task is read by its id from the store, so its sweep
// comes from the task itself, never from the shape of the id.
//
// Example:
//
//   ASSIGN_OR_RETURN(farm::v1::GetTaskLogsResponse logs, TaskLogs(*store, "sweep-1/t3"));
#ifndef KVMFARM_CONTROLLER_TASK_LOGS_TASK_LOGS_H_
#define KVMFARM_CONTROLLER_TASK_LOGS_TASK_LOGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::task_logs {

// INVALID_ARGUMENT for an empty id; NOT_FOUND for a task without attempts.
absl::StatusOr<farm::v1::GetTaskLogsResponse> TaskLogs(store::Store& store,
                                                       const std::string& task_id);

}  // namespace kvmfarm::task_logs

#endif  // KVMFARM_CONTROLLER_TASK_LOGS_TASK_LOGS_H_
