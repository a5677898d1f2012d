// -----------------------------------------------------------------------------
// File: agent_client.h
// -----------------------------------------------------------------------------
//
// How the scheduler talks to agents: an interface (a fake stands in for the far
// side in unit tests: testing/fake_agent_client.h) and its gRPC implementation.
// A failed measurement comes back as an OK result. Errors are either the agent's
// refusal of the request, marked as such (agent_error.h: IsAgentRefusal), which the
// scheduler does not retry, or infrastructure failures (unreachable, busy,
// deadline), which it retries. Every implementation marks its errors the same way.
#ifndef KVMFARM_CONTROLLER_SCHEDULER_AGENT_CLIENT_H_
#define KVMFARM_CONTROLLER_SCHEDULER_AGENT_CLIENT_H_

#include <grpcpp/security/credentials.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "farm/v1/agent.grpc.pb.h"

namespace kvmfarm::scheduler {

using ProgressCallback = std::function<void(const farm::v1::Progress&)>;

class AgentClient {
 public:
  virtual ~AgentClient() = default;
  virtual absl::StatusOr<farm::v1::KvmCapability> GetCapability(const std::string& address,
                                                                bool boot_check,
                                                                absl::Duration deadline) = 0;
  virtual absl::StatusOr<farm::v1::BenchmarkResult> RunBenchmark(
      const std::string& address, const farm::v1::RunBenchmarkRequest& request,
      absl::Duration deadline, const ProgressCallback& on_progress) = 0;
  virtual absl::StatusOr<farm::v1::BootResult> BootVm(const std::string& address,
                                                      const farm::v1::BootVmRequest& request,
                                                      absl::Duration deadline,
                                                      const ProgressCallback& on_progress) = 0;
  virtual absl::StatusOr<farm::v1::GetStatusResponse> GetStatus(const std::string& address) = 0;
  virtual absl::Status Cancel(const std::string& address, const std::string& attempt_id) = 0;
};

// How GrpcAgentClient secures its channels. Default: plaintext (tests, --insecure).
struct AgentChannelSecurity {
  // The device the controller believes answers at an address: the name its
  // certificate must carry. NOT_FOUND when no device is known there.
  std::function<absl::StatusOr<std::string>(const std::string& address)> device_at;
  // Credentials accepting only `device_id`'s certificate.
  std::function<std::shared_ptr<grpc::ChannelCredentials>(const std::string& device_id)>
      credentials;
};

class GrpcAgentClient final : public AgentClient {
 public:
  GrpcAgentClient() = default;
  explicit GrpcAgentClient(AgentChannelSecurity security) : security_(std::move(security)) {}

  absl::StatusOr<farm::v1::KvmCapability> GetCapability(const std::string& address, bool boot_check,
                                                        absl::Duration deadline) override;
  absl::StatusOr<farm::v1::BenchmarkResult> RunBenchmark(
      const std::string& address, const farm::v1::RunBenchmarkRequest& request,
      absl::Duration deadline, const ProgressCallback& on_progress) override;
  absl::StatusOr<farm::v1::BootResult> BootVm(const std::string& address,
                                              const farm::v1::BootVmRequest& request,
                                              absl::Duration deadline,
                                              const ProgressCallback& on_progress) override;
  absl::StatusOr<farm::v1::GetStatusResponse> GetStatus(const std::string& address) override;
  absl::Status Cancel(const std::string& address, const std::string& attempt_id) override;

  // Sent with every job and cancel from now on (issue 18): the epoch this
  // controller leads as, so agents refuse a deposed leader's requests. 0: none.
  void SetLeaderEpoch(uint64_t epoch) { leader_epoch_.store(epoch); }

 private:
  // The stub for the device expected at `address` (one channel per device and
  // address: an address that changes hands gets a channel checking the new owner).
  absl::StatusOr<farm::v1::AgentService::Stub*> Stub(const std::string& address);

  // Registers a job's call so Cancel can close its stream too: a Cancel that reaches
  // the agent before the job has started there would otherwise miss it.
  void Track(const std::string& attempt_id, grpc::ClientContext* context);
  void Untrack(const std::string& attempt_id);

  const AgentChannelSecurity security_;
  std::atomic<uint64_t> leader_epoch_{0};
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<farm::v1::AgentService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_AGENT_CLIENT_H_
