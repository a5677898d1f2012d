// -----------------------------------------------------------------------------
// File: task_rows.h
// -----------------------------------------------------------------------------
//
// How a task and its result become rows, the same for every Store backend
// (sqlite_store, postgres/postgres_store): the task row keeps the task without its
// result; the result is kept once as JSON beside it, with a row per repetition and a
// summary per metric.
#ifndef KVMFARM_CONTROLLER_STORE_TASK_ROWS_H_
#define KVMFARM_CONTROLLER_STORE_TASK_ROWS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "farm/v1/controller.pb.h"
#include "google/protobuf/repeated_field.h"

namespace kvmfarm::store {

// The measurements a task's result carries; nullptr for a capability or none.
const google::protobuf::RepeatedPtrField<farm::v1::Measurement>* MeasurementsOf(
    const farm::v1::Task& task);

// How many repetitions the task asked for; for a task that doesn't say, the most
// values any of its metrics has.
uint32_t RequestedRepetitions(const farm::v1::Task& task);

// The task as its result row keeps it (JSON); INTERNAL if it can't be printed.
absl::StatusOr<std::string> ResultJson(const farm::v1::Task& task);

// `task` with the result of its stored `result_json` (when it parses).
void MergeStoredResult(const std::string& result_json, farm::v1::Task* task);

// The outcome an attempt gets with its stored result ($1 the attempt), in the same
// transaction; FinishAttempt later writes it again with the console log.
inline constexpr char kMarkAttemptStored[] =
    "UPDATE attempts SET outcome = 'result stored' WHERE attempt_id = $1 AND outcome IS NULL";

// Nanoseconds since the epoch, now: when rows are stored.
int64_t NowNs();

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_TASK_ROWS_H_
