// -----------------------------------------------------------------------------
// File: native_comparison.h
// -----------------------------------------------------------------------------
//
// RunBenchmark with compare_with_native: the same workloads run natively and then
// in a guest, in one job, and the guest's result carries both. Every in-guest
// figure gets its percentage of native (same metric, same parameters, whatever the
// guest's architecture); 100 % always means "as fast as native": guest / native for
// throughput, native / guest for times and latencies.
//
// Example:
//
//   farm::v1::BenchmarkResult native = RunNativeBenchmark(request, options, context);
//   farm::v1::BenchmarkResult guest = vm::RunWorkloadsInGuest(request, vm_options, context);
//   MergeNative(native, &guest);  // guest now lists native's figures first
#ifndef KVMFARM_AGENT_NATIVE_COMPARISON_H_
#define KVMFARM_AGENT_NATIVE_COMPARISON_H_

#include "farm/v1/agent.pb.h"

namespace kvmfarm {

// Puts `native`'s measurements first in `guest`, sets percent_of_native on each
// in-guest measurement that has a positive native counterpart, adds native's
// failures and notes (prefixed "native: ") and puts native's environment samples
// before the guest's.
void MergeNative(const farm::v1::BenchmarkResult& native, farm::v1::BenchmarkResult* guest);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_NATIVE_COMPARISON_H_
