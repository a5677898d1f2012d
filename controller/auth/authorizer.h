// -----------------------------------------------------------------------------
// File: auth/authorizer.h
// -----------------------------------------------------------------------------
//
// Who calls the controller, and whether they may: the one table of what each RPC
// needs, and the check every handler makes first.
//
// A caller is identified on every call, never remembered on the connection (gRPC's
// AuthContext is per connection; a token is per call):
//  * a bearer token ("authorization: Bearer T" metadata), looked up by its SHA-256
//    in the access file (controller/auth/access_file.h); a token that is not
//    granted is UNAUTHENTICATED even on a connection with a certificate;
//  * else the TLS client certificate: spiffe://LAB/operator/NAME takes the role the
//    access file grants NAME; spiffe://LAB/device/ID is that device's agent, which
//    may call the agent RPCs only;
//  * else nobody: UNAUTHENTICATED.
// On a plaintext loopback server (--insecure, for tests) there is no identity to
// check: every caller is "anonymous" with every right.
//
// Example (a handler):
//
//   ASSIGN_OR_RETURN_GRPC(Caller caller, authorizer_->Authorize(*context, "StartSweep"));
#ifndef KVMFARM_CONTROLLER_AUTH_AUTHORIZER_H_
#define KVMFARM_CONTROLLER_AUTH_AUTHORIZER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/spiffe_id.h"
#include "controller/auth/access_file.h"

namespace kvmfarm::auth {

// What an RPC needs: a role (each includes the ones below it; the same numbers as
// Role) or a device's agent.
enum class Need { kViewer = 1, kOperator = 2, kAdmin = 3, kAgent = 4 };

// Every method the controller serves under authorization, by its full path
// ("/farm.v1.ControllerService/StartSweep"), with what it needs. Health is not in
// it: load balancers probe it without credentials.
const std::map<std::string, Need>& ControllerAccessTable();

// The path of ControllerService method `method` ("StartSweep").
std::string ControllerMethod(absl::string_view method);

// The caller of one RPC.
struct Caller {
  enum class Kind { kAnonymous, kOperator, kDevice };
  Kind kind = Kind::kAnonymous;
  // Operators: the grant's name; devices: the device id.
  std::string name;
  // "token" or "certificate" for operators.
  std::string credential;
  Role role = Role::kViewer;

  // Who, for the audit trail: "alice (token)", "bob (certificate)", "device d1",
  // "anonymous (plaintext loopback)".
  std::string Audit() const;
};

class Authorizer {
 public:
  struct Options {
    // Plaintext loopback: everyone may do everything.
    bool insecure = false;
    // The lab whose certificates are accepted.
    std::string lab;
    // The access file; "" = certificates of devices only (no operator may call).
    std::string access_file;
    // How often the access file is looked at for changes (and at once for a
    // credential it doesn't grant).
    absl::Duration reload_interval = absl::Seconds(1);
  };

  // INVALID_ARGUMENT / NOT_FOUND when the access file can't be read or parsed.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(Options options);

  // The caller, when it may call `method` (a path in ControllerAccessTable, or a
  // reflection method, which needs a viewer). UNAUTHENTICATED without an identity,
  // PERMISSION_DENIED naming the role needed otherwise.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContext& context, const std::string& method);

  // The same check for a caller that isn't a gRPC call (the controller's HTTP
  // endpoint): a bearer token from its Authorization header, or the identity of the
  // client certificate TLS verified. `what` names the thing asked for, in errors.
  absl::StatusOr<Caller> AuthorizeCredentials(const std::optional<std::string>& bearer_token,
                                              const std::optional<SpiffeId>& peer, Need need,
                                              const std::string& what);

  // The same check for a dashboard session (controller/dashboard/session.h), which
  // keeps the SHA-256 of the token it was opened with: the grant is looked up again
  // on every request, so removing it from the access file ends the session.
  absl::StatusOr<Caller> AuthorizeTokenHash(const std::string& token_hash, Need need,
                                            const std::string& what);

  // Whether every caller is anonymous with every right (plaintext loopback).
  bool insecure() const { return options_.insecure; }

  // Authorize as a gRPC status, in the shape GrpcServerOptions::authorize takes
  // (the check of services that aren't ours to edit, such as reflection). The
  // authorizer must outlive the server.
  std::function<grpc::Status(const grpc::ServerContext&, const char* method)> ServerCheck();

 private:
  explicit Authorizer(Options options) : options_(std::move(options)) {}

  absl::StatusOr<Caller> Identify(const grpc::ServerContext& context);
  absl::StatusOr<Caller> Identify(const std::optional<std::string>& bearer_token,
                                  const std::optional<SpiffeId>& peer);
  // The operator the token of `hash` is granted to; UNAUTHENTICATED when none is.
  absl::StatusOr<Caller> IdentifyTokenHash(const std::string& hash);
  // `caller` when it may have what `need` guards (`what`, for the refusal).
  absl::StatusOr<Caller> Allow(const Caller& caller, Need need, const std::string& what);
  // The grants, re-read when the file changed (a bad new file keeps the old grants).
  // The file is looked at once per reload interval, or now with `look_now` (for a
  // credential not granted: a new grant works at once, a removed one within the
  // interval).
  std::shared_ptr<const AccessGrants> Grants(bool look_now);
  // The grant `lookup` finds for `key` (copied: the grants may be replaced).
  std::optional<Grant> Find(const Grant* (AccessGrants::*lookup)(const std::string&) const,
                            const std::string& key);
  absl::Status Load(std::shared_ptr<const AccessGrants>* grants, int64_t* version);

  const Options options_;
  absl::Mutex mu_;
  std::shared_ptr<const AccessGrants> grants_ ABSL_GUARDED_BY(mu_);
  int64_t loaded_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::auth

#endif  // KVMFARM_CONTROLLER_AUTH_AUTHORIZER_H_
