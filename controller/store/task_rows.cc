#include "controller/store/task_rows.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/time/clock.h"

namespace kvmfarm::store {

const google::protobuf::RepeatedPtrField<farm::v1::Measurement>* MeasurementsOf(
    const farm::v1::Task& task) {
  switch (task.result_case()) {
    case farm::v1::Task::kBenchmark:
      return &task.benchmark().measurements();
    case farm::v1::Task::kBootResult:
      return &task.boot_result().measurements();
    default:
      return nullptr;
  }
}

uint32_t RequestedRepetitions(const farm::v1::Task& task) {
  if (task.repetitions() > 0) return task.repetitions();
  uint32_t most = 0;
  if (const auto* measurements = MeasurementsOf(task)) {
    for (const farm::v1::Measurement& m : *measurements) {
      most = std::max<uint32_t>(most, static_cast<uint32_t>(m.values_size()));
    }
  }
  return most;
}

absl::StatusOr<std::string> ResultJson(const farm::v1::Task& task) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(task, &json).ok()) {
    return absl::InternalError("cannot serialize the task result");
  }
  return json;
}

void MergeStoredResult(const std::string& result_json, farm::v1::Task* task) {
  farm::v1::Task with_result;
  if (!google::protobuf::util::JsonStringToMessage(result_json, &with_result).ok()) return;
  if (with_result.has_capability()) *task->mutable_capability() = with_result.capability();
  if (with_result.has_benchmark()) *task->mutable_benchmark() = with_result.benchmark();
  if (with_result.has_boot_result()) *task->mutable_boot_result() = with_result.boot_result();
}

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace kvmfarm::store
