// Mutual TLS over real handshakes on loopback, with certificates from the real
// tools/pki/pki.sh (TestLab).
#include "common/tls/tls_credentials.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::FreshTestDir;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;

// Answers GetStatus with the caller's identity as the device id ("" for none).
class WhoAmI final : public farm::v1::AgentService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext* context, const farm::v1::GetStatusRequest*,
                         farm::v1::GetStatusResponse* response) override {
    std::optional<SpiffeId> peer = PeerIdentity(*context->auth_context());
    response->set_device_id(peer ? peer->ToString() : "");
    return grpc::Status::OK;
  }
};

class TlsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override { lab_ = std::make_unique<TestLab>(FreshTestDir("-lab")); }

  // A server with `files` as its identity.
  std::unique_ptr<GrpcServer> Serve(const TlsFiles& files, ClientCertificates mode,
                                    SpiffeId::Kind client_kind) {
    GrpcServerOptions options;
    options.services = {&service_};
    PeerRule rule;
    rule.lab = lab_->name();
    rule.kind = client_kind;
    options.credentials = MakeServerCredentials(files, mode, rule);
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    EXPECT_THAT(server, IsOk());
    return server.ok() ? *std::move(server) : nullptr;
  }

  // GetStatus over a fresh channel; the caller's identity as the server saw it.
  static absl::StatusOr<std::string> Call(const GrpcServer& server,
                                          std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a new connection every time
    auto stub = farm::v1::AgentService::NewStub(
        grpc::CreateCustomChannel(server.address(), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    farm::v1::GetStatusResponse response;
    const grpc::Status status = stub->GetStatus(&context, {}, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response.device_id();
  }

  PeerRule Rule(SpiffeId::Kind kind, std::optional<std::string> name = std::nullopt) const {
    PeerRule rule;
    rule.lab = lab_->name();
    rule.kind = kind;
    rule.name = std::move(name);
    return rule;
  }

  std::unique_ptr<TestLab> lab_;
  WhoAmI service_;
};

TEST_F(TlsCredentialsTest, MutualTlsNamesEachSideByItsSpiffeId) {
  std::unique_ptr<GrpcServer> agent =
      Serve(lab_->Device("d1"), ClientCertificates::kRequire, SpiffeId::Kind::kController);
  ASSERT_NE(agent, nullptr);
  EXPECT_THAT(Call(*agent, MakeChannelCredentials(lab_->Controller("c1"),
                                                  Rule(SpiffeId::Kind::kDevice, "d1"))),
              IsOkAndHolds(std::string("spiffe://testlab/controller/c1")));
}

TEST_F(TlsCredentialsTest, AServerRequiringCertificatesRefusesEveryOtherClientAtTheHandshake) {
  std::unique_ptr<GrpcServer> agent =
      Serve(lab_->Device("d1"), ClientCertificates::kRequire, SpiffeId::Kind::kController);
  ASSERT_NE(agent, nullptr);
  const PeerRule device = Rule(SpiffeId::Kind::kDevice, "d1");
  // No certificate, another device's, an operator's, an expired controller's.
  for (const TlsFiles& client : {lab_->CaOnly(), lab_->Device("d2"), lab_->Operator("alice"),
                                 lab_->Expired(SpiffeId::Kind::kController, "c1")}) {
    EXPECT_THAT(Call(*agent, MakeChannelCredentials(client, device)),
                StatusIs(absl::StatusCode::kUnavailable))
        << client.cert;
  }
  // A controller of another lab, trusting this lab's CA to be let in.
  TestLab other(FreshTestDir("-other"), "otherlab");
  TlsFiles impostor = other.Controller("c1");
  impostor.ca = lab_->ca();
  EXPECT_THAT(Call(*agent, MakeChannelCredentials(impostor, device)),
              StatusIs(absl::StatusCode::kUnavailable));
  // Plaintext.
  EXPECT_THAT(Call(*agent, grpc::InsecureChannelCredentials()),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsCredentialsTest, AClientAcceptsOnlyTheServerItExpects) {
  std::unique_ptr<GrpcServer> agent =
      Serve(lab_->Device("d1"), ClientCertificates::kRequest, SpiffeId::Kind::kController);
  ASSERT_NE(agent, nullptr);
  const TlsFiles controller = lab_->Controller("c1");
  EXPECT_THAT(Call(*agent, MakeChannelCredentials(controller, Rule(SpiffeId::Kind::kDevice, "d1"))),
              IsOk());
  // The address answers, but with another device's certificate.
  EXPECT_THAT(Call(*agent, MakeChannelCredentials(controller, Rule(SpiffeId::Kind::kDevice, "d2"))),
              StatusIs(absl::StatusCode::kUnavailable));
  // A server of another lab's CA.
  TestLab other(FreshTestDir("-other"), "otherlab");
  std::unique_ptr<GrpcServer> stranger =
      Serve(other.Device("d1"), ClientCertificates::kRequest, SpiffeId::Kind::kController);
  ASSERT_NE(stranger, nullptr);
  EXPECT_THAT(
      Call(*stranger, MakeChannelCredentials(controller, Rule(SpiffeId::Kind::kDevice, "d1"))),
      StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsCredentialsTest, RequestedCertificatesAreOptionalAndIdentifyWhenGiven) {
  std::unique_ptr<GrpcServer> controller =
      Serve(lab_->Controller("c1"), ClientCertificates::kRequest, SpiffeId::Kind::kOperator);
  ASSERT_NE(controller, nullptr);
  const PeerRule server = Rule(SpiffeId::Kind::kController);
  EXPECT_THAT(Call(*controller, MakeChannelCredentials(lab_->CaOnly(), server)),
              IsOkAndHolds(std::string("")));
  EXPECT_THAT(Call(*controller, MakeChannelCredentials(lab_->Operator("alice"), server)),
              IsOkAndHolds(std::string("spiffe://testlab/operator/alice")));
  EXPECT_THAT(Call(*controller,
                   MakeChannelCredentials(lab_->Expired(SpiffeId::Kind::kOperator, "bob"), server)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsCredentialsTest, ARotatedCertificateServesNewConnectionsWithoutARestart) {
  const TlsFiles first = lab_->Controller("c1");
  const TlsFiles second = lab_->Controller("c2");
  // The server's files are copies, which a lab replaces in place.
  const std::string dir = FreshTestDir("-served");
  TlsFiles served = first;
  served.cert = dir + "/controller.crt";
  served.key = dir + "/controller.key";
  std::filesystem::copy_file(first.cert, served.cert);
  std::filesystem::copy_file(first.key, served.key);
  std::unique_ptr<GrpcServer> controller =
      Serve(served, ClientCertificates::kRequest, SpiffeId::Kind::kOperator);
  ASSERT_NE(controller, nullptr);
  // Made once per name (each holds a file watcher thread), dialled many times.
  const std::shared_ptr<grpc::ChannelCredentials> c1 =
      MakeChannelCredentials(lab_->CaOnly(), Rule(SpiffeId::Kind::kController, "c1"));
  const std::shared_ptr<grpc::ChannelCredentials> c2 =
      MakeChannelCredentials(lab_->CaOnly(), Rule(SpiffeId::Kind::kController, "c2"));
  const auto as = [&](const std::string& name) { return name == "c1" ? c1 : c2; };
  EXPECT_THAT(Call(*controller, as("c1")), IsOk());
  EXPECT_THAT(Call(*controller, as("c2")), StatusIs(absl::StatusCode::kUnavailable));

  // Replaced as a lab would: each file renamed over the old one.
  for (const auto& [from, to] : {std::pair{second.cert, served.cert}, {second.key, served.key}}) {
    std::filesystem::copy_file(from, to + ".new");
    std::filesystem::rename(to + ".new", to);
  }
  EXPECT_TRUE(::kvmfarm::testing::WaitFor([&] { return Call(*controller, as("c2")).ok(); },
                                          absl::Seconds(30)));
  EXPECT_THAT(Call(*controller, as("c1")), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsCredentialsTest, CheckTlsFilesSaysWhatIsWrongWithEachFile) {
  const TlsFiles good = lab_->Device("d1");
  absl::StatusOr<std::optional<SpiffeId>> identity = CheckTlsFiles(good);
  ASSERT_THAT(identity, IsOk());
  ASSERT_TRUE(identity->has_value());
  EXPECT_EQ((*identity)->ToString(), "spiffe://testlab/device/d1");
  EXPECT_THAT(CheckTlsFiles(lab_->CaOnly()), IsOkAndHolds(std::optional<SpiffeId>()));

  TlsFiles missing = good;
  missing.ca = lab_->dir() + "/nope.crt";
  EXPECT_THAT(CheckTlsFiles(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.crt")));

  TlsFiles other_key = good;
  other_key.key = lab_->Device("d2").key;
  EXPECT_THAT(CheckTlsFiles(other_key),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not the certificate")));

  TestLab other(FreshTestDir("-other"), "otherlab");
  TlsFiles other_ca = good;
  other_ca.ca = other.ca();
  EXPECT_THAT(CheckTlsFiles(other_ca), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                HasSubstr("is not usable with the CA")));

  EXPECT_THAT(CheckTlsFiles(lab_->Expired(SpiffeId::Kind::kDevice, "d3")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired")));

  TlsFiles open_key = lab_->Device("d4");
  ASSERT_EQ(chmod(open_key.key.c_str(), 0644), 0);
  EXPECT_THAT(CheckTlsFiles(open_key), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                HasSubstr("readable by other users")));

  // A reproducible archive's mtime of 0 would make gRPC's watcher fail every
  // handshake without a word: said at start instead.
  TlsFiles epoch = lab_->Device("d5");
  const struct timespec times[2] = {{0, 0}, {0, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, epoch.cert.c_str(), times, 0), 0);
  EXPECT_THAT(CheckTlsFiles(epoch),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("modification time 0")));

  TlsFiles half = good;
  half.key.clear();
  EXPECT_THAT(CheckTlsFiles(half), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace kvmfarm
