#include "controller/scheduler/testing/fake_agent_client.h"

#include "common/measurement.h"
#include "common/status_macros.h"
#include "controller/scheduler/agent_error.h"

namespace kvmfarm::scheduler {

absl::StatusOr<farm::v1::KvmCapability> FakeAgentClient::GetCapability(const std::string& address,
                                                                       bool, absl::Duration) {
  calls.push_back("capability@" + address);
  RETURN_IF_ERROR(Next(address));
  farm::v1::KvmCapability c;
  c.set_verdict(farm::v1::VERDICT_KVM_BOOT_UNTESTED);
  return c;
}

absl::StatusOr<farm::v1::BenchmarkResult> FakeAgentClient::RunBenchmark(
    const std::string& address, const farm::v1::RunBenchmarkRequest& request, absl::Duration,
    const ProgressCallback& on_progress) {
  calls.push_back("benchmark@" + address);
  RETURN_IF_ERROR(Next(address));
  farm::v1::Progress progress;
  progress.set_message("crypto 1 of 1");
  if (on_progress) on_progress(progress);
  farm::v1::BenchmarkResult result;
  result.set_attempt_id(request.attempt_id());
  result.set_succeeded(true);
  farm::v1::Measurement* m = result.add_measurements();
  m->set_metric("crypto.sha256");
  m->set_mode(request.mode());
  for (uint32_t i = 0; i < request.repetitions(); ++i) m->add_values(100 + i);
  Summarize(m);  // median, min, max, as an agent reports them
  return result;
}

absl::StatusOr<farm::v1::BootResult> FakeAgentClient::BootVm(const std::string& address,
                                                             const farm::v1::BootVmRequest& request,
                                                             absl::Duration,
                                                             const ProgressCallback&) {
  calls.push_back("boot@" + address);
  RETURN_IF_ERROR(Next(address));
  farm::v1::BootResult result;
  result.set_attempt_id(request.attempt_id());
  result.set_succeeded(false);
  result.set_failure_reason("QEMU killed by signal 6");
  return result;
}

absl::StatusOr<farm::v1::GetStatusResponse> FakeAgentClient::GetStatus(const std::string&) {
  farm::v1::GetStatusResponse status;
  if (!busy_attempt.empty()) status.mutable_busy_job()->set_attempt_id(busy_attempt);
  return status;
}

absl::Status FakeAgentClient::Cancel(const std::string& address, const std::string& attempt_id) {
  {
    absl::MutexLock lock(&cancel_mu_);
    cancelled.push_back(attempt_id + "@" + address);
  }
  if (on_cancel) on_cancel(address);
  return absl::OkStatus();
}

absl::Status FakeAgentClient::Next(const std::string& address) {
  std::deque<absl::Status>& queue = script[address];
  if (queue.empty()) return absl::OkStatus();
  absl::Status s = queue.front();
  queue.pop_front();
  return ClassifyAgentStatus(std::move(s));
}

}  // namespace kvmfarm::scheduler
