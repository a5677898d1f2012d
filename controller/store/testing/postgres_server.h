// -----------------------------------------------------------------------------
// File: testing/postgres_server.h
// -----------------------------------------------------------------------------
//
// A real PostgreSQL of a test's own, from Debian's `postgresql` binaries (never
// the system cluster the package sets up): `initdb` into the test's directory and
// `postgres` serving only a Unix socket in a short private directory
// (listen_addresses=''), trust authentication for the user `kvmfarm`.
//
// initdb and postgres refuse to run as root, and tests run as root (CI does), in
// Bazel's sandbox where only uid 0 is mapped and /root is 0700: so both run under
// `unshare --user --map-user=1000 --map-group=1000`, root outside, uid 1000 inside.
// The server is this object's child: destroying it shuts the server down (fast
// shutdown, then SIGKILL of its process group) and removes its socket directory,
// whether the test passed or not.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PostgresServer> server,
//                    PostgresServer::Start(FreshTestDir("-pg")));
//   RETURN_IF_ERROR(server->CreateDatabase("farm"));
//   farm-controller --db server->Uri("farm")
#ifndef KVMFARM_CONTROLLER_STORE_TESTING_POSTGRES_SERVER_H_
#define KVMFARM_CONTROLLER_STORE_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/subprocess.h"

namespace kvmfarm::store::testing {

class PostgresServer {
 public:
  // initdb into `dir`/data (which must not exist yet) and start the server; OK once
  // it accepts connections. FAILED_PRECONDITION when PostgreSQL's binaries are
  // missing (tools/setup.sh installs them); INTERNAL with the server's log when
  // initdb or the start fails.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(const std::string& dir);

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The postgresql:// URI of `database` on this server, as user kvmfarm: what
  // farm-controller's --db takes, and libpq too.
  std::string Uri(const std::string& database = "postgres") const;

  // CREATE DATABASE `name` (letters, digits and '_').
  absl::Status CreateDatabase(const std::string& name);

  // The postmaster's pid, and the directory of its socket.
  pid_t pid() const { return process_->pid(); }
  const std::string& socket_dir() const { return socket_dir_; }

  // Stops the server (idempotent): fast shutdown, SIGKILL after 30 s.
  void Stop();

 private:
  PostgresServer(std::unique_ptr<Subprocess> process, std::string socket_dir)
      : process_(std::move(process)), socket_dir_(std::move(socket_dir)) {}

  std::unique_ptr<Subprocess> process_;
  std::string socket_dir_;
  bool stopped_ = false;
};

}  // namespace kvmfarm::store::testing

#endif  // KVMFARM_CONTROLLER_STORE_TESTING_POSTGRES_SERVER_H_
