// Who may call what, over real mutual TLS: every RPC the controller serves,
// called by every kind of caller, each answer checked against the one table
// (controller/auth/authorizer.h). The requests are empty: an allowed call gets past
// the check and fails or succeeds on its own merits, a refused one never gets there.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/testing/fake_clock.h"
#include "common/testing/grpc_raw.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/tls/testing/test_lab.h"
#include "common/tls/tls_credentials.h"
#include "controller/auth/authorizer.h"
#include "controller/controller_service.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/testing/scratch_store.h"
#include "farm/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::auth::Need;
using ::kvmfarm::testing::CallRawUnary;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;

// How a caller presents itself, and what it may do.
struct Identity {
  std::string name;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The needs it meets; empty with `handshake_fails`.
  std::vector<Need> allowed;
  // Refused before any RPC: the TLS handshake fails.
  bool handshake_fails = false;
  // Refused as nobody (UNAUTHENTICATED) rather than as someone without the role.
  bool anonymous = false;
};

class ControllerAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(testing::FreshTestDir("-lab"));
    store_ = store::testing::OpenScratchStore();
    fleet_ = std::make_unique<fleet::Fleet>(store_.get(), &clock_, fleet::FleetOptions());
    summaries_ = std::make_unique<store::SummaryCache>(store_.get());
    scheduler_ = std::make_unique<scheduler::Scheduler>(store_.get(), fleet_.get(), &agents_,
                                                        &clock_, scheduler::SchedulerOptions());
    viewer_ = lab_->Token("v", "viewer");
    operator_ = lab_->Token("o", "operator");
    admin_ = lab_->Token("a", "admin");
    // An operator certificate with a role, and one the access file doesn't grant.
    lab_->Operator("alice");
    lab_->Operator("mallory");
    {
      std::ofstream access(lab_->access_file(), std::ios::app);
      access << "certificate alice operator\n";
    }
    auth::Authorizer::Options options;
    options.lab = lab_->name();
    options.access_file = lab_->access_file();
    absl::StatusOr<std::unique_ptr<auth::Authorizer>> authorizer =
        auth::Authorizer::Create(options);
    ASSERT_TRUE(authorizer.ok()) << authorizer.status();
    authorizer_ = *std::move(authorizer);
    service_ = std::make_unique<ControllerServiceImpl>(fleet_.get(), store_.get(), scheduler_.get(),
                                                       summaries_.get(), authorizer_.get());
    GrpcServerOptions server;
    server.services = {service_.get()};
    server.authorize = authorizer_->ServerCheck();  // as farm-controller wires it
    PeerRule any_operator;
    any_operator.lab = lab_->name();
    any_operator.kind = SpiffeId::Kind::kOperator;
    server.credentials =
        MakeServerCredentials(lab_->Controller("c1"), ClientCertificates::kRequest, any_operator);
    absl::StatusOr<std::unique_ptr<GrpcServer>> started = GrpcServer::Start(server);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::ZeroDuration());
  }

  PeerRule ControllerRule() const {
    PeerRule rule;
    rule.lab = lab_->name();
    rule.kind = SpiffeId::Kind::kController;
    return rule;
  }

  std::shared_ptr<grpc::ChannelCredentials> WithCertificate(const TlsFiles& files) const {
    return MakeChannelCredentials(files, ControllerRule());
  }

  std::shared_ptr<grpc::Channel> Dial(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return grpc::CreateCustomChannel(server_->address(), credentials, args);
  }

  std::unique_ptr<TestLab> lab_;
  std::unique_ptr<store::SqliteStore> store_;
  FakeClock clock_;
  scheduler::FakeAgentClient agents_;
  std::unique_ptr<fleet::Fleet> fleet_;
  std::unique_ptr<store::SummaryCache> summaries_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<ControllerServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::string viewer_, operator_, admin_;
};

TEST_F(ControllerAccessTest, TheTableNamesEveryMethodTheControllerServes) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "farm.v1.ControllerService");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    EXPECT_TRUE(
        auth::ControllerAccessTable().count(auth::ControllerMethod(service->method(i)->name())))
        << service->method(i)->name() << " has no row: no one could call it";
  }
  EXPECT_EQ(auth::ControllerAccessTable().size(), service->method_count() + 2u);  // + reflection
}

TEST_F(ControllerAccessTest, EveryRpcAnswersEveryCallerAsTheTableSays) {
  TestLab other(testing::FreshTestDir("-other"), "otherlab");
  TlsFiles other_operator = other.Operator("alice");
  other_operator.ca = lab_->ca();  // trusts this lab's server; its own cert is foreign
  const std::vector<Need> viewer = {Need::kViewer};
  const std::vector<Need> operator_needs = {Need::kViewer, Need::kOperator};
  const std::vector<Need> admin = {Need::kViewer, Need::kOperator, Need::kAdmin};
  const std::vector<Identity> identities = {
      {"no identity", WithCertificate(lab_->CaOnly()), {}, false, true},
      {"viewer token", lab_->OperatorCredentials(viewer_), viewer},
      {"operator token", lab_->OperatorCredentials(operator_), operator_needs},
      {"admin token", lab_->OperatorCredentials(admin_), admin},
      {"unknown token", lab_->OperatorCredentials(std::string(64, 'f')), {}, false, true},
      {"operator certificate", WithCertificate(lab_->Operator("alice")), operator_needs},
      {"ungranted operator certificate", WithCertificate(lab_->Operator("mallory")), {}},
      {"agent certificate", WithCertificate(lab_->Device("d1")), {Need::kAgent}},
      {"certificate from another CA", WithCertificate(other_operator), {}, true},
      {"expired certificate",
       WithCertificate(lab_->Expired(SpiffeId::Kind::kOperator, "alice")),
       {},
       true},
      {"plaintext", grpc::InsecureChannelCredentials(), {}, true},
  };
  for (const Identity& identity : identities) {
    std::shared_ptr<grpc::Channel> channel = Dial(identity.credentials);
    for (const auto& [method, need] : auth::ControllerAccessTable()) {
      std::string response;
      const grpc::Status status = CallRawUnary(channel, method, "", &response);
      const std::string what = absl::StrCat(identity.name, " calling ", method, ": ",
                                            status.error_code(), " ", status.error_message());
      if (identity.handshake_fails) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << what;
      } else if (std::find(identity.allowed.begin(), identity.allowed.end(), need) !=
                 identity.allowed.end()) {
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
        EXPECT_NE(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << what;
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << what;
      } else if (identity.anonymous) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << what;
        EXPECT_THAT(status.error_message(), HasSubstr("role")) << what;
      }
    }
    // Load balancers probe health with no credentials beyond the TLS handshake.
    std::string health;
    const grpc::Status status = CallRawUnary(channel, "/grpc.health.v1.Health/Check", "", &health);
    if (identity.handshake_fails) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << identity.name;
    } else {
      EXPECT_TRUE(status.ok()) << identity.name << ": " << status.error_message();
      EXPECT_EQ(health, testing::kHealthServing) << identity.name;
    }
  }
}

// The dashboard's sessions keep the token's hash: it is checked as the token is.
TEST_F(ControllerAccessTest, ASessionsTokenHashHasTheTokensRole) {
  absl::StatusOr<auth::Caller> viewer =
      authorizer_->AuthorizeTokenHash(auth::TokenHash(viewer_), auth::Need::kViewer, "the fleet");
  ASSERT_TRUE(viewer.ok()) << viewer.status();
  EXPECT_EQ(viewer->name, "v");
  EXPECT_EQ(viewer->credential, "token");
  absl::StatusOr<auth::Caller> not_operator = authorizer_->AuthorizeTokenHash(
      auth::TokenHash(viewer_), auth::Need::kOperator, "starting a sweep");
  EXPECT_EQ(not_operator.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      authorizer_->AuthorizeTokenHash(auth::TokenHash(admin_), auth::Need::kAdmin, "device states")
          .ok());
  EXPECT_EQ(
      authorizer_
          ->AuthorizeTokenHash(auth::TokenHash("no such token"), auth::Need::kViewer, "the fleet")
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
  // The hash of an empty token is not a way in.
  EXPECT_EQ(authorizer_->AuthorizeTokenHash("", auth::Need::kViewer, "the fleet").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(ControllerAccessTest, AnAgentRegistersOnlyAsTheDeviceItsCertificateNames) {
  const auto register_as = [&](const std::string& cert_id, const std::string& claimed,
                               const std::string& address) {
    auto stub = farm::v1::ControllerService::NewStub(Dial(WithCertificate(lab_->Device(cert_id))));
    grpc::ClientContext context;
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(claimed);
    request.set_agent_address(address);
    farm::v1::RegisterAgentResponse response;
    return stub->RegisterAgent(&context, request, &response);
  };
  ASSERT_TRUE(register_as("d1", "d1", "127.0.0.1:17420").ok());
  // d2 claims to be d1, to have d1's tasks dispatched to its own address.
  const grpc::Status hijack = register_as("d2", "d1", "127.0.0.1:17999");
  EXPECT_EQ(hijack.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(hijack.error_message(), HasSubstr("device d2 tried to act as device d1"));
  // d1 is still where it was, and its history says who tried.
  absl::StatusOr<farm::v1::Device> d1 = fleet_->Get("d1");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->agent_address(), "127.0.0.1:17420");
  EXPECT_THAT(fleet_->DeviceAt("127.0.0.1:17999"), testing::StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      store_->DeviceHistory("d1", 10, std::nullopt);
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  EXPECT_THAT(history->front().event.description(), HasSubstr("RegisterAgent refused"));
  EXPECT_EQ(history->front().event.actor(), "device d2");
  // Nor may it heartbeat for d1.
  auto stub = farm::v1::ControllerService::NewStub(Dial(WithCertificate(lab_->Device("d2"))));
  grpc::ClientContext context;
  farm::v1::HeartbeatRequest heartbeat;
  heartbeat.set_device_id("d1");
  farm::v1::HeartbeatResponse response;
  EXPECT_EQ(stub->Heartbeat(&context, heartbeat, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace kvmfarm
