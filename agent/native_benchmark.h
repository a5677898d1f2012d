// -----------------------------------------------------------------------------
// File: native_benchmark.h
// -----------------------------------------------------------------------------
//
// RunBenchmark in mode NATIVE: the workloads run in a child process
// (farm-workload), so a crash or hang can't take the agent down; its deadline,
// Cancel and a vanished client kill it. Progress lines from the child are passed
// on; while it runs, the device's frequencies, temperatures and battery are
// sampled and attached, with energy per workload where the battery reports
// current and voltage.
#ifndef KVMFARM_AGENT_NATIVE_BENCHMARK_H_
#define KVMFARM_AGENT_NATIVE_BENCHMARK_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/job_runner.h"
#include "agent/probe/sysroot.h"
#include "agent/throttling.h"
#include "common/process_runner.h"
#include "farm/v1/agent.pb.h"

namespace kvmfarm {

struct NativeBenchmarkOptions {
  // The farm-workload binary.
  std::string workload_binary;
  // Where the io workload writes its file.
  std::string work_dir = "/tmp";
  // Used when the request has no deadline.
  absl::Duration default_deadline = absl::Minutes(30);
  absl::Duration sample_interval = absl::Seconds(1);
  // When a repetition counts as throttled (throttling.h).
  ThrottleOptions throttle;
  // Provenance the agent adds to every result.
  std::string agent_version;
  std::string build_fingerprint;
  // How farm-workload is started; null = as a real child (SubprocessRunner).
  ProcessRunner* process_runner = nullptr;
  // Where frequencies, temperatures and the battery are read: the device itself,
  // or a scratch tree in tests.
  std::string sysroot = "/";
};

// INVALID_ARGUMENT naming the field: attempt_id, mode, workloads[i].name / size /
// iterations, repetitions.
absl::Status ValidateBenchmarkRequest(const farm::v1::RunBenchmarkRequest& request);

// Runs a validated NATIVE request to its result. Never an error: a job that failed,
// was cancelled or ran out of time is a result with succeeded = false and the reason.
// The context's on_progress is called from another thread, one call at a time, and
// never after this returns.
farm::v1::BenchmarkResult RunNativeBenchmark(const farm::v1::RunBenchmarkRequest& request,
                                             const NativeBenchmarkOptions& options,
                                             const JobContext& context);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_NATIVE_BENCHMARK_H_
