// What only PostgreSQL's store must prove (the shared behaviours are in
// ../store_conformance_test.cc): whose database it is, and migrations.
#include "controller/store/postgres/postgres_store.h"

#include <thread>

#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/store/testing/postgres_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store::postgres {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

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

TEST_F(PostgresStoreTest, ADatabaseOfSomethingElseIsRefusedAndLeftAsItWas) {
  ASSERT_THAT(Sql("CREATE TABLE invoices (id INTEGER)"), IsOk());
  EXPECT_THAT(PostgresStore::Open(target_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("something else")));
  absl::StatusOr<PgRows> tables =
      Sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename");
  ASSERT_THAT(tables, IsOk());
  ASSERT_EQ(tables->rows.size(), 1u);
  EXPECT_EQ(tables->rows[0][0], "invoices");
}

TEST_F(PostgresStoreTest, ANewerSchemaIsRefused) {
  ASSERT_THAT(PostgresStore::Open(target_), IsOk());
  ASSERT_THAT(Sql("UPDATE kvmfarm_schema SET version = version + 1"), IsOk());
  EXPECT_THAT(PostgresStore::Open(target_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

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

}  // namespace
}  // namespace kvmfarm::store::postgres
