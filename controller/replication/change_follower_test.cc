#include "controller/replication/change_follower.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::replication {
namespace {

using ::kvmfarm::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ChangeFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenScratchStore(&path_);
    ChangeHandlers handlers;
    handlers.devices = [this](const std::vector<std::string>& ids) {
      if (!fail_.ok()) return fail_;
      absl::MutexLock lock(&mu_);
      for (const std::string& id : ids) devices_.push_back(id);
      return absl::OkStatus();
    };
    handlers.summaries = [this](const std::vector<std::string>& ids) {
      absl::MutexLock lock(&mu_);
      for (const std::string& id : ids) summaries_.push_back(id);
      return absl::OkStatus();
    };
    handlers.sweeps = [this](const std::vector<store::StoredChange>& changes) {
      absl::MutexLock lock(&mu_);
      for (const store::StoredChange& c : changes) sweeps_.push_back(c.kind + ":" + c.id);
      return absl::OkStatus();
    };
    handlers.lost_track = [this] {
      ++reloads_;
      return absl::OkStatus();
    };
    follower_ = std::make_unique<ChangeFollower>(store_.get(), &clock_, handlers);
    ASSERT_THAT(follower_->Start(), IsOk());
  }

  absl::Status PutDevice(const std::string& id) {
    farm::v1::Device device;
    device.set_device_id(id);
    return store_->PutDevice(device, std::nullopt);
  }

  std::vector<std::string> Devices() {
    absl::MutexLock lock(&mu_);
    return devices_;
  }

  std::string path_;
  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ChangeFollower> follower_;
  absl::Status fail_;
  int reloads_ = 0;
  absl::Mutex mu_;
  std::vector<std::string> devices_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> summaries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sweeps_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ChangeFollowerTest, EachChangeIsHandedOnOnceByKindWithoutRepeats) {
  ASSERT_THAT(PutDevice("d1"), IsOk());
  ASSERT_THAT(PutDevice("d2"), IsOk());
  ASSERT_THAT(PutDevice("d1"), IsOk());
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("s1");
  farm::v1::Task* task = sweep.add_tasks();
  task->set_task_id("s1/t0");
  task->set_sweep_id("s1");
  task->set_device_id("d1");
  ASSERT_THAT(store_->CreateSweep(sweep), IsOk());
  ASSERT_THAT(follower_->CatchUp(), IsOk());
  EXPECT_THAT(Devices(), ElementsAre("d2", "d1"));  // d1 changed last
  {
    absl::MutexLock lock(&mu_);
    EXPECT_THAT(sweeps_, ElementsAre("sweep:s1", "task:s1/t0"));
    EXPECT_THAT(summaries_, IsEmpty());
  }
  ASSERT_THAT(follower_->CatchUp(), IsOk());
  EXPECT_EQ(Devices().size(), 2u);  // nothing new
}

TEST_F(ChangeFollowerTest, ChangesAHandlerFailedOnAreHandedOnAgain) {
  ASSERT_THAT(PutDevice("d1"), IsOk());
  fail_ = absl::UnavailableError("database away");
  EXPECT_THAT(follower_->CatchUp(), ::testing::Not(IsOk()));
  fail_ = absl::OkStatus();
  ASSERT_THAT(follower_->CatchUp(), IsOk());
  EXPECT_THAT(Devices(), ElementsAre("d1"));
}

TEST_F(ChangeFollowerTest, AFollowerThatFellTooFarBehindReloadsEverything) {
  ASSERT_THAT(PutDevice("d1"), IsOk());
  clock_.Advance(absl::Minutes(6));
  ASSERT_THAT(follower_->CatchUp(), IsOk());
  EXPECT_EQ(reloads_, 1);
  EXPECT_THAT(Devices(), IsEmpty());  // the reload covered it
  ASSERT_THAT(PutDevice("d2"), IsOk());
  ASSERT_THAT(follower_->CatchUp(), IsOk());
  EXPECT_THAT(Devices(), ElementsAre("d2"));
}

// Every caller returns having seen every write made before it called, however
// many call at once.
TEST_F(ChangeFollowerTest, ConcurrentCallersEachSeeWhatWasWrittenBeforeThem) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<bool> saw_own(kThreads, false);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string id = "d" + std::to_string(i);
      if (!PutDevice(id).ok() || !follower_->CatchUp().ok()) return;
      const std::vector<std::string> seen = Devices();
      saw_own[i] = std::find(seen.begin(), seen.end(), id) != seen.end();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_TRUE(saw_own[i]) << i;
}

}  // namespace
}  // namespace kvmfarm::replication
