// -----------------------------------------------------------------------------
// File: tls/testing/test_lab.h
// -----------------------------------------------------------------------------
//
// A throwaway lab CA and its certificates for a test, made by the real
// tools/pki/pki.sh (so tests prove what a lab gets), plus what pki.sh rightly
// can't make: an expired certificate (OpenSSL 3.0's CLI cannot backdate one, so it
// is signed here with libcrypto).
//
// Example:
//
//   TestLab lab(FreshTestDir());
//   TlsFiles controller = lab.Controller("c1");
//   ServerProcess agent(..., Concat({"--device_id", "d1"}, lab.Flags(lab.Device("d1"))));
#ifndef KVMFARM_COMMON_TLS_TESTING_TEST_LAB_H_
#define KVMFARM_COMMON_TLS_TESTING_TEST_LAB_H_

#include <string>
#include <vector>

#include "common/tls/tls_credentials.h"

namespace kvmfarm::testing {

class TestLab {
 public:
  // Makes lab `name`'s CA in `dir` (a test failure if pki.sh fails).
  explicit TestLab(std::string dir, std::string name = "testlab");

  const std::string& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  std::string ca() const { return dir_ + "/ca.crt"; }

  // The files of a certificate, issued by pki.sh the first time it is asked for.
  // Each has the lab's CA as `ca` and a 1 s refresh.
  TlsFiles Controller(const std::string& name = "c1");
  TlsFiles Device(const std::string& id);
  TlsFiles Operator(const std::string& name);
  // The CA alone, for a client with no certificate.
  TlsFiles CaOnly() const;
  // A certificate of `kind` and `name` signed by this lab's CA whose validity ended
  // yesterday.
  TlsFiles Expired(SpiffeId::Kind kind, const std::string& name);

  // --tls_ca/--tls_cert/--tls_key for `files`, for a binary's command line.
  static std::vector<std::string> Flags(const TlsFiles& files);

  // A token granted `role` (viewer, operator, admin) in the lab's access file,
  // issued by pki.sh the first time `name` is asked for.
  std::string Token(const std::string& name, const std::string& role);
  std::string access_file() const { return dir_ + "/access"; }

  // farm-controller's flags: controller c1's certificate and the access file.
  std::vector<std::string> ControllerFlags();
  // farm-agent's flags as device `id` (its certificate names it).
  std::vector<std::string> AgentFlags(const std::string& id) { return Flags(Device(id)); }
  // farmctl's flags: the CA and the token file of `token_name` granted `role`.
  std::vector<std::string> FarmctlFlags(const std::string& token_name, const std::string& role);

  // A channel's credentials as an operator with `token`: TLS trusting the lab's CA
  // and accepting its controllers, the token on every call.
  std::shared_ptr<grpc::ChannelCredentials> OperatorCredentials(const std::string& token);
  // A channel's credentials as controller c1 dialing device `id`'s agent.
  std::shared_ptr<grpc::ChannelCredentials> ControllerToAgent(const std::string& id);

 private:
  TlsFiles Issue(const std::string& kind, const std::vector<std::string>& args,
                 const std::string& file_name);

  std::string dir_;
  std::string name_;
};

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TLS_TESTING_TEST_LAB_H_
