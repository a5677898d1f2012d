#include "controller/scheduler/eta.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "common/proto_time.h"
#include "proto/states.h"

namespace kvmfarm::scheduler {
namespace {

std::pair<int, int> KindOf(const farm::v1::Task& task) { return {task.kind(), task.mode()}; }

struct Mean {
  absl::Duration sum;
  int count = 0;
  absl::Duration Value() const { return sum / count; }
};

}  // namespace

std::optional<absl::Duration> EstimateTimeLeft(
    const google::protobuf::RepeatedPtrField<farm::v1::Task>& tasks, uint32_t max_parallel,
    absl::Time now) {
  std::map<std::pair<int, int>, Mean> by_kind;
  Mean overall;
  for (const farm::v1::Task& task : tasks) {
    // Cancelled tasks ran for an arbitrary part of their time: no evidence.
    if (task.state() != farm::v1::TASK_STATE_SUCCEEDED &&
        task.state() != farm::v1::TASK_STATE_FAILED)
      continue;
    if (!task.has_started_at() || !task.has_finished_at()) continue;
    const absl::Duration took =
        FromProtoTimestamp(task.finished_at()) - FromProtoTimestamp(task.started_at());
    Mean& kind = by_kind[KindOf(task)];
    kind.sum += took;
    kind.count++;
    overall.sum += took;
    overall.count++;
  }
  if (overall.count == 0) return std::nullopt;

  std::map<std::string, absl::Duration> per_device;
  for (const farm::v1::Task& task : tasks) {
    if (TaskFinished(task.state())) continue;
    auto kind = by_kind.find(KindOf(task));
    absl::Duration left = kind != by_kind.end() ? kind->second.Value() : overall.Value();
    if (task.state() == farm::v1::TASK_STATE_RUNNING && task.has_started_at()) {
      left = std::max(absl::ZeroDuration(), left - (now - FromProtoTimestamp(task.started_at())));
    }
    per_device[task.device_id()] += left;
  }
  absl::Duration busiest, total;
  for (const auto& [device, left] : per_device) {
    busiest = std::max(busiest, left);
    total += left;
  }
  if (max_parallel > 0) busiest = std::max(busiest, total / static_cast<int64_t>(max_parallel));
  return busiest;
}

}  // namespace kvmfarm::scheduler
