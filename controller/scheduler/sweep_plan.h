// -----------------------------------------------------------------------------
// File: sweep_plan.h
// -----------------------------------------------------------------------------
//
// A sweep as the operator wrote it, checked, and expanded into tasks: one per
// device x plan step (the capability probe; the workloads in each mode; each boot
// plan). A step's repetitions run inside one agent job.
#ifndef KVMFARM_CONTROLLER_SCHEDULER_SWEEP_PLAN_H_
#define KVMFARM_CONTROLLER_SCHEDULER_SWEEP_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::scheduler {

// INVALID_ARGUMENT naming the field (spec.plan.workloads[1].name, ...).
absl::Status ValidateSweepSpec(const farm::v1::SweepSpec& spec);

// The deadline of each of the sweep's agent jobs: spec.task_deadline, checked
// (positive, at most kMaxJobDeadline, INVALID_ARGUMENT naming the field
// otherwise), or `fallback` when the spec sets none.
absl::StatusOr<absl::Duration> TaskDeadline(const farm::v1::SweepSpec& spec,
                                            absl::Duration fallback);

// The tasks of `sweep_id` over `device_ids`, in dispatch order, all PENDING.
std::vector<farm::v1::Task> ExpandTasks(const std::string& sweep_id,
                                        const farm::v1::SweepSpec& spec,
                                        const std::vector<std::string>& device_ids);

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_SWEEP_PLAN_H_
