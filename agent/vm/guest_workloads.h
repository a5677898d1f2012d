// -----------------------------------------------------------------------------
// File: guest_workloads.h
// -----------------------------------------------------------------------------
//
// RunBenchmark in mode KVM or TCG: farm-workload inside one guest. The guest
// boots the image with the workloads on its kernel command line (farm.run=
// workloads, see guest_images/init.sh), prints its progress and then its result
// on the console (workloads/console_protocol.h), and powers off. The io workload
// gets a scratch disk of its size, removed when the job ends.
//
// Example:
//
//   farm::v1::BenchmarkResult result = vm::RunWorkloadsInGuest(request, options, context);
//   if (!result.succeeded()) FARM_LOG(WARNING) << result.failure_reason();
#ifndef KVMFARM_AGENT_VM_GUEST_WORKLOADS_H_
#define KVMFARM_AGENT_VM_GUEST_WORKLOADS_H_

#include "agent/job_runner.h"
#include "agent/vm/boot.h"
#include "farm/v1/agent.pb.h"

namespace kvmfarm::vm {

// Runs farm-workload inside one guest under request.mode() (KVM or TCG) and returns
// its result relabelled with that mode, the guest's boot in guest_boot, and the
// console as the log. A guest without farm-workload, a boot failure or a missing
// result is a result with succeeded = false and the reason.
farm::v1::BenchmarkResult RunWorkloadsInGuest(const farm::v1::RunBenchmarkRequest& request,
                                              const BootJobOptions& options,
                                              const JobContext& context);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_GUEST_WORKLOADS_H_
