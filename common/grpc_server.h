// -----------------------------------------------------------------------------
// File: grpc_server.h
// -----------------------------------------------------------------------------
//
// The one way kvmfarm starts a gRPC server; farm-agent and farm-controller both use
// it, so every server behaves the same:
//  * SO_REUSEPORT off (GRPC_ARG_ALLOW_REUSEPORT = 0). gRPC turns it on by default,
//    and then a second server on the same port starts "successfully" and silently
//    takes half the traffic. Here it fails with a clear error instead.
//  * The standard health service (grpc.health.v1.Health) and server reflection, both
//    v1 and v1alpha (common/reflection_v1.h, one implementation), are registered
//    explicitly, so grpcurl-style tools and other languages' clients, old and new,
//    can talk to any kvmfarm server. Health answers anyone (load balancers probe
//    it); reflection answers whom `authorize` allows.
//  * TLS when given credentials (common/tls/tls_credentials.h); plaintext only when
//    not, which the binaries allow on loopback with --insecure alone.
//  * The port actually bound is reported (and optionally written to a file), so
//    tests and scripts can listen on port 0 and let the OS choose.
//
// Example:
//
//   AgentServiceImpl service(...);
//   GrpcServerOptions options;
//   options.listen_address = "127.0.0.1:0";
//   options.services = {&service};
//   ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> server, GrpcServer::Start(options));
//   FARM_LOG(INFO) << "listening on " << server->address();
//   WaitForShutdownSignal();
//   server->Shutdown(absl::Seconds(5));
#ifndef KVMFARM_COMMON_GRPC_SERVER_H_
#define KVMFARM_COMMON_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmfarm {

struct GrpcServerOptions {
  // "host:port"; port 0 lets the OS choose. Servers bind loopback unless an
  // operator asks otherwise.
  std::string listen_address = "127.0.0.1:0";
  // Services to serve (not owned; must outlive the server).
  std::vector<grpc::Service*> services;
  // If set, the bound port is written there (atomically, "<port>\n") once listening.
  std::string port_file;
  // If positive, the most threads the server may run calls of synchronous methods
  // on (grpc::ResourceQuota::SetMaxThreads): past it, a new synchronous call fails
  // at once with RESOURCE_EXHAUSTED rather than starting a thread. Callback methods
  // don't count: a call waiting on one holds no thread. 0 = no limit.
  int max_threads = 0;
  // How the server authenticates; nullptr = plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // If set, checks every reflection stream (with its method path) before it is
  // served: reflection describes the whole API, so it is not for anyone.
  std::function<grpc::Status(const grpc::ServerContext&, const char* method)> authorize;
};

// A running gRPC server.
class GrpcServer {
 public:
  // Binds and starts. INVALID_ARGUMENT for a malformed address; UNAVAILABLE when
  // the address can't be bound (in use, not local); INTERNAL when the port file
  // can't be written.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options);

  ~GrpcServer();

  // The port bound.
  int port() const { return port_; }
  // "host:port" with the bound port, for clients to dial.
  const std::string& address() const { return address_; }

  // Marks every service NOT_SERVING in the health service, lets calls in flight
  // finish for up to `grace`, then cancels the rest. Idempotent. Note: gRPC 1.51
  // waits out the whole grace while any client keeps a connection open, even an
  // idle one, so pass a grace only when calls worth finishing are in flight.
  void Shutdown(absl::Duration grace);

  grpc::Server* server() { return server_.get(); }

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::string address);

  std::unique_ptr<grpc::Server> server_;
  int port_;
  std::string address_;
  bool shut_down_ = false;
};

// Blocks SIGINT and SIGTERM in the calling thread and every thread it creates
// afterwards; call first thing in main(), before any server or thread starts.
void BlockShutdownSignals();

// Waits until SIGINT or SIGTERM arrives (after BlockShutdownSignals) and returns it.
int WaitForShutdownSignal();

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_GRPC_SERVER_H_
