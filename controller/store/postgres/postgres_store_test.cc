// What only PostgreSQL's store must prove (the shared behaviours, a foreign or
// newer database refused among them, are in ../store_conformance_test.cc): two
// controllers migrating at once, durable commits whatever the server's default,
// and results stored on several connections at once.
#include "controller/store/postgres/postgres_store.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/store/testing/postgres_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store::postgres {
namespace {

using ::kvmfarm::testing::IsOk;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> server =
        store::testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_THAT(server_->CreateDatabase("farm"), IsOk());
    absl::StatusOr<PostgresTarget> target = ParsePostgresTarget(server_->Uri("farm"), "");
    ASSERT_THAT(target, IsOk());
    target_ = *target;
  }

  // A statement on the database directly, as another program would.
  absl::StatusOr<PgRows> Sql(const std::string& sql) {
    absl::StatusOr<std::unique_ptr<PgConnection>> db = PgConnection::Open(target_);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }

  std::unique_ptr<store::testing::PostgresServer> server_;
  PostgresTarget target_;
};

TEST_F(PostgresStoreTest, ReopeningKeepsEverythingAndTwoOpeningAtOnceMigrateOnce) {
  absl::Status first, second;
  std::thread a([&] { first = PostgresStore::Open(target_).status(); });
  std::thread b([&] { second = PostgresStore::Open(target_).status(); });
  a.join();
  b.join();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  absl::StatusOr<PgRows> versions = Sql("SELECT version FROM kvmfarm_schema");
  ASSERT_THAT(versions, IsOk());
  ASSERT_EQ(versions->rows.size(), 1u);
  EXPECT_EQ(versions->rows[0][0], std::to_string(PostgresStore::SchemaVersion()));

  farm::v1::Device device;
  device.set_device_id("d1");
  {
    absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(target_);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->PutDevice(device, std::nullopt), IsOk());
  }
  absl::StatusOr<std::unique_ptr<PostgresStore>> again = PostgresStore::Open(target_);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT((*again)->GetDevice("d1"), IsOk());
}

TEST_F(PostgresStoreTest, CommitsAreDurableBeforeTheyAreActedOn) {
  // The server's default made off, as a tuned server may have it: the store's own
  // session still commits durably.
  ASSERT_THAT(Sql("ALTER DATABASE farm SET synchronous_commit = off"), IsOk());
  absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(target_);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->SynchronousCommit(), kvmfarm::testing::IsOkAndHolds(std::string("on")));
  absl::StatusOr<PgRows> other = Sql("SHOW synchronous_commit");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(other->rows[0][0], "off");  // the test's own session sees the default
}

// Results are stored on several connections at once: attempts of one task that
// finish together still store one result, and the others learn it was not theirs.
TEST_F(PostgresStoreTest, ResultsStoredAtOnceOnSeveralConnectionsAreStoredOncePerTask) {
  absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(target_);
  ASSERT_THAT(store, IsOk());
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("s1");
  for (int t = 0; t < 4; ++t) {
    farm::v1::Task* task = sweep.add_tasks();
    task->set_sweep_id("s1");
    task->set_task_id("s1/t" + std::to_string(t));
    task->set_device_id("d1");
  }
  ASSERT_THAT((*store)->CreateSweep(sweep), IsOk());
  std::atomic<int> stored{0}, refused{0}, failed{0};
  std::vector<std::thread> attempts;
  for (int a = 0; a < 16; ++a) {
    attempts.emplace_back([&, a] {
      farm::v1::Task done = sweep.tasks(a % 4);
      done.set_state(farm::v1::TASK_STATE_SUCCEEDED);
      farm::v1::Measurement* m = done.mutable_benchmark()->add_measurements();
      m->set_metric("crypto.sha256");
      m->add_values(a);
      absl::StatusOr<bool> result = (*store)->StoreTaskResult(done, "a" + std::to_string(a));
      (!result.ok() ? failed : *result ? stored : refused)++;
    });
  }
  for (std::thread& attempt : attempts) attempt.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(stored.load(), 4);
  EXPECT_EQ(refused.load(), 12);
  EXPECT_THAT((*store)->CountMeasurements(), ::kvmfarm::testing::IsOkAndHolds(4));
  absl::StatusOr<PgRows> writers =
      Sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'farm'");
  ASSERT_THAT(writers, IsOk());
  // The store's own connection, its writers, and this query's.
  EXPECT_LE(std::stoi(*writers->rows[0][0]), 1 + PostgresStore::kResultWriters + 1);
}

// Transactions commit out of the order their changes were numbered in: the feed
// must hand out neither a change whose transaction is still open nor skip it once
// it commits after a later one was read.
TEST_F(PostgresStoreTest, TheChangeFeedWaitsForAnOpenTransactionAndThenSkipsNothing) {
  absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(target_);
  ASSERT_THAT(store, IsOk());
  absl::StatusOr<int64_t> cursor = (*store)->ChangeCursor();
  ASSERT_THAT(cursor, IsOk());
  absl::StatusOr<std::unique_ptr<PgConnection>> other = PgConnection::Open(target_);
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT((*other)->Exec("BEGIN"), IsOk());
  ASSERT_THAT((*other)->Exec("INSERT INTO devices (device_id, proto) VALUES ('early', '')"),
              IsOk());
  farm::v1::Device late;
  late.set_device_id("late");
  ASSERT_THAT((*store)->PutDevice(late, std::nullopt), IsOk());
  absl::StatusOr<store::ChangeBatch> while_open = (*store)->ChangesSince(*cursor);
  ASSERT_THAT(while_open, IsOk());
  EXPECT_THAT(while_open->changes, ::testing::IsEmpty());
  ASSERT_THAT((*other)->Exec("COMMIT"), IsOk());
  absl::StatusOr<store::ChangeBatch> after = (*store)->ChangesSince(while_open->cursor);
  ASSERT_THAT(after, IsOk());
  std::vector<std::string> ids;
  for (const store::StoredChange& change : after->changes) ids.push_back(change.id);
  EXPECT_THAT(ids, ::testing::ElementsAre("early", "late"));
}

}  // namespace
}  // namespace kvmfarm::store::postgres
