// Moving a lab row for row: a SQLite database written through the Store API,
// copied into a real PostgreSQL of the test's own.
#include "controller/store/copy_to_postgres.h"

#include <google/protobuf/util/message_differencer.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/store/postgres/postgres_store.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/postgres_server.h"
#include "controller/store/testing/sample_lab.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

class CopyToPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::PostgresServer>> started =
        testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    ASSERT_THAT(started, IsOk());
    server_ = *std::move(started);
    ASSERT_THAT(server_->CreateDatabase("farm"), IsOk());
    absl::StatusOr<postgres::PostgresTarget> target =
        postgres::ParsePostgresTarget(server_->Uri("farm"), "");
    ASSERT_THAT(target, IsOk());
    target_ = *target;
    sqlite_ = kvmfarm::testing::FreshTestPath(".db");
  }

  // The sample lab in a new SQLite file.
  void FillSqlite() {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(sqlite_);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT(testing::FillSampleLab(**store), IsOk());
  }

  std::unique_ptr<Store> OpenPostgres() {
    absl::StatusOr<std::unique_ptr<postgres::PostgresStore>> store =
        postgres::PostgresStore::Open(target_);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<testing::PostgresServer> server_;
  postgres::PostgresTarget target_;
  std::string sqlite_;
};

TEST_F(CopyToPostgresTest, CopiesEveryRowAsItWasAndNewRowsFollowTheCopiedOnes) {
  FillSqlite();
  std::map<std::string, int64_t> reported;
  absl::StatusOr<TableCounts> copied = CopySqliteToPostgres(
      sqlite_, target_,
      [&](absl::string_view table, int64_t n, int64_t) { reported[std::string(table)] = n; });
  ASSERT_THAT(copied, IsOk());
  absl::StatusOr<TableCounts> in_sqlite = CountSqliteRows(sqlite_);
  absl::StatusOr<TableCounts> in_postgres = CountPostgresRows(target_);
  ASSERT_THAT(in_sqlite, IsOk());
  ASSERT_THAT(in_postgres, IsOk());
  EXPECT_EQ(*copied, *in_sqlite);
  EXPECT_EQ(*in_postgres, *in_sqlite);
  ASSERT_EQ(in_sqlite->size(), 15u);  // every table
  for (const auto& [table, n] : *in_sqlite) {
    EXPECT_GT(n, 0) << table;  // the sample lab has rows in each
    EXPECT_EQ(reported[table], n) << table;
  }

  absl::StatusOr<std::unique_ptr<SqliteStore>> before = SqliteStore::Open(sqlite_);
  ASSERT_THAT(before, IsOk());
  std::unique_ptr<Store> after = OpenPostgres();
  ASSERT_NE(after, nullptr);
  // History keeps its sequence numbers; a sweep its tasks, in order, with results.
  auto history_before = (*before)->DeviceHistory("sdm-1", 10, std::nullopt);
  auto history_after = after->DeviceHistory("sdm-1", 10, std::nullopt);
  ASSERT_THAT(history_after, IsOk());
  ASSERT_EQ(history_after->size(), history_before->size());
  for (size_t i = 0; i < history_after->size(); ++i) {
    EXPECT_EQ((*history_after)[i].sequence, (*history_before)[i].sequence);
    EXPECT_TRUE(MessageDifferencer::Equals((*history_after)[i].event, (*history_before)[i].event));
  }
  auto sweep_before = (*before)->GetSweep("sweep-1", true);
  auto sweep_after = after->GetSweep("sweep-1", true);
  ASSERT_THAT(sweep_after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*sweep_after, *sweep_before));
  auto attempts = after->TaskAttempts("sweep-1/pixel-1/1");
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].console_log, "qemu: terminating on signal 9");

  // The lease keeps its epoch: a new leader's is higher than any agent has seen.
  absl::StatusOr<Leadership> lease = after->ClaimLeadership("c3", 1000, 10);
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "c3");
  EXPECT_EQ(lease->epoch, 3);

  // New rows are numbered after the copied ones.
  ASSERT_THAT(after->AppendDeviceEvent("sdm-1", farm::v1::DeviceEvent()), IsOk());
  auto newest = after->DeviceHistory("sdm-1", 1, std::nullopt);
  ASSERT_THAT(newest, IsOk());
  EXPECT_GT((*newest)[0].sequence, (*history_before)[0].sequence);
  farm::v1::Task extra = sweep_before->tasks(0);
  extra.set_task_id("sweep-1/extra");
  extra.clear_capability();
  ASSERT_THAT(after->PutTask(extra), IsOk());
  auto grown = after->GetSweep("sweep-1", false);
  ASSERT_THAT(grown, IsOk());
  EXPECT_EQ(grown->tasks(grown->tasks_size() - 1).task_id(), "sweep-1/extra");
}

TEST_F(CopyToPostgresTest, RefusesADatabaseThatHoldsALabAndLeavesItAlone) {
  FillSqlite();
  {
    std::unique_ptr<Store> existing = OpenPostgres();
    ASSERT_NE(existing, nullptr);
    farm::v1::Device device;
    device.set_device_id("already-here");
    ASSERT_THAT(existing->PutDevice(device, std::nullopt), IsOk());
  }
  EXPECT_THAT(CopySqliteToPostgres(sqlite_, target_, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already holds a lab (1 devices)")));
  absl::StatusOr<TableCounts> counts = CountPostgresRows(target_);
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ((*counts)[0], std::make_pair(std::string("devices"), int64_t{1}));
  for (size_t i = 1; i < counts->size(); ++i) EXPECT_EQ((*counts)[i].second, 0);
}

TEST_F(CopyToPostgresTest, RefusesAMissingOrForeignSourceBeforeTouchingTheTarget) {
  EXPECT_THAT(CopySqliteToPostgres(sqlite_, target_, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not a file")));
  EXPECT_FALSE(std::filesystem::exists(sqlite_));  // not created by looking
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> made = SqliteStore::Open(sqlite_);
    ASSERT_THAT(made, IsOk());
  }
  std::filesystem::remove(sqlite_);
  std::ofstream(sqlite_) << "notes, not a database\n";
  EXPECT_THAT(CopySqliteToPostgres(sqlite_, target_, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // The target was never migrated: it has no tables at all.
  absl::StatusOr<std::unique_ptr<postgres::PgConnection>> db =
      postgres::PgConnection::Open(target_);
  ASSERT_THAT(db, IsOk());
  absl::StatusOr<postgres::PgRows> tables =
      (*db)->Exec("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()");
  ASSERT_THAT(tables, IsOk());
  EXPECT_EQ(tables->rows[0][0], "0");
}

}  // namespace
}  // namespace kvmfarm::store
