// -----------------------------------------------------------------------------
// File: sweep_spec.h
// -----------------------------------------------------------------------------
//
// The requests farmctl builds from its command line: which devices (--selector,
// --devices) and what a sweep runs (--plan, --workloads at their quick sizes,
// --repetitions, ...). Pure functions of the flags' text, so they are tested
// without a controller; the controller checks the result again (ValidateSweepSpec).
//
// Example:
//
//   SweepOptions options;
//   options.devices = "pixel-8";
//   options.plan = "capability,native";
//   options.workloads = "crypto,float";
//   ASSIGN_OR_RETURN(farm::v1::SweepSpec spec, BuildSweepSpec(options));
#ifndef KVMFARM_TOOLS_FARMCTL_SWEEP_SPEC_H_
#define KVMFARM_TOOLS_FARMCTL_SWEEP_SPEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::farmctl {

// "key=value,key=value" labels (all must match) and "id,id" device ids.
// INVALID_ARGUMENT for a label that is not key=value.
absl::StatusOr<farm::v1::Selector> ParseSelector(absl::string_view labels,
                                                 absl::string_view device_ids);

// `farmctl sweep start`'s flags, as typed.
struct SweepOptions {
  std::string selector;  // --selector
  std::string devices;   // --devices
  std::string plan = "capability,native";
  std::string workloads;    // run at their quick sizes (workloads/catalog.h)
  int32_t repetitions = 5;  // see --repetitions
  int32_t max_parallel = 0;
  std::string image = "x86_64";
  // What a device must be like before it measures (MeasurementConditions).
  farm::v1::MeasurementConditions conditions;
};

// The sweep the options ask for. INVALID_ARGUMENT for a bad selector or a plan step
// that is not one of capability, native, kvm, tcg, boot, boot3.
absl::StatusOr<farm::v1::SweepSpec> BuildSweepSpec(const SweepOptions& options);

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_SWEEP_SPEC_H_
