// -----------------------------------------------------------------------------
// File: fake_agent_client.h
// -----------------------------------------------------------------------------
//
// The far side for unit tests of the scheduler and the controller service: agents
// whose failures a test scripts per address, and that otherwise answer at once
// with a plausible result (a capability, a benchmark with one value per
// repetition, a boot that measured a failure). Scripted errors are marked the way
// the real client marks them (ClassifyAgentStatus): a FAILED_PRECONDITION is a
// refusal, an UNAVAILABLE is transient. Calls and cancels are recorded.
//
// Not thread-safe, but for Cancel (the scheduler cancels on several agents at
// once): run the scheduler's attempts on the test's thread (an inline or queued
// Executor).
//
// Example:
//
//   FakeAgentClient agents;
//   agents.script["d0:7420"] = {absl::UnavailableError("connection refused")};
//   Scheduler scheduler(store, fleet, &agents, &clock, options, inline_executor);
//   ...
//   EXPECT_THAT(agents.calls, ElementsAre("capability@d0:7420", "capability@d0:7420"));
#ifndef KVMFARM_CONTROLLER_SCHEDULER_TESTING_FAKE_AGENT_CLIENT_H_
#define KVMFARM_CONTROLLER_SCHEDULER_TESTING_FAKE_AGENT_CLIENT_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "controller/scheduler/agent_client.h"

namespace kvmfarm::scheduler {

class FakeAgentClient final : public AgentClient {
 public:
  absl::StatusOr<farm::v1::KvmCapability> GetCapability(const std::string& address, bool,
                                                        absl::Duration) override;
  // One crypto.sha256 value per repetition (100, 101, ...) with their median, min
  // and max, after one progress report.
  absl::StatusOr<farm::v1::BenchmarkResult> RunBenchmark(
      const std::string& address, const farm::v1::RunBenchmarkRequest& request, absl::Duration,
      const ProgressCallback& on_progress) override;
  // A measured failure: "QEMU killed by signal 6".
  absl::StatusOr<farm::v1::BootResult> BootVm(const std::string& address,
                                              const farm::v1::BootVmRequest& request,
                                              absl::Duration, const ProgressCallback&) override;
  // Busy with `busy_attempt` when it is set.
  absl::StatusOr<farm::v1::GetStatusResponse> GetStatus(const std::string&) override;
  absl::Status Cancel(const std::string& address, const std::string& attempt_id) override;

  // Per address, the errors of its next calls, in order; unscripted calls succeed.
  std::map<std::string, std::deque<absl::Status>> script;
  // "capability@d0:7420", "benchmark@...", "boot@..." in call order.
  std::vector<std::string> calls;
  // "attempt@address" per Cancel.
  std::vector<std::string> cancelled;
  // Called by each Cancel, on the canceller's thread, after recording it (a test
  // can hold a cancel there, as an unresponsive agent would).
  std::function<void(const std::string& address)> on_cancel;
  std::string busy_attempt;

 private:
  absl::Mutex cancel_mu_;
  // The next scripted answer for `address`, marked as the real client would.
  absl::Status Next(const std::string& address);
};

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_TESTING_FAKE_AGENT_CLIENT_H_
