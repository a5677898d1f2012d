#include "controller/scheduler/sweep_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/image_name.h"
#include "common/limits.h"
#include "common/measurement_conditions.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "workloads/catalog.h"

namespace kvmfarm::scheduler {

absl::Status ValidateSweepSpec(const farm::v1::SweepSpec& spec) {
  const farm::v1::SweepPlan& plan = spec.plan();
  if (!plan.capability() && plan.workloads().empty() && plan.boots().empty()) {
    return absl::InvalidArgumentError(
        "spec.plan is empty: ask for capability, workloads (with workload_modes) or boots");
  }
  if (spec.health_check() &&
      (!plan.capability() || !plan.workloads().empty() || !plan.boots().empty())) {
    return absl::InvalidArgumentError(
        "spec.health_check needs a plan of capability alone: a health check measures nothing");
  }
  if (!plan.workloads().empty() && plan.workload_modes().empty()) {
    return absl::InvalidArgumentError(
        "spec.plan.workload_modes is empty: say MODE_NATIVE, MODE_KVM and/or MODE_TCG");
  }
  for (int i = 0; i < plan.workload_modes_size(); ++i) {
    if (plan.workload_modes(i) == farm::v1::MODE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.plan.workload_modes[", i, "] is unspecified"));
    }
  }
  for (int i = 0; i < plan.workloads_size(); ++i) {
    const absl::Status valid = workloads::ValidateWorkloadSpec(plan.workloads(i));
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.plan.workloads[", i, "]: ", valid.message()));
    }
  }
  // The agent takes only a name from its image directory: refuse anything else now,
  // not after dispatch. (Whether an empty name will do is the agent's rule.)
  if (!plan.guest().image().empty()) {
    RETURN_IF_ERROR(CheckImageName(plan.guest().image(), "spec.plan.guest.image"));
  }
  for (int i = 0; i < plan.boots_size(); ++i) {
    const farm::v1::BootPlan& boot = plan.boots(i);
    if (boot.accel() != farm::v1::MODE_KVM && boot.accel() != farm::v1::MODE_TCG) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.plan.boots[", i, "].accel must be MODE_KVM or MODE_TCG"));
    }
    if (boot.vm_count() > kMaxVmsPerBoot) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.plan.boots[", i, "].vm_count is above ", kMaxVmsPerBoot));
    }
  }
  if (spec.repetitions() > kMaxSweepRepetitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec.repetitions is above ", kMaxSweepRepetitions));
  }
  RETURN_IF_ERROR(TaskDeadline(spec, absl::ZeroDuration()).status());
  RETURN_IF_ERROR(ValidateMeasurementConditions(spec.conditions(), "spec.conditions"));
  for (int i = 0; i < spec.selector().match_size(); ++i) {
    if (spec.selector().match(i).key().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("spec.selector.match[", i, "].key is empty"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> TaskDeadline(const farm::v1::SweepSpec& spec,
                                            absl::Duration fallback) {
  if (!spec.has_task_deadline()) return fallback;
  return CheckedDuration(spec.task_deadline(), "spec.task_deadline", kMaxJobDeadline);
}

std::vector<farm::v1::Task> ExpandTasks(const std::string& sweep_id,
                                        const farm::v1::SweepSpec& spec,
                                        const std::vector<std::string>& device_ids) {
  std::vector<farm::v1::Task> tasks;
  auto add = [&](const std::string& device_id) {
    farm::v1::Task task;
    task.set_task_id(absl::StrCat(sweep_id, "/t", tasks.size()));
    task.set_sweep_id(sweep_id);
    task.set_device_id(device_id);
    task.set_state(farm::v1::TASK_STATE_PENDING);
    task.set_status("pending");
    task.set_repetitions(std::max<uint32_t>(1, spec.repetitions()));
    tasks.push_back(task);
    return &tasks.back();
  };
  for (const std::string& device : device_ids) {
    if (spec.plan().capability()) add(device)->set_kind(farm::v1::STEP_KIND_CAPABILITY);
    if (!spec.plan().workloads().empty()) {
      for (int m = 0; m < spec.plan().workload_modes_size(); ++m) {
        farm::v1::Task* task = add(device);
        task->set_kind(farm::v1::STEP_KIND_BENCHMARK);
        task->set_mode(spec.plan().workload_modes(m));
        *task->mutable_workloads() = spec.plan().workloads();
      }
    }
    for (const farm::v1::BootPlan& boot : spec.plan().boots()) {
      farm::v1::Task* task = add(device);
      task->set_kind(farm::v1::STEP_KIND_BOOT);
      task->set_mode(boot.accel());
      *task->mutable_boot() = boot;
    }
  }
  return tasks;
}

}  // namespace kvmfarm::scheduler
