#include "controller/fleet/health_pings.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/fake_clock.h"
#include "common/testing/wait_for.h"
#include "controller/fleet/fleet.h"
#include "controller/fleet/testing/slow_agents.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::fleet {
namespace {

using ::kvmfarm::fleet::testing::SlowAgents;

class HealthPingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore();
    ASSERT_NE(store_, nullptr);
    fleet_ = std::make_unique<Fleet>(store_.get(), &clock_, FleetOptions());
  }

  // Inventory devices "<prefix>0".. at "<prefix>0:7420"..: no session, so pinged.
  void AddInventory(const std::string& prefix, int count) {
    farm::v1::Inventory inventory;
    for (int i = 0; i < count; ++i) {
      farm::v1::InventoryDevice* device = inventory.add_devices();
      device->set_device_id(absl::StrCat(prefix, i));
      device->set_agent_address(absl::StrCat(prefix, i, ":7420"));
    }
    ASSERT_TRUE(fleet_->AddInventory(inventory).ok());
  }

  farm::v1::OperationalState StateOf(const std::string& id) {
    return fleet_->Get(id)->state().operational();
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Fleet> fleet_;
  SlowAgents agents_;
};

TEST_F(HealthPingsTest, TwentySilentAgentsCostARoundOneDeadlineNotTwenty) {
  // Issue 15: pinged one after another, 20 agents that wait out a 1 s deadline took
  // 20 s, and the liveness check waited behind them.
  AddInventory("silent", 20);
  for (int i = 0; i < 20; ++i) agents_.Silent(absl::StrCat("silent", i, ":7420"), absl::Seconds(1));
  AddInventory("up", 1);
  agents_.Answers("up0:7420", absl::ZeroDuration());
  HealthPingOptions options;
  options.round_budget = absl::Seconds(30);  // the round ends when its pings do
  HealthPings pings(fleet_.get(), &agents_, options);

  const PingRound round = pings.Round();
  EXPECT_LT(round.took, absl::Seconds(3)) << "pings one after another would take 20 s";
  EXPECT_EQ(round.sent, 21);
  EXPECT_EQ(round.answered, 1);
  EXPECT_EQ(round.failed, 20);
  EXPECT_EQ(round.still_out, 0);
  EXPECT_GE(agents_.max_out(), 20);  // every silent one at once (the other answers at once)
  EXPECT_EQ(StateOf("up0"), farm::v1::OPERATIONAL_STATE_IDLE);
  EXPECT_EQ(StateOf("silent0"), farm::v1::OPERATIONAL_STATE_OFFLINE);
}

TEST_F(HealthPingsTest, BoundedConcurrencyAndARoundNeverOutlastsItsBudget) {
  AddInventory("silent", 40);
  for (int i = 0; i < 40; ++i) agents_.Silent(absl::StrCat("silent", i, ":7420"), absl::Seconds(2));
  HealthPingOptions options;
  options.max_concurrent = 4;
  options.round_budget = absl::Milliseconds(200);
  {
    HealthPings pings(fleet_.get(), &agents_, options);
    // 40 pings of 2 s, 4 at a time, would take 20 s: the round returns on budget.
    const PingRound first = pings.Round();
    EXPECT_LT(first.took, absl::Seconds(1));
    EXPECT_EQ(first.sent, 40);
    EXPECT_EQ(first.answered + first.failed, 0);
    EXPECT_EQ(first.still_out, 40);
    // The next round leaves out every device whose ping is still queued or out.
    const PingRound second = pings.Round();
    EXPECT_LT(second.took, absl::Seconds(1));
    EXPECT_EQ(second.sent, 0);
    EXPECT_EQ(second.skipped, 40);
    EXPECT_LE(agents_.max_out(), 4);
    // Destruction drops the queued pings and waits for the 4 out (< 2 s).
  }
  EXPECT_EQ(agents_.max_out(), 4);
  for (int i = 0; i < 40; ++i) EXPECT_LE(agents_.calls(absl::StrCat("silent", i, ":7420")), 1);
}

TEST_F(HealthPingsTest, AnAnswerAfterItsRoundStillCountsAndTheDeviceIsPingedAgainAnIntervalLater) {
  AddInventory("slow", 1);
  agents_.Answers("slow0:7420", absl::Milliseconds(500));
  HealthPingOptions options;
  options.round_budget = absl::Milliseconds(50);
  HealthPings pings(fleet_.get(), &agents_, options);
  const PingRound round = pings.Round();
  EXPECT_EQ(round.sent, 1);
  EXPECT_EQ(round.answered, 0);
  EXPECT_EQ(round.still_out, 1);
  ASSERT_TRUE(kvmfarm::testing::WaitFor(
      [&] { return StateOf("slow0") == farm::v1::OPERATIONAL_STATE_IDLE; }, absl::Seconds(10)));
  // Heard from just now, it isn't asked again within the heartbeat interval; then
  // the next round pings it again.
  EXPECT_EQ(pings.Round().sent, 0);
  clock_.Advance(FleetOptions().heartbeat_interval);
  ASSERT_TRUE(
      kvmfarm::testing::WaitFor([&] { return pings.Round().sent == 1; }, absl::Seconds(10)));
  EXPECT_TRUE(kvmfarm::testing::WaitFor([&] { return agents_.calls("slow0:7420") == 2; },
                                        absl::Seconds(10)));
}

}  // namespace
}  // namespace kvmfarm::fleet
