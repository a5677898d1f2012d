// Reading the output of the independent tools kvmfarm's figures are checked
// against: `openssl speed -evp <cipher> -bytes 16384` and `sysbench memory`.
#ifndef KVMFARM_WORKLOADS_REFERENCE_TOOLS_H_
#define KVMFARM_WORKLOADS_REFERENCE_TOOLS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::workloads {

// MB/s (10^6 bytes) from `openssl speed` output: the last column of the row named
// `row` ("sha256", "AES-256-GCM"), which is in 1000s of bytes per second.
absl::StatusOr<double> ParseOpensslSpeed(absl::string_view output, absl::string_view row);

// MB/s (10^6 bytes) from `sysbench memory` output ("(24512.46 MiB/sec)").
absl::StatusOr<double> ParseSysbenchMemory(absl::string_view output);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_REFERENCE_TOOLS_H_
