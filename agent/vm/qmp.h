// -----------------------------------------------------------------------------
// File: qmp.h
// -----------------------------------------------------------------------------
//
// A minimal QEMU Machine Protocol client over a Unix socket: enough to pause and
// resume a guest (`stop`, `cont`) for the switch-latency measurement. Every call
// has a deadline; a QEMU that stops answering never hangs the agent.
#ifndef KVMFARM_AGENT_VM_QMP_H_
#define KVMFARM_AGENT_VM_QMP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmfarm::vm {

class QmpClient {
 public:
  // Connects (retrying while QEMU creates the socket), reads the greeting and
  // negotiates capabilities.
  static absl::StatusOr<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path,
                                                            absl::Duration timeout);
  ~QmpClient();

  // Runs `command` ("stop", "cont") and returns its reply line; an "error" reply is
  // INTERNAL with QEMU's message.
  absl::StatusOr<std::string> Execute(const std::string& command, absl::Duration timeout);

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);

  int fd_;
  std::string buffer_;
};

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_QMP_H_
