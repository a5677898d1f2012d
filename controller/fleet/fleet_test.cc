#include "controller/fleet/fleet.h"

#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/failing_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::fleet {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore(&path_);
    options_.heartbeat_interval = absl::Seconds(10);
    options_.on_quarantined = [this](const farm::v1::Device& d) {
      announced_quarantines_.push_back(d.device_id());
    };
    fleet_ = std::make_unique<Fleet>(store_.get(), &clock_, options_);
  }

  farm::v1::RegisterAgentRequest Registration(const std::string& id) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_identity()->set_model("Pixel 8");
    request.mutable_identity()->set_soc_vendor("google");
    request.mutable_identity()->set_cpu_arch_name("aarch64");
    request.mutable_identity()->set_android_release("14");
    request.mutable_capability()->set_verdict(farm::v1::VERDICT_KVM_NO_ACCESS);
    request.mutable_capability()->set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_PKVM);
    request.set_agent_address("127.0.0.1:7420");
    return request;
  }

  farm::v1::Selector Select(const std::string& key, const std::string& value) {
    farm::v1::Selector selector;
    farm::v1::LabelMatch* match = selector.add_match();
    match->set_key(key);
    match->add_values(value);
    return selector;
  }

  std::string path_;
  FakeClock clock_;
  FleetOptions options_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Fleet> fleet_;
  std::vector<std::string> announced_quarantines_;
};

TEST_F(FleetTest, RegistrationDerivesLabelsAndHeartbeatsKeepItOnline) {
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(Registration("p8"));
  ASSERT_THAT(registered, IsOk());
  EXPECT_EQ(registered->heartbeat_interval().seconds(), 10);
  absl::StatusOr<farm::v1::Device> device = fleet_->Get("p8");
  ASSERT_THAT(device, IsOk());
  EXPECT_EQ(device->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  EXPECT_EQ(device->state().health(), farm::v1::HEALTH_STATE_GOOD);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"model", "pixel8"},
                                                        {"soc_vendor", "google"},
                                                        {"arch", "aarch64"},
                                                        {"android", "14"},
                                                        {"hypervisor", "pkvm"},
                                                        {"verdict", "kvm_no_access"}}) {
    EXPECT_EQ(fleet_->List(Select(key, value)).size(), 1u) << key << "=" << value;
  }
  EXPECT_TRUE(fleet_->List(Select("model", "pixel7")).empty());

  farm::v1::HeartbeatRequest beat;
  beat.set_device_id("p8");
  beat.set_session_id(registered->session_id());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(10));
    absl::StatusOr<farm::v1::HeartbeatResponse> answer = fleet_->Heartbeat(beat);
    ASSERT_THAT(answer, IsOk());
    EXPECT_FALSE(answer->register_again());
    ASSERT_THAT(fleet_->CheckLiveness(), IsOk());
  }
  EXPECT_EQ(fleet_->Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
}

// The matrix's copy of a device keeps what it reads and leaves the evidence behind.
TEST_F(FleetTest, ABriefListKeepsTheVerdictAndIdentityButNotTheChecks) {
  farm::v1::RegisterAgentRequest request = Registration("p8");
  request.mutable_capability()->add_verdict_reasons("/dev/kvm is missing");
  request.mutable_capability()->set_recommendation("use a pKVM build");
  farm::v1::Check* check = request.mutable_capability()->add_checks();
  check->set_name("kvm_node");
  check->set_detail(std::string(4096, 'e'));
  ASSERT_THAT(fleet_->Register(request), IsOk());
  ASSERT_THAT(fleet_->Register(Registration("p9")), IsOk());
  const std::vector<farm::v1::Device> brief = fleet_->ListBrief(Select("model", "pixel8"));
  ASSERT_EQ(brief.size(), 2u);
  const farm::v1::Device& p8 = brief[0];
  EXPECT_EQ(p8.device_id(), "p8");
  EXPECT_EQ(p8.identity().model(), "Pixel 8");
  EXPECT_EQ(p8.capability().verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
  EXPECT_EQ(p8.capability().hypervisor_kind(), farm::v1::HYPERVISOR_KIND_PKVM);
  EXPECT_THAT(p8.capability().verdict_reasons(), ElementsAre("/dev/kvm is missing"));
  EXPECT_EQ(p8.capability().recommendation(), "use a pKVM build");
  EXPECT_EQ(p8.capability().checks_size(), 0);
  EXPECT_FALSE(p8.labels().empty());
  farm::v1::Selector one;
  one.add_device_ids("p9");
  EXPECT_EQ(fleet_->ListBrief(one).size(), 1u);
}

TEST_F(FleetTest, ThreeMissedHeartbeatsMeanOfflineAndAStaleSessionMustRegisterAgain) {
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(Registration("p8"));
  ASSERT_THAT(registered, IsOk());
  clock_.Advance(absl::Seconds(29));
  ASSERT_THAT(fleet_->CheckLiveness(), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  clock_.Advance(absl::Seconds(2));
  ASSERT_THAT(fleet_->CheckLiveness(), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  farm::v1::HeartbeatRequest beat;
  beat.set_device_id("p8");
  beat.set_session_id(registered->session_id());
  EXPECT_TRUE(fleet_->Heartbeat(beat)->register_again());
  // Re-registration is idempotent: same device, online again.
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_EQ(fleet_->List(farm::v1::Selector()).size(), 1u);
  EXPECT_EQ(fleet_->Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      store_->DeviceHistory("p8", 10, std::nullopt);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_THAT((*history)[1].event.description(), HasSubstr("offline: no heartbeat for 30s"));
  EXPECT_THAT((*history)[0].event.description(),
              HasSubstr("registered again from 127.0.0.1:7420 after being offline"));
  // A second registration while the session is live: the agent restarted.
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_THAT((*store_->DeviceHistory("p8", 1, std::nullopt))[0].event.description(),
              HasSubstr("the agent restarted"));
}

TEST_F(FleetTest, OperatorLabelsWinOverAgentLabels) {
  farm::v1::Inventory inventory;
  farm::v1::InventoryDevice* entry = inventory.add_devices();
  entry->set_device_id("p8");
  entry->set_agent_address("10.0.0.8:7420");
  (*entry->mutable_labels())["model"] = "pixel8-pro-lab";
  (*entry->mutable_labels())["rack"] = "r2";
  ASSERT_THAT(fleet_->AddInventory(inventory), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_EQ(fleet_->List(Select("model", "pixel8-pro-lab")).size(), 1u);
  EXPECT_TRUE(fleet_->List(Select("model", "pixel8")).empty());
  EXPECT_EQ(fleet_->List(Select("rack", "r2")).size(), 1u);
  EXPECT_EQ(fleet_->List(Select("verdict", "kvm_no_access")).size(), 1u);
}

TEST_F(FleetTest, InventoryDevicesComeOnlineThroughHealthPings) {
  farm::v1::Inventory inventory;
  farm::v1::InventoryDevice* entry = inventory.add_devices();
  entry->set_device_id("bench-3");
  entry->set_agent_address("192.0.2.3:7420");
  ASSERT_THAT(fleet_->AddInventory(inventory), IsOk());
  ASSERT_EQ(fleet_->ToPing().size(), 1u);
  ASSERT_THAT(fleet_->Seen("bench-3"), IsOk());
  absl::StatusOr<farm::v1::Device> device = fleet_->Get("bench-3");
  EXPECT_EQ(device->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  EXPECT_EQ(device->state().health(), farm::v1::HEALTH_STATE_GOOD);
  // Pings stop answering: offline after three intervals, like missed heartbeats.
  clock_.Advance(absl::Seconds(31));
  ASSERT_THAT(fleet_->CheckLiveness(), IsOk());
  EXPECT_EQ(fleet_->Get("bench-3")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  // A registered agent heartbeats instead of being pinged.
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_EQ(fleet_->ToPing().size(), 1u);
}

TEST_F(FleetTest, QuarantineAfterRepeatedFailuresButNeverMostOfTheFleet) {
  for (int i = 0; i < 8; ++i)
    ASSERT_THAT(fleet_->Register(Registration(absl::StrCat("d", i))), IsOk());
  // A lab-wide fault: every device fails three times.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 8; ++i) {
      ASSERT_THAT(fleet_->RecordFailure(absl::StrCat("d", i), "connection refused"), IsOk());
    }
  }
  int quarantined = 0;
  for (const farm::v1::Device& d : fleet_->List(farm::v1::Selector())) {
    if (d.state().health() == farm::v1::HEALTH_STATE_QUARANTINED) ++quarantined;
  }
  EXPECT_EQ(quarantined, 2);            // 25 % of 8
  EXPECT_EQ(fleet_->quarantines(), 2);  // counted for /metrics
  EXPECT_EQ(announced_quarantines_, (std::vector<std::string>{"d0", "d1"}));  // the webhook's
  EXPECT_THAT(fleet_->Get("d0")->state().reason(),
              HasSubstr("3 consecutive infrastructure failures"));
  // A success resets the count; an operator clears quarantine.
  ASSERT_THAT(fleet_->RecordSuccess("d7"), IsOk());
  EXPECT_EQ(fleet_->Get("d7")->consecutive_failures(), 0u);
  absl::StatusOr<farm::v1::Device> cleared =
      fleet_->SetHealth("d0", farm::v1::HEALTH_STATE_GOOD, "cable replaced");
  ASSERT_THAT(cleared, IsOk());
  EXPECT_EQ(cleared->state().health(), farm::v1::HEALTH_STATE_GOOD);
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      store_->DeviceHistory("d0", 1, std::nullopt);
  EXPECT_THAT((*history)[0].event.description(),
              HasSubstr("health quarantined -> good by operator: cable replaced"));
}

// The newest event of `device`'s history.
std::string LastEvent(store::Store& store, const std::string& device) {
  absl::StatusOr<std::vector<store::StoredDeviceEvent>> history =
      store.DeviceHistory(device, 1, std::nullopt);
  return history.ok() && !history->empty() ? (*history)[0].event.description() : "";
}

TEST_F(FleetTest, AnAbsenceOrANewAgentVersionMakesAHealthCheckDue) {
  farm::v1::RegisterAgentRequest request = Registration("p8");
  request.mutable_agent()->set_version("0.3.0");
  ASSERT_THAT(fleet_->Register(request), IsOk());
  // Back within the hour: nothing due.
  clock_.Advance(absl::Minutes(30));
  ASSERT_THAT(fleet_->Register(request), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->health_check_due(), "");
  // Unheard for two hours while this controller ran.
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(fleet_->Register(request), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->health_check_due(), "registered after 2h unheard");
  EXPECT_THAT(LastEvent(*store_, "p8"), HasSubstr("health check due: registered after 2h unheard"));
  ASSERT_THAT(fleet_->ClearHealthCheckDue("p8", "registered after 1h unheard", "started s-6"),
              IsOk());  // not the reason due now: stays due
  EXPECT_EQ(fleet_->Get("p8")->health_check_due(), "registered after 2h unheard");
  ASSERT_THAT(fleet_->ClearHealthCheckDue("p8", "registered after 2h unheard", "started sweep-7"),
              IsOk());
  EXPECT_EQ(fleet_->Get("p8")->health_check_due(), "");
  EXPECT_EQ(LastEvent(*store_, "p8"),
            "health check due (registered after 2h unheard): started sweep-7");
  // An upgraded agent.
  request.mutable_agent()->set_version("0.4.0");
  ASSERT_THAT(fleet_->Register(request), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->health_check_due(), "agent 0.3.0 -> 0.4.0");
}

TEST_F(FleetTest, AControllerJustStartedDoesNotTakeItsOwnDowntimeForAnAbsence) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  clock_.Advance(absl::Hours(5));  // the controller was down, then restarts
  Fleet restarted(store_.get(), &clock_, options_);
  ASSERT_THAT(restarted.Load(), IsOk());
  ASSERT_THAT(restarted.Register(Registration("p8")), IsOk());
  EXPECT_EQ(restarted.Get("p8")->health_check_due(), "");
}

TEST_F(FleetTest, AnAgentOlderThanTheControllerSupportsIsRefusedWithAReason) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  options_.min_agent_api_version = 2;
  Fleet strict(store_.get(), &clock_, options_);
  ASSERT_THAT(strict.Load(), IsOk());
  farm::v1::RegisterAgentRequest old = Registration("p8");
  old.mutable_agent()->set_version("0.3.0");
  old.mutable_agent()->set_api_version(1);
  EXPECT_THAT(strict.Register(old),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("farm-agent 0.3.0 speaks agent API 1; this controller needs API 2 "
                                 "or newer: upgrade the agent")));
  EXPECT_THAT(LastEvent(*store_, "p8"), HasSubstr("registration refused: farm-agent 0.3.0"));
  // Its registrar retries: the history keeps one refusal per version, not one per try.
  const size_t events = store_->DeviceHistory("p8", 100, std::nullopt)->size();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(strict.Register(old).ok());
  EXPECT_EQ(store_->DeviceHistory("p8", 100, std::nullopt)->size(), events);
  old.mutable_agent()->set_api_version(2);
  EXPECT_THAT(strict.Register(old), IsOk());
}

TEST_F(FleetTest, APassingHealthCheckLiftsAQuarantine) {
  for (int i = 0; i < 4; ++i)
    ASSERT_THAT(fleet_->Register(Registration(absl::StrCat("d", i))), IsOk());
  for (int round = 0; round < 3; ++round)
    ASSERT_THAT(fleet_->RecordFailure("d0", "connection refused"), IsOk());
  ASSERT_EQ(fleet_->Get("d0")->state().health(), farm::v1::HEALTH_STATE_QUARANTINED);
  ASSERT_THAT(fleet_->HealthCheckFailed("d0", "s1", "failed after 3 attempts"), IsOk());
  EXPECT_THAT(LastEvent(*store_, "d0"), HasSubstr("health check failed (sweep s1)"));
  ASSERT_THAT(fleet_->HealthCheckPassed("d0", "s2"), IsOk());
  const farm::v1::Device d0 = *fleet_->Get("d0");
  EXPECT_EQ(d0.state().health(), farm::v1::HEALTH_STATE_GOOD);
  EXPECT_EQ(d0.consecutive_failures(), 0u);
  EXPECT_THAT(LastEvent(*store_, "d0"),
              HasSubstr("health check passed (sweep s2); health quarantined -> good"));
  // On a healthy device a pass is an event, nothing more.
  ASSERT_THAT(fleet_->HealthCheckPassed("d1", "s2"), IsOk());
  EXPECT_EQ(LastEvent(*store_, "d1"), "health check passed (sweep s2)");
}

TEST_F(FleetTest, AReservationIsHeldByOneOperatorUntilItEndsOrIsReleased) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_THAT(fleet_->Reserve("p8", "alice", absl::Hours(2), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_THAT(fleet_->Reserve("p8", "alice", absl::Hours(24 * 8), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duration")));
  absl::StatusOr<farm::v1::Device> held =
      fleet_->Reserve("p8", "alice", absl::Hours(2), "bisecting a kernel");
  ASSERT_THAT(held, IsOk());
  EXPECT_TRUE(Reserved(*held, clock_.Now()));
  EXPECT_EQ(held->reservation().holder(), "alice");
  EXPECT_THAT(LastEvent(*store_, "p8"), HasSubstr("reserved by alice for 2h: bisecting a kernel"));
  EXPECT_THAT(fleet_->Reserve("p8", "bob", absl::Hours(1), "mine"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("reserved by alice")));
  EXPECT_THAT(fleet_->Reserve("p8", "alice", absl::Hours(3), "longer"), IsOk());  // extended
  ASSERT_THAT(fleet_->Release("p8", "bob"), IsOk());
  EXPECT_FALSE(Reserved(*fleet_->Get("p8"), clock_.Now()));
  EXPECT_THAT(LastEvent(*store_, "p8"), HasSubstr("reservation of alice released by bob"));
  EXPECT_THAT(fleet_->Release("p8", "bob"), StatusIs(absl::StatusCode::kFailedPrecondition));
  // One that ran out holds nothing.
  ASSERT_THAT(fleet_->Reserve("p8", "carol", absl::Minutes(5), "quick look"), IsOk());
  clock_.Advance(absl::Minutes(6));
  EXPECT_FALSE(Reserved(*fleet_->Get("p8"), clock_.Now()));
  EXPECT_THAT(fleet_->Reserve("p8", "bob", absl::Hours(1), "mine now"), IsOk());
}

TEST_F(FleetTest, ACapabilityResultReplacesTheReportAndItsLabels) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  farm::v1::KvmCapability checked;
  checked.set_verdict(farm::v1::VERDICT_KVM_BOOT_FAILED);
  checked.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_PVM);
  checked.mutable_device()->set_device_id("agent-says-something-else");
  checked.mutable_device()->set_model("Pixel 8");
  ASSERT_THAT(fleet_->UpdateCapability("p8", checked), IsOk());
  EXPECT_EQ(fleet_->Get("p8")->capability().verdict(), farm::v1::VERDICT_KVM_BOOT_FAILED);
  EXPECT_EQ(fleet_->Get("p8")->identity().device_id(), "p8");
  EXPECT_EQ(fleet_->List(Select("verdict", "kvm_boot_failed")).size(), 1u);
  EXPECT_TRUE(fleet_->List(Select("verdict", "kvm_no_access")).empty());
  EXPECT_THAT((*store_->DeviceHistory("p8", 1, std::nullopt))[0].event.description(),
              HasSubstr("VERDICT_KVM_NO_ACCESS -> VERDICT_KVM_BOOT_FAILED"));
}

TEST_F(FleetTest, BadRequestsNameTheField) {
  farm::v1::RegisterAgentRequest request = Registration("");
  EXPECT_THAT(fleet_->Register(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity.device_id")));
  request = Registration("p8");
  request.clear_agent_address();
  EXPECT_THAT(fleet_->Register(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agent_address")));
  EXPECT_THAT(fleet_->SetHealth("nope", farm::v1::HEALTH_STATE_RETIRED, "x"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_THAT(fleet_->SetHealth("p8", farm::v1::HEALTH_STATE_QUARANTINED, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("health")));
  EXPECT_THAT(fleet_->SetHealth("p8", farm::v1::HEALTH_STATE_RETIRED, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  // An address the controller should not dial: a gRPC scheme, no port, a path.
  for (const char* address : {"unix:/run/evil.sock", "10.0.0.7", "evil/x:80"}) {
    farm::v1::RegisterAgentRequest evil = Registration("p9");
    evil.set_agent_address(address);
    EXPECT_THAT(fleet_->Register(evil),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agent_address")))
        << address;
  }
  EXPECT_FALSE(fleet_->Get("p9").ok());
  // A device id outside the rule (it would name files, labels and certificates).
  for (const char* id : {"../etc", "a b", "-x"}) {
    EXPECT_THAT(fleet_->Register(Registration(id)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity.device_id")))
        << id;
  }
}

TEST_F(FleetTest, AChangeTheDatabaseRefusesIsNeitherInMemoryNorHalfStored) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  store::testing::FailingStore failing(store_.get());
  Fleet fleet(&failing, &clock_, options_);
  ASSERT_THAT(fleet.Load(), IsOk());
  ASSERT_THAT(fleet.Register(Registration("p8")), IsOk());
  const size_t events = store_->DeviceHistory("p8", 100, std::nullopt)->size();
  failing.Fail({"PutDevice"});
  EXPECT_THAT(fleet.SetHealth("p8", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(fleet.Get("p8")->state().health(), farm::v1::HEALTH_STATE_GOOD);
  EXPECT_EQ(store_->GetDevice("p8")->state().health(), farm::v1::HEALTH_STATE_GOOD);
  EXPECT_EQ(store_->DeviceHistory("p8", 100, std::nullopt)->size(), events);
}

TEST_F(FleetTest, OneDeviceTheDatabaseRefusesDoesNotKeepTheOthersOnline) {
  store::testing::FailingStore failing(store_.get());
  Fleet fleet(&failing, &clock_, options_);
  for (const char* id : {"a", "b", "c"}) ASSERT_THAT(fleet.Register(Registration(id)), IsOk());
  clock_.Advance(absl::Seconds(31));
  failing.FailFor({"a"});
  EXPECT_THAT(fleet.CheckLiveness(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(fleet.Get("a")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  EXPECT_EQ(fleet.Get("b")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  EXPECT_EQ(fleet.Get("c")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  failing.FailFor({});
  ASSERT_THAT(fleet.CheckLiveness(), IsOk());
  EXPECT_EQ(fleet.Get("a")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
}

TEST_F(FleetTest, ARestartedControllerReloadsDevicesAsOffline) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  ASSERT_THAT(fleet_->SetHealth("p8", farm::v1::HEALTH_STATE_MAINTENANCE, "firmware update"),
              IsOk());
  fleet_.reset();
  store_.reset();
  store_ = *store::SqliteStore::Open(path_);
  Fleet reloaded(store_.get(), &clock_, options_);
  ASSERT_THAT(reloaded.Load(), IsOk());
  absl::StatusOr<farm::v1::Device> device = reloaded.Get("p8");
  ASSERT_THAT(device, IsOk());
  EXPECT_EQ(device->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  EXPECT_EQ(device->state().health(), farm::v1::HEALTH_STATE_MAINTENANCE);
  EXPECT_EQ(device->identity().model(), "Pixel 8");

  // The agent answers a health ping first (online again), then registers: the
  // history says the controller restarted, not the agent.
  ASSERT_THAT(reloaded.Seen("p8"), IsOk());
  ASSERT_THAT(reloaded.Register(Registration("p8")), IsOk());
  const std::string registered =
      (*store_->DeviceHistory("p8", 1, std::nullopt))[0].event.description();
  EXPECT_THAT(registered, HasSubstr("first time since the controller started"));
  EXPECT_THAT(registered, Not(HasSubstr("agent restarted")));
}

// Two replicas on one database (issue 18): `fleet_` is replica "a", where the agent
// registers and heartbeats; `other` is replica "b".
class SharedFleetTest : public FleetTest {
 protected:
  absl::Status HeartbeatToA(const std::string& id, const std::string& session) {
    farm::v1::HeartbeatRequest beat;
    beat.set_device_id(id);
    beat.set_session_id(session);
    return fleet_->Heartbeat(beat).status();
  }
};

TEST_F(SharedFleetTest, HeartbeatsAnotherReplicaReceivedKeepADeviceOnline) {
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(Registration("p8"));
  ASSERT_THAT(registered, IsOk());
  ASSERT_THAT(fleet_->FlushHeartbeats("a"), IsOk());
  // b, elected now, knows p8 is online without waiting for it.
  Fleet other(store_.get(), &clock_, options_);
  ASSERT_THAT(other.Load(), IsOk());
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(10));
    ASSERT_THAT(HeartbeatToA("p8", registered->session_id()), IsOk());
    ASSERT_THAT(fleet_->FlushHeartbeats("a"), IsOk());
    ASSERT_THAT(other.CheckLiveness(), IsOk());
    EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE) << i;
  }
  EXPECT_EQ(FromProtoTimestamp(other.Get("p8")->last_seen()), clock_.Now());
  EXPECT_THAT(other.ToPing(), ::testing::IsEmpty());  // heard from, via a
  // The heartbeats stop: b's check takes it offline after three intervals.
  clock_.Advance(absl::Seconds(31));
  ASSERT_THAT(other.CheckLiveness(), IsOk());
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  EXPECT_EQ(store_->GetDevice("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
}

TEST_F(SharedFleetTest, ADeviceHeldOfflineIsOnlineAgainWhenAnotherReplicaHearsIt) {
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(Registration("p8"));
  ASSERT_THAT(registered, IsOk());
  Fleet other(store_.get(), &clock_, options_);
  ASSERT_THAT(other.Load(), IsOk());  // nothing flushed yet: offline here
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_OFFLINE);
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(HeartbeatToA("p8", registered->session_id()), IsOk());
  ASSERT_THAT(fleet_->FlushHeartbeats("a"), IsOk());
  ASSERT_THAT(other.MergeHeartbeats(), IsOk());
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_IDLE);
}

TEST_F(SharedFleetTest, AFailedFlushIsWrittenWithTheNextOne) {
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  store::testing::FailingStore failing(store_.get());
  Fleet fleet(&failing, &clock_, options_);
  ASSERT_THAT(fleet.Register(Registration("p9")), IsOk());
  failing.Fail({"RecordHeartbeats"});
  EXPECT_THAT(fleet.FlushHeartbeats("a"), Not(IsOk()));
  failing.Fail({});
  ASSERT_THAT(fleet.FlushHeartbeats("a"), IsOk());
  absl::StatusOr<std::vector<store::StoredHeartbeat>> stored = store_->HeartbeatsSince(0);
  ASSERT_THAT(stored, IsOk());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].device_id, "p9");
}

TEST_F(SharedFleetTest, RefreshTakesAnotherReplicasWriteAndKeepsWhatOnlyMemoryKnows) {
  Fleet other(store_.get(), &clock_, options_);
  ASSERT_THAT(other.Load(), IsOk());
  ASSERT_THAT(fleet_->Register(Registration("p8")), IsOk());
  EXPECT_THAT(other.Get("p8"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(other.Refresh({"p8", "ghost"}), IsOk());
  ASSERT_THAT(other.Get("p8"), IsOk());
  ASSERT_THAT(other.SetBusy("p8", true), IsOk());
  ASSERT_THAT(fleet_->SetHealth("p8", farm::v1::HEALTH_STATE_MAINTENANCE, "reflash"), IsOk());
  ASSERT_THAT(other.Refresh({"p8"}), IsOk());
  EXPECT_EQ(other.Get("p8")->state().health(), farm::v1::HEALTH_STATE_MAINTENANCE);
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_BUSY);
  ASSERT_THAT(fleet_->Register(Registration("p9")), IsOk());
  ASSERT_THAT(other.RefreshAll(), IsOk());
  EXPECT_EQ(other.List({}).size(), 2u);
  // A burst (more than 64 at once) is read in one go.
  std::vector<std::string> burst = {"p10"};
  for (int i = 0; i < 70; ++i) burst.push_back(absl::StrCat("not-yet-", i));
  ASSERT_THAT(fleet_->Register(Registration("p10")), IsOk());
  ASSERT_THAT(other.Refresh(burst), IsOk());
  EXPECT_THAT(other.Get("p10"), IsOk());
  EXPECT_EQ(other.Get("p8")->state().operational(), farm::v1::OPERATIONAL_STATE_BUSY);
}

// An x86 server's CPU model is its soc label (the probe sets it where there is no
// SoC), without spaces, as the model label is.
TEST(DerivedLabelsTest, AServersCpuModelAndDmiModelAreItsSocAndModel) {
  farm::v1::DeviceIdentity identity;
  identity.set_cpu_arch_name("x86_64");
  identity.set_soc_vendor("intel");
  identity.set_soc_model("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
  identity.set_model("PowerEdge R650");
  std::map<std::string, std::string> labels;
  for (const farm::v1::Label& label : DerivedLabels(identity, farm::v1::KvmCapability())) {
    labels[label.key()] = label.value();
  }
  EXPECT_EQ(labels["soc"], "intel(r)xeon(r)gold6338cpu@2.00ghz");
  EXPECT_EQ(labels["model"], "poweredger650");
  EXPECT_EQ(labels["soc_vendor"], "intel");
}

}  // namespace
}  // namespace kvmfarm::fleet
