#include "controller/http/request_identity.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include "absl/strings/match.h"
#include "common/tls/tls_credentials.h"

namespace kvmfarm::http {

std::optional<std::string> BearerToken(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(header, kBearer)) return std::nullopt;
  return header.substr(kBearer.size());
}

std::optional<SpiffeId> ClientIdentity(const httplib::Request& request) {
  if (request.ssl == nullptr) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(request.ssl);
  if (cert == nullptr) return std::nullopt;
  std::optional<SpiffeId> id;
  if (SSL_get_verify_result(request.ssl) == X509_V_OK) id = CertificateIdentity(cert);
  X509_free(cert);
  return id;
}

}  // namespace kvmfarm::http
