#include "common/tls/testing/test_lab.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/subprocess.h"
#include "common/testing/run_binary.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {
namespace {

void RunPki(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Runfile("tools/pki/pki")};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = absl::Seconds(60);
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->Succeeded())
      << "pki.sh " << absl::StrJoin(args, " ") << ": " << result->Describe() << "\n"
      << result->stderr_data;
}

template <typename T>
T* ReadPemFile(const std::string& path, T* (*read)(FILE*, T**, pem_password_cb*, void*)) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  T* value = read(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  return value;
}

}  // namespace

TestLab::TestLab(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {
  RunPki({"init", dir_, name_});
}

TlsFiles TestLab::Issue(const std::string& kind, const std::vector<std::string>& args,
                        const std::string& file_name) {
  TlsFiles files = CaOnly();
  files.cert = absl::StrCat(dir_, "/", file_name, ".crt");
  files.key = absl::StrCat(dir_, "/", file_name, ".key");
  if (!std::filesystem::exists(files.cert)) {
    std::vector<std::string> command = {kind, dir_};
    command.insert(command.end(), args.begin(), args.end());
    RunPki(command);
  }
  return files;
}

TlsFiles TestLab::Controller(const std::string& name) {
  return Issue("controller", {name, "IP:127.0.0.1", "DNS:localhost"}, "controller-" + name);
}

TlsFiles TestLab::Device(const std::string& id) { return Issue("device", {id}, "device-" + id); }

TlsFiles TestLab::Operator(const std::string& name) {
  return Issue("operator", {name}, "operator-" + name);
}

TlsFiles TestLab::CaOnly() const {
  TlsFiles files;
  files.ca = ca();
  files.refresh = absl::Seconds(1);
  return files;
}

TlsFiles TestLab::Expired(SpiffeId::Kind kind, const std::string& name) {
  const std::string base = absl::StrCat(dir_, "/expired-", KindName(kind), "-", name);
  TlsFiles files = CaOnly();
  files.cert = base + ".crt";
  files.key = base + ".key";
  EVP_PKEY* ca_key = ReadPemFile<EVP_PKEY>(dir_ + "/ca.key", PEM_read_PrivateKey);
  X509* ca_cert = ReadPemFile<X509>(ca(), PEM_read_X509);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  EXPECT_TRUE(ca_key != nullptr && ca_cert != nullptr && key != nullptr && cert != nullptr);
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert), -2 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
  X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("expired"), -1, -1, 0);
  X509_set_pubkey(cert, key);
  X509V3_CTX context;
  X509V3_set_ctx(&context, ca_cert, cert, nullptr, nullptr, 0);
  const std::string san = absl::StrCat("URI:spiffe://", name_, "/", KindName(kind), "/", name);
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                   {NID_ext_key_usage, "serverAuth,clientAuth"},
                                   {NID_basic_constraints, "critical,CA:FALSE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  EXPECT_GT(X509_sign(cert, ca_key, EVP_sha256()), 0);
  const mode_t old_umask = umask(077);
  FILE* key_file = std::fopen(files.key.c_str(), "w");
  umask(old_umask);
  FILE* cert_file = std::fopen(files.cert.c_str(), "w");
  EXPECT_TRUE(key_file != nullptr && cert_file != nullptr);
  PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_X509(cert_file, cert);
  std::fclose(key_file);
  std::fclose(cert_file);
  X509_free(cert);
  EVP_PKEY_free(key);
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return files;
}

std::vector<std::string> TestLab::Flags(const TlsFiles& files) {
  std::vector<std::string> flags = {"--tls_ca", files.ca};
  if (!files.cert.empty()) {
    flags.insert(flags.end(), {"--tls_cert", files.cert, "--tls_key", files.key});
  }
  return flags;
}

std::string TestLab::Token(const std::string& name, const std::string& role) {
  const std::string path = absl::StrCat(dir_, "/token-", name);
  if (!std::filesystem::exists(path)) RunPki({"token", dir_, name, role});
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  return token;
}

std::vector<std::string> TestLab::ControllerFlags() {
  std::vector<std::string> flags = Flags(Controller("c1"));
  // The access file exists (with a viewer) so it can be given from the start.
  Token("test-viewer", "viewer");
  flags.insert(flags.end(), {"--access_file", access_file()});
  return flags;
}

std::vector<std::string> TestLab::FarmctlFlags(const std::string& token_name,
                                               const std::string& role) {
  Token(token_name, role);
  return {"--tls_ca", ca(), "--token_file", absl::StrCat(dir_, "/token-", token_name)};
}

std::shared_ptr<grpc::ChannelCredentials> TestLab::OperatorCredentials(const std::string& token) {
  PeerRule controller;
  controller.lab = name_;
  controller.kind = SpiffeId::Kind::kController;
  return grpc::CompositeChannelCredentials(MakeChannelCredentials(CaOnly(), controller),
                                           grpc::AccessTokenCredentials(token));
}

std::shared_ptr<grpc::ChannelCredentials> TestLab::ControllerToAgent(const std::string& id) {
  PeerRule device;
  device.lab = name_;
  device.kind = SpiffeId::Kind::kDevice;
  device.name = id;
  return MakeChannelCredentials(Controller("c1"), device);
}

}  // namespace kvmfarm::testing
