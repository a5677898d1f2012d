// -----------------------------------------------------------------------------
// File: testing/server_process.h
// -----------------------------------------------------------------------------
//
// One of kvmfarm's servers (farm-agent, farm-controller) started as a process on
// 127.0.0.1:0 for a test. The address comes from its "<name> serving on <addr>" log
// line, so tests wait for that event, not for time. Destroying it kills the process.
//
// Example:
//
//   ServerProcess agent(Runfile("agent/farm-agent"), "farm-agent", {"--sysroot", dir});
//   const std::string address = agent.WaitUntilListening();
#ifndef KVMFARM_COMMON_TESTING_SERVER_PROCESS_H_
#define KVMFARM_COMMON_TESTING_SERVER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/subprocess.h"

namespace kvmfarm::testing {

class ServerProcess {
 public:
  // Starts `binary --listen 127.0.0.1:0 args...`; `name` is the log line's prefix.
  ServerProcess(const std::string& binary, const std::string& name,
                const std::vector<std::string>& args);
  // The same for a command that starts the server, e.g. under an emulator
  // ({"qemu-aarch64-static", "<arm64 farm-agent>"}, see CommandUnderTest).
  ServerProcess(const std::vector<std::string>& command, const std::string& name,
                const std::vector<std::string>& args);

  // The address once it logs it listens, or "" if it exits first or takes over a
  // minute (a test failure is added then).
  std::string WaitUntilListening();

  Subprocess& process() { return *process_; }
  // Everything it logged so far.
  std::string Log() const;
  // farm-controller's HTTP port (--http_listen HOST:0), from its "HTTP on
  // http(s)://HOST:PORT" line, logged before it serves gRPC; 0 when not logged.
  int HttpPort() const;

 private:
  std::string marker_;
  mutable absl::Mutex mu_;
  std::string address_ ABSL_GUARDED_BY(mu_);
  std::string log_ ABSL_GUARDED_BY(mu_);
  absl::Notification listening_;
  // Last, so it is destroyed first: its destructor drains the server's last lines
  // into log_ through mu_ and listening_, which must still exist then.
  std::unique_ptr<Subprocess> process_;
};

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_SERVER_PROCESS_H_
