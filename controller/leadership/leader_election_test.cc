// Two replicas electing a leader over one real store (SQLite; the lease itself is
// proved on both backends by store_conformance_test), time on a fake clock.
#include "controller/leadership/leader_election.h"

#include <memory>
#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::leadership {
namespace {

using ::kvmfarm::testing::IsOk;

class LeaderElectionTest : public ::testing::Test {
 protected:
  LeaderElectionOptions Replica(const std::string& name) {
    LeaderElectionOptions options;
    options.replica = name;
    options.ttl = absl::Seconds(10);
    options.on_elected = [this, name](int64_t epoch) {
      events_.push_back(name + " elected " + std::to_string(epoch));
      return absl::OkStatus();
    };
    options.on_deposed = [this, name] { events_.push_back(name + " deposed"); };
    return options;
  }

  std::unique_ptr<store::SqliteStore> store_ = store::testing::OpenScratchStore();
  FakeClock clock_;
  std::vector<std::string> events_;
};

TEST_F(LeaderElectionTest, OneLeadsTheOtherTakesOverWhenItsLeaseRunsOut) {
  LeaderElection a(store_.get(), &clock_, Replica("a"));
  LeaderElection b(store_.get(), &clock_, Replica("b"));
  ASSERT_THAT(a.Step(), IsOk());
  ASSERT_THAT(b.Step(), IsOk());
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(b.Current().holder, "a");
  // a renews within its lease; b keeps following.
  clock_.Advance(absl::Seconds(4));
  ASSERT_THAT(a.Step(), IsOk());
  clock_.Advance(absl::Seconds(9));
  ASSERT_THAT(b.Step(), IsOk());
  EXPECT_FALSE(b.IsLeader());
  // a stops renewing (killed, or paused): b takes over with the next epoch.
  clock_.Advance(absl::Seconds(2));
  ASSERT_THAT(b.Step(), IsOk());
  EXPECT_TRUE(b.IsLeader());
  EXPECT_EQ(b.epoch(), 2);
  // a wakes up: it learns it was deposed, and its store writes nothing meanwhile.
  ASSERT_THAT(a.Step(), IsOk());
  EXPECT_FALSE(a.IsLeader());
  EXPECT_THAT(events_, ::testing::ElementsAre("a elected 1", "b elected 2", "a deposed"));
}

TEST_F(LeaderElectionTest, AResignedLeaseIsTakenAtOnce) {
  LeaderElection a(store_.get(), &clock_, Replica("a"));
  LeaderElection b(store_.get(), &clock_, Replica("b"));
  ASSERT_THAT(a.Step(), IsOk());
  a.Resign();
  EXPECT_FALSE(a.IsLeader());
  ASSERT_THAT(b.Step(), IsOk());
  EXPECT_TRUE(b.IsLeader());
}

TEST_F(LeaderElectionTest, AReplicaThatCannotTakeOverGivesTheLeaseUp) {
  LeaderElectionOptions failing = Replica("a");
  failing.on_elected = [](int64_t) { return absl::UnavailableError("the fleet did not load"); };
  LeaderElection a(store_.get(), &clock_, failing);
  LeaderElection b(store_.get(), &clock_, Replica("b"));
  EXPECT_FALSE(a.Step().ok());
  EXPECT_FALSE(a.IsLeader());
  ASSERT_THAT(b.Step(), IsOk());
  EXPECT_TRUE(b.IsLeader());
}

}  // namespace
}  // namespace kvmfarm::leadership
