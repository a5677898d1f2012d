#include "agent/workload_flags.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvmfarm {

std::vector<WorkloadFlag> WorkloadFlags(const farm::v1::RunBenchmarkRequest& request) {
  std::vector<std::string> names, sizes, iterations;
  for (const farm::v1::WorkloadSpec& spec : request.workloads()) {
    names.push_back(spec.name());
    if (spec.has_size_bytes()) sizes.push_back(absl::StrCat(spec.name(), "=", spec.size_bytes()));
    if (spec.has_iterations()) {
      iterations.push_back(absl::StrCat(spec.name(), "=", spec.iterations()));
    }
  }
  std::vector<WorkloadFlag> flags = {
      {"workloads", absl::StrJoin(names, ",")},
      {"repetitions", absl::StrCat(std::max<uint32_t>(1, request.repetitions()))}};
  if (!sizes.empty()) flags.push_back({"size", absl::StrJoin(sizes, ",")});
  if (!iterations.empty()) flags.push_back({"iterations", absl::StrJoin(iterations, ",")});
  return flags;
}

}  // namespace kvmfarm
