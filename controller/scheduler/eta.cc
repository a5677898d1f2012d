#include "controller/scheduler/eta.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace kvmfarm::scheduler {
namespace {

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

bool Finished(farm::v1::TaskState state) {
  return state == farm::v1::TASK_STATE_SUCCEEDED || state == farm::v1::TASK_STATE_FAILED ||
         state == farm::v1::TASK_STATE_CANCELLED;
}

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
    if (task.state() != farm::v1::TASK_STATE_SUCCEEDED && task.state() != farm::v1::TASK_STATE_FAILED) continue;
    if (!task.has_started_at() || !task.has_finished_at()) continue;
    const absl::Duration took = FromProto(task.finished_at()) - FromProto(task.started_at());
    by_kind[KindOf(task)].sum += took;
    by_kind[KindOf(task)].count++;
    overall.sum += took;
    overall.count++;
  }
  if (overall.count == 0) return std::nullopt;

  std::map<std::string, absl::Duration> per_device;
  for (const farm::v1::Task& task : tasks) {
    if (Finished(task.state())) continue;
    auto kind = by_kind.find(KindOf(task));
    absl::Duration left = kind != by_kind.end() ? kind->second.Value() : overall.Value();
    if (task.state() == farm::v1::TASK_STATE_RUNNING && task.has_started_at()) {
      left = std::max(absl::ZeroDuration(), left - (now - FromProto(task.started_at())));
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
