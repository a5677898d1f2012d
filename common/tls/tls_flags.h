// -----------------------------------------------------------------------------
// File: tls/tls_flags.h
// -----------------------------------------------------------------------------
//
// The TLS flags every kvmfarm binary takes, and the one rule for serving:
//
//   --tls_ca FILE --tls_cert FILE --tls_key FILE   the lab CA, this process's
//                                                  certificate and key (pki.sh)
//   --tls_refresh 60s                              how often they are re-read
//   --insecure                                     plaintext, on loopback only
//
// A server serves TLS, or, with --insecure and a loopback --listen only, plaintext;
// anything else is refused at start with a line saying how to get certificates.
//
// Example:
//
//   ASSIGN_OR_RETURN(ServerSecurity security,
//                    ServerSecurityFromFlags(listen, ClientCertificates::kRequire,
//                                            SpiffeId::Kind::kController));
//   options.credentials = security.credentials;
#ifndef KVMFARM_COMMON_TLS_TLS_FLAGS_H_
#define KVMFARM_COMMON_TLS_TLS_FLAGS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls/tls_credentials.h"

namespace kvmfarm {

// How this process talks: the checked TLS files and its own identity, or
// plaintext (--insecure).
struct Security {
  std::optional<TlsFiles> files;
  std::optional<SpiffeId> identity;

  bool tls() const { return files.has_value(); }
};

// The flags' TLS files checked (CheckTlsFiles), or plaintext with --insecure.
// `need_identity`: a certificate and key are required (servers, agents), not just
// the CA (an operator with a token). INVALID_ARGUMENT / FAILED_PRECONDITION naming
// the flag otherwise; with neither TLS flags nor --insecure, the error says how to
// make a lab's certificates.
absl::StatusOr<Security> SecurityFromFlags(bool need_identity);

// --tls_ca as given, from the user's directory ("" when unset): the lab's CA, for a
// command that only checks a server against it (farm-controller's database
// commands reaching PostgreSQL).
std::string LabCaFromFlags();

// The same for a server on `listen`: plaintext is refused unless --insecure is given
// and `listen` is a loopback address.
absl::StatusOr<Security> ServerSecurityFromFlags(const std::string& listen);

// Server credentials for `security` (plaintext ones without TLS) accepting clients
// as `mode` says; with kRequire only certificates of the lab's `client_kind`.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const Security& security,
                                                              ClientCertificates mode,
                                                              SpiffeId::Kind client_kind);

// Channel credentials for `security` (plaintext ones without TLS) accepting a
// server of `server_kind` (and `server_name` when set) of the CA's lab. The lab is
// this process's when it has an identity, else any lab the CA signs for.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const Security& security, SpiffeId::Kind server_kind,
    std::optional<std::string> server_name = std::nullopt);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TLS_TLS_FLAGS_H_
