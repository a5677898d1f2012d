#ifndef KVMFARM_AGENT_WORKLOAD_FLAGS_H_
#define KVMFARM_AGENT_WORKLOAD_FLAGS_H_

#include <string>
#include <vector>

#include "farm/v1/agent.pb.h"

namespace kvmfarm {

// One of farm-workload's flags, without its spelling: natively it becomes
// `--name=value`, in a guest the kernel argument `farm.name=value` (the guest's
// init hands it on as the flag).
struct WorkloadFlag {
  std::string name;
  std::string value;
};

// What farm-workload runs for `request`: workloads, repetitions (at least 1),
// and the per-workload size and iteration overrides where any are given. The
// one place that reads a request's workload selection, so a run natively and
// one in a guest can't drift apart.
std::vector<WorkloadFlag> WorkloadFlags(const farm::v1::RunBenchmarkRequest& request);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_WORKLOAD_FLAGS_H_
