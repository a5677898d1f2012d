#include "tools/farmctl/sweep_spec.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "workloads/catalog.h"

namespace kvmfarm::farmctl {
namespace {

// Adds one --plan step to `plan`.
absl::Status AddPlanStep(absl::string_view step, farm::v1::SweepPlan* plan) {
  if (step == "capability") {
    plan->set_capability(true);
  } else if (step == "native") {
    plan->add_workload_modes(farm::v1::MODE_NATIVE);
  } else if (step == "kvm") {
    plan->add_workload_modes(farm::v1::MODE_KVM);
  } else if (step == "tcg") {
    plan->add_workload_modes(farm::v1::MODE_TCG);
  } else if (step == "boot" || step == "boot3") {
    for (farm::v1::Mode accel : {farm::v1::MODE_KVM, farm::v1::MODE_TCG}) {
      farm::v1::BootPlan* boot = plan->add_boots();
      boot->set_accel(accel);
      boot->set_vm_count(step == "boot3" ? 3 : 1);
      boot->set_measure_switch_latency(step == "boot3");
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--plan step '", step, "' is not one of capability, native, kvm, tcg, boot, boot3"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<farm::v1::Selector> ParseSelector(absl::string_view labels,
                                                 absl::string_view device_ids) {
  farm::v1::Selector selector;
  for (absl::string_view pair : absl::StrSplit(labels, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--selector '", pair, "' is not key=value"));
    }
    farm::v1::LabelMatch* match = selector.add_match();
    match->set_key(kv[0]);
    match->add_values(kv[1]);
  }
  for (absl::string_view id : absl::StrSplit(device_ids, ',', absl::SkipEmpty())) {
    selector.add_device_ids(std::string(id));
  }
  return selector;
}

absl::StatusOr<farm::v1::SweepSpec> BuildSweepSpec(const SweepOptions& options) {
  farm::v1::SweepSpec spec;
  ASSIGN_OR_RETURN(*spec.mutable_selector(), ParseSelector(options.selector, options.devices));
  spec.set_repetitions(options.repetitions);
  spec.set_max_parallel(options.max_parallel);
  if (options.conditions.min_battery_percent() > 100) {
    return absl::InvalidArgumentError("--min-battery is a percentage: 0 to 100");
  }
  *spec.mutable_conditions() = options.conditions;
  farm::v1::SweepPlan* plan = spec.mutable_plan();
  plan->mutable_guest()->set_image(options.image);
  for (absl::string_view step : absl::StrSplit(options.plan, ',', absl::SkipEmpty())) {
    RETURN_IF_ERROR(AddPlanStep(step, plan));
  }
  if (plan->workload_modes_size() > 0) {
    for (absl::string_view name : absl::StrSplit(options.workloads, ',', absl::SkipEmpty())) {
      // Quick sizes: a sweep that an operator watches, not a soak.
      *plan->add_workloads() = workloads::QuickWorkloadSpec(name);
    }
  }
  return spec;
}

}  // namespace kvmfarm::farmctl
