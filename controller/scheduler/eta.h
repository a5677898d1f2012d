// -----------------------------------------------------------------------------
// File: eta.h
// -----------------------------------------------------------------------------
//
// A sweep's estimated time left, from the tasks it has finished so far.
#ifndef KVMFARM_CONTROLLER_SCHEDULER_ETA_H_
#define KVMFARM_CONTROLLER_SCHEDULER_ETA_H_

#include <optional>

#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"
#include "google/protobuf/repeated_field.h"

namespace kvmfarm::scheduler {

// Each unfinished task is expected to take as long as the finished tasks of its
// kind and mode took on average (any finished task when none of its kind has;
// less what a running one has already run). A device runs its tasks one after
// another and devices run side by side, at most `max_parallel` at once (0 = no
// limit), so the answer is the busiest device's remaining time, or the total
// spread over max_parallel when that is longer. nullopt until a task has finished.
std::optional<absl::Duration> EstimateTimeLeft(
    const google::protobuf::RepeatedPtrField<farm::v1::Task>& tasks, uint32_t max_parallel,
    absl::Time now);

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_ETA_H_
