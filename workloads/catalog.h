// -----------------------------------------------------------------------------
// File: catalog.h
// -----------------------------------------------------------------------------
//
// What kvmfarm's workloads are, without their kernels: each workload's name, the
// metrics it reports (unit, which direction is better), and its parameters'
// defaults, allowed ranges and the "quick" values farmctl asks for. The controller
// and farmctl link this (no crypto, io or OpenSSL) to check and build requests;
// MakeWorkload (workload.h) resolves a spec through it, so a spec the controller
// accepts is one the agent runs.
//
// Example:
//
//   RETURN_IF_ERROR(ValidateWorkloadSpec(spec));           // controller, agent
//   farm::v1::WorkloadSpec quick = QuickWorkloadSpec("crypto");  // 16 MiB
//   for (const MetricInfo& m : FindWorkload("crypto")->metrics) ...
#ifndef KVMFARM_WORKLOADS_CATALOG_H_
#define KVMFARM_WORKLOADS_CATALOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::workloads {

// The crypto workload hashes and encrypts in blocks of this size, so its size_bytes
// is at least one block.
inline constexpr uint64_t kCryptoBlockBytes = 16384;

// What one metric of a workload measures.
struct MetricInfo {
  std::string key;   // "crypto.sha256"
  std::string unit;  // "MB/s"
  bool higher_is_better;
};

// One numeric parameter of a workload (WorkloadSpec.size_bytes or .iterations).
struct ParameterInfo {
  uint64_t default_value;  // when the spec leaves it out
  uint64_t min;            // allowed range, inclusive
  uint64_t max;
  uint64_t quick;  // what farmctl's sweeps ask for: one an operator watches, not a soak
};

struct WorkloadInfo {
  std::string name;
  std::vector<MetricInfo> metrics;
  // Absent: the workload takes no such parameter and ignores it in a spec.
  absl::optional<ParameterInfo> size_bytes;
  absl::optional<ParameterInfo> iterations;
  // Needs a disk in a guest (the io workload's file); left out of farmctl's default sweep.
  bool needs_guest_disk = false;
};

// Every workload, in the order farm-workload runs them by default.
const std::vector<WorkloadInfo>& WorkloadCatalog();

// The names of WorkloadCatalog(), in its order.
const std::vector<std::string>& AllWorkloadNames();

// The workload called `name`, or nullptr.
const WorkloadInfo* FindWorkload(absl::string_view name);

// A spec's parameters in force, defaults filled in; 0 for one the workload doesn't take.
struct WorkloadParameters {
  uint64_t size_bytes = 0;
  uint64_t iterations = 0;
};

// INVALID_ARGUMENT naming an unknown workload (listing the known ones) or a
// parameter outside its range ("crypto: size_bytes 1024 is outside 16384..").
absl::StatusOr<WorkloadParameters> ResolveWorkloadSpec(const farm::v1::WorkloadSpec& spec);

// ResolveWorkloadSpec's verdict alone.
absl::Status ValidateWorkloadSpec(const farm::v1::WorkloadSpec& spec);

// "crypto,integer,...": the workloads farmctl's sweeps run unless told otherwise,
// every one that runs in any guest.
std::string DefaultSweepWorkloads();

// `name` at its quick sizes; just the name for a workload the catalog doesn't know
// (whoever receives it refuses it by name).
farm::v1::WorkloadSpec QuickWorkloadSpec(absl::string_view name);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_CATALOG_H_
