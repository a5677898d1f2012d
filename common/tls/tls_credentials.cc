#include "common/tls/tls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace kvmfarm {
namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  // gRPC's FileWatcherCertificateProvider takes a modification time of 0 for a
  // failed stat and never loads the file: every handshake would fail, silently.
  struct stat info;
  if (stat(path.c_str(), &info) == 0 && info.st_mtime == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ", what, " ", path,
        " has modification time 0 (1970), which gRPC's certificate watcher cannot load: "
        "touch it"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("the ", what, " ", path, " cannot be read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status Bad(absl::string_view what, const std::string& path, absl::string_view why) {
  ERR_clear_error();
  return absl::FailedPreconditionError(absl::StrCat("the ", what, " ", path, " ", why));
}

// Every certificate in the CA file, as a store to verify against.
absl::StatusOr<StorePtr> LoadCa(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ReadPem(path, "CA certificate (--tls_ca)"));
  BioPtr bio = MemoryBio(pem);
  StorePtr store(X509_STORE_new());
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), ca);
    X509_free(ca);
    ++count;
  }
  if (count == 0) return Bad("CA certificate (--tls_ca)", path, "holds no PEM certificate");
  ERR_clear_error();
  return store;
}

// The spiffe:// identities among the certificate's URI SANs.
std::vector<SpiffeId> UriIdentities(X509* cert) {
  std::vector<SpiffeId> ids;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return ids;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    absl::StatusOr<SpiffeId> id = ParseSpiffeId(absl::string_view(
        reinterpret_cast<const char*>(uri->data), static_cast<size_t>(uri->length)));
    if (id.ok()) ids.push_back(*std::move(id));
  }
  GENERAL_NAMES_free(names);
  return ids;
}

absl::StatusOr<SpiffeId> CheckIdentity(const TlsFiles& files, X509_STORE* store) {
  constexpr absl::string_view kCert = "certificate (--tls_cert)";
  RETURN_IF_ERROR(CheckOwnerOnly(files.key, "the key (--tls_key)"));
  ASSIGN_OR_RETURN(const std::string cert_pem, ReadPem(files.cert, kCert));
  ASSIGN_OR_RETURN(const std::string key_pem, ReadPem(files.key, "key (--tls_key)"));
  X509Ptr cert(PEM_read_bio_X509(MemoryBio(cert_pem).get(), nullptr, nullptr, nullptr));
  if (!cert) return Bad(kCert, files.cert, "holds no PEM certificate");
  KeyPtr key(PEM_read_bio_PrivateKey(MemoryBio(key_pem).get(), nullptr, nullptr, nullptr));
  if (!key) return Bad("key (--tls_key)", files.key, "holds no PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Bad(kCert, files.cert, absl::StrCat("is not the certificate of the key ", files.key));
  }
  StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store, cert.get(), nullptr);
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    return Bad(kCert, files.cert,
               absl::StrCat("is not usable with the CA ", files.ca, ": ",
                            X509_verify_cert_error_string(error)));
  }
  const std::vector<SpiffeId> ids = UriIdentities(cert.get());
  if (ids.size() != 1) {
    return Bad(kCert, files.cert,
               "names no single spiffe://LAB/KIND/NAME identity (make it with tools/pki/pki.sh)");
  }
  return ids.front();
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchFiles(
    const TlsFiles& files) {
  const auto refresh =
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh)));
  if (files.cert.empty()) {
    return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(files.ca, refresh);
  }
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(files.key, files.cert,
                                                                              files.ca, refresh);
}

// Accepts a peer whose certificate (already verified against the lab CA) names an
// identity `rule` accepts.
class IdentityVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit IdentityVerifier(PeerRule rule) : rule_(std::move(rule)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    for (const grpc::string_ref& uri : request->uri_names()) {
      absl::StatusOr<SpiffeId> id = ParseSpiffeId(absl::string_view(uri.data(), uri.size()));
      if (id.ok() && rule_.Accepts(*id)) {
        *sync_status = grpc::Status::OK;
        return true;
      }
    }
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                absl::StrCat("the peer's certificate is not ", rule_.ToString()));
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const PeerRule rule_;
};

std::shared_ptr<grpc::experimental::CertificateVerifier> Verifier(const PeerRule& rule) {
  return grpc::experimental::ExternalCertificateVerifier::Create<IdentityVerifier>(rule);
}

}  // namespace

std::optional<SpiffeId> CertificateIdentity(X509* cert) {
  std::vector<SpiffeId> ids = UriIdentities(cert);
  if (ids.size() != 1) return std::nullopt;
  return ids.front();
}

bool PeerRule::Accepts(const SpiffeId& id) const {
  return (lab.empty() || id.lab == lab) && id.kind == kind && (!name || id.name == *name);
}

std::string PeerRule::ToString() const {
  return absl::StrCat("spiffe://", lab.empty() ? "*" : lab, "/", KindName(kind), "/",
                      name ? *name : "*");
}

absl::StatusOr<std::optional<SpiffeId>> CheckTlsFiles(const TlsFiles& files) {
  if (files.ca.empty()) return absl::InvalidArgumentError("--tls_ca is required with TLS");
  ASSIGN_OR_RETURN(StorePtr store, LoadCa(files.ca));
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (files.cert.empty()) return std::optional<SpiffeId>();
  ASSIGN_OR_RETURN(SpiffeId id, CheckIdentity(files, store.get()));
  return std::optional<SpiffeId>(std::move(id));
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               ClientCertificates mode,
                                                               const PeerRule& client_rule) {
  grpc::experimental::TlsServerCredentialsOptions options(WatchFiles(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  if (mode == ClientCertificates::kRequire) {
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.set_certificate_verifier(Verifier(client_rule));
  } else {
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files,
                                                                 const PeerRule& server_rule) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(WatchFiles(files));
  options.watch_root_certs();
  if (!files.cert.empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(Verifier(server_rule));
  return grpc::experimental::TlsCredentials(options);
}

std::optional<SpiffeId> PeerIdentity(const grpc::AuthContext& context) {
  if (!context.IsPeerAuthenticated()) return std::nullopt;
  for (const char* property : {GRPC_PEER_SPIFFE_ID_PROPERTY_NAME, GRPC_PEER_URI_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : context.FindPropertyValues(property)) {
      absl::StatusOr<SpiffeId> id = ParseSpiffeId(absl::string_view(value.data(), value.size()));
      if (id.ok()) return *std::move(id);
    }
  }
  return std::nullopt;
}

}  // namespace kvmfarm
