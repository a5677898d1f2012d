// -----------------------------------------------------------------------------
// File: testing/slow_agents.h
// -----------------------------------------------------------------------------
//
// Agents for tests of health pings: thread-safe (unlike
// scheduler::FakeAgentClient), and each GetStatus takes its agent's time before
// answering or failing, as a real agent that is slow or doesn't answer (the call
// waits out its deadline) would. Records how many calls were out at once.
//
// Example:
//
//   SlowAgents agents;
//   agents.Answers("10.0.0.1:7420", absl::ZeroDuration());
//   agents.Silent("10.0.0.2:7420", absl::Seconds(1));  // fails after 1 s
//   HealthPings pings(&fleet, &agents, HealthPingOptions());
//   pings.Round();
//   EXPECT_LE(agents.max_out(), 32);
#ifndef KVMFARM_CONTROLLER_FLEET_TESTING_SLOW_AGENTS_H_
#define KVMFARM_CONTROLLER_FLEET_TESTING_SLOW_AGENTS_H_

#include <algorithm>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/scheduler/agent_client.h"

namespace kvmfarm::fleet::testing {

class SlowAgents final : public scheduler::AgentClient {
 public:
  // The agent at `address` answers GetStatus after `delay`.
  void Answers(const std::string& address, absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    agents_[address] = {true, delay};
  }
  // The agent at `address` never answers: GetStatus fails after `deadline`.
  void Silent(const std::string& address, absl::Duration deadline) {
    absl::MutexLock lock(&mu_);
    agents_[address] = {false, deadline};
  }

  // Unknown addresses fail at once, like a refused connection.
  absl::StatusOr<farm::v1::GetStatusResponse> GetStatus(const std::string& address) override {
    Agent agent;
    {
      absl::MutexLock lock(&mu_);
      auto known = agents_.find(address);
      if (known != agents_.end()) agent = known->second;
      ++calls_[address];
      ++out_;
      max_out_ = std::max(max_out_, out_);
    }
    absl::SleepFor(agent.delay);
    absl::MutexLock lock(&mu_);
    --out_;
    if (!agent.answers) return absl::UnavailableError(absl::StrCat(address, ": no answer"));
    return farm::v1::GetStatusResponse();
  }

  absl::StatusOr<farm::v1::KvmCapability> GetCapability(const std::string&, bool,
                                                        absl::Duration) override {
    return absl::UnimplementedError("SlowAgents only answers GetStatus");
  }
  absl::StatusOr<farm::v1::BenchmarkResult> RunBenchmark(
      const std::string&, const farm::v1::RunBenchmarkRequest&, absl::Duration,
      const scheduler::ProgressCallback&) override {
    return absl::UnimplementedError("SlowAgents only answers GetStatus");
  }
  absl::StatusOr<farm::v1::BootResult> BootVm(const std::string&, const farm::v1::BootVmRequest&,
                                              absl::Duration,
                                              const scheduler::ProgressCallback&) override {
    return absl::UnimplementedError("SlowAgents only answers GetStatus");
  }
  absl::Status Cancel(const std::string&, const std::string&) override {
    return absl::UnimplementedError("SlowAgents only answers GetStatus");
  }

  // GetStatus calls to `address` so far.
  int calls(const std::string& address) const {
    absl::MutexLock lock(&mu_);
    auto found = calls_.find(address);
    return found == calls_.end() ? 0 : found->second;
  }
  // The most GetStatus calls that were out at once.
  int max_out() const {
    absl::MutexLock lock(&mu_);
    return max_out_;
  }

 private:
  struct Agent {
    bool answers = false;
    absl::Duration delay;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Agent> agents_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  int out_ ABSL_GUARDED_BY(mu_) = 0;
  int max_out_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::fleet::testing

#endif  // KVMFARM_CONTROLLER_FLEET_TESTING_SLOW_AGENTS_H_
