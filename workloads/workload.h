// -----------------------------------------------------------------------------
// File: workload.h
// -----------------------------------------------------------------------------
//
// The benchmark kernels behind kvmfarm's figures; what each workload is called,
// reports and accepts is in catalog.h, which needs none of them. The same code
// runs natively and inside a guest (farm-workload), so native, KVM and TCG numbers
// compare like with like. Each workload:
//  * takes a size or iteration count (recorded with every result, so different
//    sizes are never compared) and allocates everything in Prepare(), outside the
//    timed region;
//  * runs one repetition per RunOnce(), timing only the kernel itself;
//  * validates its own output (a known answer or checksum), so a broken build or a
//    dead-code-eliminated loop can't report a great number: a failed check is an
//    error, not a figure.
//
// Example:
//
//   farm::v1::WorkloadSpec spec;
//   spec.set_name("crypto");
//   spec.set_size_bytes(16 << 20);
//   ASSIGN_OR_RETURN(std::unique_ptr<Workload> crypto, MakeWorkload(spec));
//   RETURN_IF_ERROR(crypto->Prepare());
//   ASSIGN_OR_RETURN(std::vector<Sample> samples, crypto->RunOnce());
#ifndef KVMFARM_WORKLOADS_WORKLOAD_H_
#define KVMFARM_WORKLOADS_WORKLOAD_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "farm/v1/common.pb.h"
#include "workloads/catalog.h"

namespace kvmfarm::workloads {

// One metric's value from one repetition.
struct Sample {
  std::string metric;
  double value;
};

class Workload {
 public:
  virtual ~Workload() = default;

  virtual const std::string& name() const = 0;
  // The metrics it reports, as the catalog (catalog.h) lists them for name().
  const std::vector<MetricInfo>& metrics() const;
  // The parameters in force (defaults filled in), as recorded with the results.
  virtual std::map<std::string, std::string> parameters() const = 0;
  // Qualifies every figure ("buffer smaller than 4x LLC"); empty when nothing to say.
  virtual std::string note() const { return ""; }

  // Allocates and fills buffers. RESOURCE_EXHAUSTED when memory can't be had.
  virtual absl::Status Prepare() = 0;
  // One timed, validated repetition. DATA_LOSS when validation fails.
  virtual absl::StatusOr<std::vector<Sample>> RunOnce() = 0;
};

// A workload for `spec`, its parameters resolved by the catalog (catalog.h):
// INVALID_ARGUMENT names an unknown workload (listing the known ones) or a size
// outside the workload's range.
absl::StatusOr<std::unique_ptr<Workload>> MakeWorkload(const farm::v1::WorkloadSpec& spec);

// Where the io workload writes its file (farm-workload's --dir).
void SetIoDirectory(const std::string& dir);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_WORKLOAD_H_
