// -----------------------------------------------------------------------------
// File: tls/tls_credentials.h
// -----------------------------------------------------------------------------
//
// Mutual TLS between kvmfarm's processes, on gRPC's TLS credentials
// (grpc::experimental::TlsServerCredentials / TlsCredentials) and the lab's
// certificates from tools/pki/pki.sh. What it adds to gRPC:
//  * The files are checked at start with OpenSSL (they parse, the key is the
//    certificate's, the certificate is the lab CA's and valid now, the key is not
//    readable by others), so a bad file is one clear error at start rather than a
//    failed handshake later.
//  * The files are then watched (FileWatcherCertificateProvider): a lab rotates a
//    certificate by replacing its files; new connections get the new one without
//    a restart.
//  * Peers are checked by identity, the spiffe://LAB/KIND/NAME URI SAN
//    (common/tls/spiffe_id.h), never by host name: agents are reached at
//    127.0.0.1:N through `adb forward`.
//
// Example (an agent, which accepts only the lab's controllers):
//
//   TlsFiles files{"lab/ca.crt", "lab/device-pixel-7.crt", "lab/device-pixel-7.key"};
//   ASSIGN_OR_RETURN(SpiffeId me, CheckTlsFiles(files));
//   options.credentials = MakeServerCredentials(files, ClientCertificates::kRequire,
//                                               PeerRule{me.lab, SpiffeId::Kind::kController});
#ifndef KVMFARM_COMMON_TLS_TLS_CREDENTIALS_H_
#define KVMFARM_COMMON_TLS_TLS_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/spiffe_id.h"

namespace kvmfarm {

// PEM files: the lab CA's certificate, and this process's certificate and key
// (both empty for a client that authenticates another way, e.g. with a token).
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
  // How often the files are re-read for rotation.
  absl::Duration refresh = absl::Seconds(60);
};

// The identity in `files.cert` when the files are a usable set: CA and certificate
// parse, the key is the certificate's and readable by its owner only, the
// certificate is signed by the CA, valid now and names one spiffe:// identity.
// FAILED_PRECONDITION (or NOT_FOUND for a missing file) naming the file otherwise.
// Without a certificate, checks the CA alone and returns nullopt.
absl::StatusOr<std::optional<SpiffeId>> CheckTlsFiles(const TlsFiles& files);

// Which peers are accepted: a certificate of `lab` (any the CA signs for when
// empty) for `kind`, and when `name` is set, that name only.
struct PeerRule {
  std::string lab;
  SpiffeId::Kind kind = SpiffeId::Kind::kController;
  std::optional<std::string> name;

  bool Accepts(const SpiffeId& id) const;
  std::string ToString() const;
};

enum class ClientCertificates {
  // Asked for and verified when given; a client may come without one (operators
  // with a token). The handler decides from the AuthContext.
  kRequest,
  // Required: a client without a certificate of the lab, or whose certificate
  // `PeerRule` refuses, fails the handshake before any RPC runs.
  kRequire,
};

// Server credentials over the watched `files`. `client_rule` applies with kRequire.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               ClientCertificates mode,
                                                               const PeerRule& client_rule);

// Channel credentials over the watched `files` (the client certificate only when
// `files.cert` is set) accepting only a server certificate of the CA that
// `server_rule` accepts; the address's host name is not checked.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files,
                                                                 const PeerRule& server_rule);

// The peer's identity on a TLS connection whose certificate the CA verified
// (nullopt for plaintext, no certificate, or one without a kvmfarm identity).
std::optional<SpiffeId> PeerIdentity(const grpc::AuthContext& context);

// The one spiffe:// identity a certificate names in its URI SANs (nullopt for none
// or several); for a peer certificate the TLS library has verified (HTTPS).
std::optional<SpiffeId> CertificateIdentity(X509* cert);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TLS_TLS_CREDENTIALS_H_
