// -----------------------------------------------------------------------------
// File: process_runner.h
// -----------------------------------------------------------------------------
//
// Starting a child program, behind an interface: the job runner (agent/job_runner.h)
// runs a child through a ProcessRunner, so its deadline, cancel and progress
// handling, and the native benchmark job on it, are tested with a fake
// (common/testing/fake_process_runner.h) instead of real programs. (Guests are
// started by agent/vm's Vm over Subprocess directly: their tests boot real QEMU.)
// SubprocessRunner is the one real implementation, over Subprocess
// (common/subprocess.h), with all of its guarantees.
//
// Example:
//
//   SubprocessRunner processes;
//   JobRunner job(context);
//   ASSIGN_OR_RETURN(ProcessResult result,
//                    job.RunProcess(processes, spec, absl::Now() + deadline));
#ifndef KVMFARM_COMMON_PROCESS_RUNNER_H_
#define KVMFARM_COMMON_PROCESS_RUNNER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace kvmfarm {

// A started child, as Subprocess presents it. Destroying it kills and reaps it.
class RunningProcess {
 public:
  virtual ~RunningProcess() = default;
  // Kills the child (and its process group); Wait() then returns promptly.
  virtual void Kill() = 0;
  // Waits at most `timeout`; true when the child has finished.
  virtual bool WaitFor(absl::Duration timeout) = 0;
  // Blocks until the child ended and returns how. Call at most once.
  virtual ProcessResult Wait() = 0;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // The errors of Subprocess::Start.
  virtual absl::StatusOr<std::unique_ptr<RunningProcess>> Start(ProcessSpec spec) = 0;
};

// Real children, through Subprocess.
class SubprocessRunner final : public ProcessRunner {
 public:
  absl::StatusOr<std::unique_ptr<RunningProcess>> Start(ProcessSpec spec) override;
};

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_PROCESS_RUNNER_H_
