// A real farm-controller and real farm-agent processes (fixture devices) on
// loopback: registration with derived labels, heartbeat loss -> offline, an
// operator's state change with its history, and a controller killed with SIGKILL
// and restarted keeping every device while the agents register again.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "common/tls/tls_credentials.h"
#include "controller/store/testing/postgres_server.h"
#include "farm/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::StatusIs;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;
using ::testing::Not;

std::string DbPath() { return kvmfarm::testing::FreshTestPath(".db"); }

using ::kvmfarm::testing::Concat;

// Controller and agents over mutual TLS with a throwaway lab's certificates; the
// test calls as an admin with a token.
class FleetIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(kvmfarm::testing::FreshTestDir("-lab"));
  }

  std::unique_ptr<ServerProcess> StartController(const std::string& db,
                                                 const std::vector<std::string>& more = {}) {
    return std::make_unique<ServerProcess>(
        Runfile("controller/farm-controller"), "farm-controller",
        Concat(Concat({"--db", db, "--heartbeat-interval=200ms"}, lab_->ControllerFlags()), more));
  }

  // A fixture's agent, with the certificate of its device id ("<fixture>-fixture"
  // unless `device_id` says otherwise).
  std::unique_ptr<ServerProcess> StartAgent(const std::string& fixture,
                                            const std::vector<std::string>& more,
                                            const std::string& device_id = "") {
    return std::make_unique<ServerProcess>(
        Runfile("agent/farm-agent"), "farm-agent",
        Concat(Concat({"--sysroot", Runfile("tests/fixtures/devices/" + fixture)},
                      lab_->AgentFlags(device_id.empty() ? fixture + "-fixture" : device_id)),
               more));
  }

  std::vector<farm::v1::Device> Devices(const farm::v1::Selector& selector = {}) {
    grpc::ClientContext context;
    farm::v1::ListDevicesRequest request;
    *request.mutable_selector() = selector;
    farm::v1::ListDevicesResponse response;
    EXPECT_TRUE(stub_->ListDevices(&context, request, &response).ok());
    return {response.devices().begin(), response.devices().end()};
  }

  // Bounded wait for a fleet condition (agents heartbeat every 200 ms).
  static bool WaitFor(const std::function<bool()>& condition) {
    return ::kvmfarm::testing::WaitFor(condition, absl::Seconds(30));
  }

  farm::v1::OperationalState StateOf(const std::string& id) {
    for (const farm::v1::Device& d : Devices()) {
      if (d.device_id() == id) return d.state().operational();
    }
    return farm::v1::OPERATIONAL_STATE_UNSPECIFIED;
  }

  void Connect(const std::string& address) {
    stub_ = farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(address, lab_->OperatorCredentials(lab_->Token("admin", "admin"))));
  }

  std::unique_ptr<TestLab> lab_;
  std::unique_ptr<farm::v1::ControllerService::Stub> stub_;
};

TEST_F(FleetIntegrationTest, AgentsRegisterGoOfflineAndSurviveAControllerRestart) {
  const std::string db = DbPath();
  std::unique_ptr<ServerProcess> controller = StartController(db);
  const std::string address = controller->WaitUntilListening();
  ASSERT_FALSE(address.empty());
  Connect(address);
  std::unique_ptr<ServerProcess> pixel = StartAgent("pixel8-stock", {"--controller", address});
  std::unique_ptr<ServerProcess> mtk = StartAgent("mtk-d9300-stock", {"--controller", address});
  ASSERT_TRUE(WaitFor([&] { return Devices().size() == 2; })) << controller->Log();

  // Derived labels select devices.
  farm::v1::Selector selector;
  farm::v1::LabelMatch* match = selector.add_match();
  match->set_key("hypervisor");
  match->add_values("geniezone");
  std::vector<farm::v1::Device> geniezone = Devices(selector);
  ASSERT_EQ(geniezone.size(), 1u);
  EXPECT_EQ(geniezone[0].device_id(), "mtk-d9300-stock-fixture");
  EXPECT_EQ(geniezone[0].capability().verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_EQ(geniezone[0].state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);

  // An agent that dies stops heartbeating: offline after three missed intervals.
  ASSERT_EQ(::kill(mtk->process().pid(), SIGKILL), 0);
  mtk->process().Wait();
  ASSERT_TRUE(WaitFor(
      [&] { return StateOf("mtk-d9300-stock-fixture") == farm::v1::OPERATIONAL_STATE_OFFLINE; }));
  EXPECT_EQ(StateOf("pixel8-stock-fixture"), farm::v1::OPERATIONAL_STATE_IDLE);

  // An operator puts the Pixel in maintenance; the history says so.
  {
    grpc::ClientContext context;
    farm::v1::SetDeviceStateRequest request;
    request.set_device_id("pixel8-stock-fixture");
    request.set_health(farm::v1::HEALTH_STATE_MAINTENANCE);
    request.set_reason("reflashing");
    farm::v1::SetDeviceStateResponse response;
    ASSERT_TRUE(stub_->SetDeviceState(&context, request, &response).ok());
    EXPECT_EQ(response.device().state().health(), farm::v1::HEALTH_STATE_MAINTENANCE);
  }

  // SIGKILL the controller and start it again on the same database (and port, so
  // the agents find it): the devices are still there and the agent registers again.
  ASSERT_EQ(::kill(controller->process().pid(), SIGKILL), 0);
  controller->process().Wait();
  controller = StartController(db, {"--listen", address});
  ASSERT_EQ(controller->WaitUntilListening(), address);
  Connect(address);
  EXPECT_EQ(Devices().size(), 2u);
  // Idle again once the agent's heartbeat is answered "register again" and it
  // has: the event lands in the history with the registration.
  std::string all;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    farm::v1::GetDeviceHistoryRequest history_request;
    history_request.set_device_id("pixel8-stock-fixture");
    farm::v1::GetDeviceHistoryResponse history;
    if (!stub_->GetDeviceHistory(&context, history_request, &history).ok()) return false;
    all.clear();
    for (const farm::v1::DeviceEvent& e : history.events())
      absl::StrAppend(&all, e.description(), "\n");
    return absl::StrContains(all, "registered again") &&
           StateOf("pixel8-stock-fixture") == farm::v1::OPERATIONAL_STATE_IDLE;
  })) << all
      << pixel->Log();
  EXPECT_EQ(StateOf("mtk-d9300-stock-fixture"), farm::v1::OPERATIONAL_STATE_OFFLINE);
  EXPECT_THAT(all, HasSubstr("health good -> maintenance by admin (token): reflashing"));
  // What happened was a controller restart, and the history says so.
  EXPECT_THAT(all, HasSubstr("first time since the controller started"));
  EXPECT_THAT(all, ::testing::Not(HasSubstr("agent restarted")));
  // Health set by the operator survives the restart and the re-registration.
  for (const farm::v1::Device& d : Devices()) {
    if (d.device_id() == "pixel8-stock-fixture") {
      EXPECT_EQ(d.state().health(), farm::v1::HEALTH_STATE_MAINTENANCE);
    }
  }
}

TEST_F(FleetIntegrationTest, InventoryAgentsAreHealthPinged) {
  // An agent that doesn't know the controller, listed in the inventory: the
  // controller pings it over mutual TLS, expecting that device's certificate.
  std::unique_ptr<ServerProcess> agent = StartAgent("sd835", {}, "oneplus5-bench");
  const std::string agent_address = agent->WaitUntilListening();
  ASSERT_FALSE(agent_address.empty());
  const std::string inventory = absl::StrCat(std::getenv("TEST_TMPDIR"), "/fleet.textproto");
  FILE* f = std::fopen(inventory.c_str(), "w");
  std::fprintf(f,
               "devices { device_id: \"oneplus5-bench\" agent_address: \"%s\"\n"
               "  labels { key: \"rack\" value: \"r7\" } }\n",
               agent_address.c_str());
  std::fclose(f);
  std::unique_ptr<ServerProcess> controller = StartController(DbPath(), {"--inventory", inventory});
  const std::string address = controller->WaitUntilListening();
  ASSERT_FALSE(address.empty());
  Connect(address);
  ASSERT_TRUE(WaitFor([&] {
    return StateOf("oneplus5-bench") == farm::v1::OPERATIONAL_STATE_IDLE;
  })) << controller->Log();
  farm::v1::Selector rack;
  rack.add_match()->set_key("rack");
  rack.mutable_match(0)->add_values("r7");
  EXPECT_EQ(Devices(rack).size(), 1u);
}

// The same controller on PostgreSQL (--db postgresql://...): agents register, the
// controller is killed, and its successor on the same database knows them.
TEST_F(FleetIntegrationTest, AControllerOnPostgresqlKeepsItsFleetAcrossAKill) {
  absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> postgres =
      store::testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
  ASSERT_THAT(postgres, IsOk());
  ASSERT_THAT((*postgres)->CreateDatabase("farm"), IsOk());
  const std::string db = (*postgres)->Uri("farm");
  std::unique_ptr<ServerProcess> controller = StartController(db);
  const std::string address = controller->WaitUntilListening();
  ASSERT_FALSE(address.empty());
  Connect(address);
  std::unique_ptr<ServerProcess> agent = StartAgent("sd835", {"--controller", address});
  ASSERT_TRUE(WaitFor([&] { return Devices().size() == 1; })) << controller->Log();
  ASSERT_EQ(::kill(controller->process().pid(), SIGKILL), 0);
  controller->process().Wait();
  controller = StartController(db, {"--listen", address});
  ASSERT_EQ(controller->WaitUntilListening(), address);
  Connect(address);
  const std::vector<farm::v1::Device> devices = Devices();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].device_id(), "sd835-fixture");
  EXPECT_EQ(devices[0].capability().verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
  // A URI with a password is refused before anything starts.
  const ProcessResult refused = testing::RunBinary(
      Runfile("controller/farm-controller"),
      Concat({"--db", "postgresql://kvmfarm:s3cret@db1.lab/farm"}, lab_->ControllerFlags()));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.stderr_data, HasSubstr("PGPASSFILE"));
  EXPECT_THAT(refused.stderr_data, Not(HasSubstr("s3cret")));
}

// A lab rotates the controller's certificate by replacing its files: new
// connections get the new one, with no restart.
TEST_F(FleetIntegrationTest, TheControllersCertificateIsRotatedWithoutARestart) {
  const std::string served = kvmfarm::testing::FreshTestDir("-served");
  const TlsFiles first = lab_->Controller("c1");
  const TlsFiles second = lab_->Controller("c2");
  const auto install = [&](const TlsFiles& files) {
    for (const auto& [from, to] : {std::pair{files.cert, served + "/controller.crt"},
                                   {files.key, served + "/controller.key"}}) {
      std::filesystem::copy_file(from, to + ".new");
      std::filesystem::permissions(
          to + ".new", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      std::filesystem::rename(to + ".new", to);
    }
  };
  install(first);
  const std::string token = lab_->Token("admin", "admin");
  ServerProcess controller(Runfile("controller/farm-controller"), "farm-controller",
                           {"--db", DbPath(), "--tls_ca", lab_->ca(), "--tls_cert",
                            served + "/controller.crt", "--tls_key", served + "/controller.key",
                            "--tls_refresh=1s", "--access_file", lab_->access_file()});
  const std::string address = controller.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  // ListDevices over a new connection that accepts controller `name` only. The
  // credentials are made once per name: each holds a file watcher with its own
  // thread, and gRPC 1.51 is best not asked to start and stop dozens of them.
  std::map<std::string, std::shared_ptr<grpc::ChannelCredentials>> as;
  for (const char* name : {"c1", "c2"}) {
    PeerRule rule;
    rule.lab = lab_->name();
    rule.kind = SpiffeId::Kind::kController;
    rule.name = name;
    as[name] = grpc::CompositeChannelCredentials(MakeChannelCredentials(lab_->CaOnly(), rule),
                                                 grpc::AccessTokenCredentials(token));
  }
  const auto answers_as = [&](const std::string& name) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto stub =
        farm::v1::ControllerService::NewStub(grpc::CreateCustomChannel(address, as[name], args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    farm::v1::ListDevicesResponse response;
    return stub->ListDevices(&context, farm::v1::ListDevicesRequest(), &response).ok();
  };
  EXPECT_TRUE(answers_as("c1"));
  EXPECT_FALSE(answers_as("c2"));
  install(second);
  EXPECT_TRUE(WaitFor([&] { return answers_as("c2"); })) << controller.Log();
  EXPECT_FALSE(answers_as("c1"));
  EXPECT_FALSE(controller.process().WaitFor(absl::ZeroDuration())) << "it exited";
}

// On a plaintext loopback controller (--insecure), where every caller may call.
TEST_F(FleetIntegrationTest, BadRequestsGetClearErrors) {
  ServerProcess controller(Runfile("controller/farm-controller"), "farm-controller",
                           {"--db", DbPath(), "--insecure"});
  const std::string address = controller.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  stub_ = farm::v1::ControllerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext c1;
  farm::v1::RegisterAgentResponse registered;
  EXPECT_THAT(
      FromGrpcStatus(stub_->RegisterAgent(&c1, farm::v1::RegisterAgentRequest(), &registered)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity.device_id")));
  grpc::ClientContext c2;
  farm::v1::SetDeviceStateRequest request;
  request.set_device_id("ghost");
  request.set_health(farm::v1::HEALTH_STATE_RETIRED);
  request.set_reason("gone");
  farm::v1::SetDeviceStateResponse response;
  EXPECT_THAT(FromGrpcStatus(stub_->SetDeviceState(&c2, request, &response)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ghost")));
  grpc::ClientContext c3;
  farm::v1::GetDeviceHistoryResponse history;
  farm::v1::GetDeviceHistoryRequest history_request;
  history_request.set_device_id("ghost");
  EXPECT_THAT(FromGrpcStatus(stub_->GetDeviceHistory(&c3, history_request, &history)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("device_id")));
}

TEST(FarmControllerCliTest, RefusesADatabaseThatIsNotKvmfarms) {
  const std::string db = absl::StrCat(std::getenv("TEST_TMPDIR"), "/notes.txt");
  FILE* f = std::fopen(db.c_str(), "w");
  std::fputs("not a database\n", f);
  std::fclose(f);
  const ProcessResult result =
      testing::RunBinary(Runfile("controller/farm-controller"), {"--db", db, "--insecure"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("not a SQLite database"));
}

TEST(FarmControllerCliTest, RefusesToServeWithoutTlsOrWithTheWrongCertificate) {
  const std::string db = kvmfarm::testing::FreshTestPath(".db");
  // Neither TLS nor --insecure: how to get certificates.
  ProcessResult result = testing::RunBinary(Runfile("controller/farm-controller"), {"--db", db});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("tools/pki/pki.sh"));
  // Plaintext off loopback.
  result = testing::RunBinary(Runfile("controller/farm-controller"),
                              {"--db", db, "--insecure", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("is not loopback"));
  // A device's certificate is not a controller's.
  TestLab lab(kvmfarm::testing::FreshTestDir("-lab"));
  result = testing::RunBinary(Runfile("controller/farm-controller"),
                              Concat({"--db", db}, TestLab::Flags(lab.Device("d1"))));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("needs a controller certificate"));
  // A key others can read.
  const TlsFiles controller = lab.Controller("c1");
  ASSERT_EQ(chmod(controller.key.c_str(), 0644), 0);
  result = testing::RunBinary(Runfile("controller/farm-controller"),
                              Concat({"--db", db}, TestLab::Flags(controller)));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("chmod 600"));
  EXPECT_THAT(result.stderr_data, Not(HasSubstr("PRIVATE KEY")));
}

}  // namespace
}  // namespace kvmfarm
