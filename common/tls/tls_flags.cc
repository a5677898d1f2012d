#include "common/tls/tls_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/ip_address.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, tls_ca, "",
          "TLS: the lab CA's certificate (PEM). Make a lab's certificates with "
          "tools/pki/pki.sh.");
ABSL_FLAG(std::string, tls_cert, "", "TLS: this process's certificate (PEM), from the lab CA.");
ABSL_FLAG(std::string, tls_key, "",
          "TLS: this process's private key (PEM; readable by its owner only).");
ABSL_FLAG(absl::Duration, tls_refresh, absl::Seconds(60),
          "TLS: how often the certificate files are re-read, so they can be rotated without "
          "a restart.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext, no TLS: only for a loopback address, and never for a lab.");

namespace kvmfarm {
namespace {

constexpr absl::string_view kHowToGetCertificates =
    "give --tls_ca, --tls_cert and --tls_key (make a lab's certificates with "
    "tools/pki/pki.sh; see the README's Security section)";

}  // namespace

absl::StatusOr<Security> SecurityFromFlags(bool need_identity) {
  TlsFiles files;
  files.ca = FromUserDir(absl::GetFlag(FLAGS_tls_ca));
  files.cert = FromUserDir(absl::GetFlag(FLAGS_tls_cert));
  files.key = FromUserDir(absl::GetFlag(FLAGS_tls_key));
  files.refresh = absl::GetFlag(FLAGS_tls_refresh);
  const bool any_tls = !files.ca.empty() || !files.cert.empty() || !files.key.empty();
  if (absl::GetFlag(FLAGS_insecure)) {
    if (any_tls) return absl::InvalidArgumentError("--insecure and --tls_* exclude each other");
    return Security{};
  }
  if (!any_tls) {
    return absl::InvalidArgumentError(
        absl::StrCat("no TLS: ", kHowToGetCertificates, ", or, on loopback only, --insecure"));
  }
  if (files.refresh < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_refresh must be at least 1s");
  }
  if (need_identity && (files.cert.empty() || files.key.empty())) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key are required");
  }
  ASSIGN_OR_RETURN(std::optional<SpiffeId> identity, CheckTlsFiles(files));
  return Security{std::move(files), std::move(identity)};
}

std::string LabCaFromFlags() { return FromUserDir(absl::GetFlag(FLAGS_tls_ca)); }

absl::StatusOr<Security> ServerSecurityFromFlags(const std::string& listen) {
  if (absl::GetFlag(FLAGS_insecure) && !IsLoopbackAddress(listen)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", listen, " is not loopback: plaintext (--insecure) is for ",
                     "loopback only; ", kHowToGetCertificates));
  }
  return SecurityFromFlags(/*need_identity=*/true);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const Security& security,
                                                              ClientCertificates mode,
                                                              SpiffeId::Kind client_kind) {
  if (!security.tls()) return grpc::InsecureServerCredentials();
  PeerRule rule;
  rule.lab = security.identity ? security.identity->lab : "";
  rule.kind = client_kind;
  return MakeServerCredentials(*security.files, mode, rule);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const Security& security, SpiffeId::Kind server_kind, std::optional<std::string> server_name) {
  if (!security.tls()) return grpc::InsecureChannelCredentials();
  PeerRule rule;
  rule.lab = security.identity ? security.identity->lab : "";
  rule.kind = server_kind;
  rule.name = std::move(server_name);
  return MakeChannelCredentials(*security.files, rule);
}

}  // namespace kvmfarm
