// -----------------------------------------------------------------------------
// File: registrar.h
// -----------------------------------------------------------------------------
//
// The agent's side of the fleet (farm-agent --controller ADDR): register with the
// controller (identity, capability, version, the address to dial back), then
// heartbeat every interval it asks for. While the controller is away the agent keeps
// trying with exponential backoff; after either side restarts it registers again
// (the controller answers a stale heartbeat with register_again).
#ifndef KVMFARM_AGENT_REGISTRAR_H_
#define KVMFARM_AGENT_REGISTRAR_H_

#include <grpcpp/security/credentials.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm {

struct RegistrarOptions {
  // The controller's replicas (farm-agent --controller a:7421,b:7421): the agent
  // registers with the first that answers and moves to the next when a call fails,
  // registering there (sessions are per replica); a full round of failures backs off.
  std::vector<std::string> controller_addresses;
  // How the channel to the controller is secured; nullptr = plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  absl::Duration min_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration rpc_deadline = absl::Seconds(5);
};

class Registrar {
 public:
  // `make_request` builds a fresh registration (the current capability);
  // `busy_job` says what runs now, for heartbeats.
  Registrar(RegistrarOptions options, std::function<farm::v1::RegisterAgentRequest()> make_request,
            std::function<absl::optional<farm::v1::JobInfo>()> busy_job);
  ~Registrar();

  void Start();
  void Stop();
  // Sends the next heartbeat now rather than at the end of the interval (when the
  // agent's own job ends, so the controller knows it is free). Safe after Stop.
  void HeartbeatNow();

 private:
  void Loop();
  // Waits up to `wait`, less when HeartbeatNow or Stop is called; false once stopping.
  bool Wait(absl::Duration wait);
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || heartbeat_now_; }

  const RegistrarOptions options_;
  const std::function<farm::v1::RegisterAgentRequest()> make_request_;
  const std::function<absl::optional<farm::v1::JobInfo>()> busy_job_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_REGISTRAR_H_
