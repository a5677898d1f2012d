// The controller's PostgreSQL connection: the URI rules alone, and statements on a
// real server of the test's own (testing/postgres_server.h).
#include "controller/store/postgres/connection.h"

#include "absl/strings/str_cat.h"
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
using ::testing::Not;

TEST(ParsePostgresTargetTest, AServerOffThisMachineIsReachedWithVerifyFullOnly) {
  absl::StatusOr<PostgresTarget> target =
      ParsePostgresTarget("postgresql://farm@db1.lab:6432/farmdb", "lab/ca.crt");
  ASSERT_THAT(target, IsOk());
  EXPECT_FALSE(target->local_socket);
  EXPECT_EQ(target->options["sslmode"], "verify-full");
  EXPECT_EQ(target->options["sslrootcert"], "lab/ca.crt");
  EXPECT_EQ(target->options["user"], "farm");
  EXPECT_EQ(target->Describe(), "db1.lab:6432/farmdb");
  for (const char* weaker : {"disable", "allow", "prefer", "require", "verify-ca"}) {
    EXPECT_THAT(ParsePostgresTarget(absl::StrCat("postgresql://db1.lab/farm?sslmode=", weaker), ""),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("verify-full")))
        << weaker;
  }
}

TEST(ParsePostgresTargetTest, ALocalSocketNeedsNoTls) {
  absl::StatusOr<PostgresTarget> target =
      ParsePostgresTarget("postgresql:///farm?host=/run/postgresql", "lab/ca.crt");
  ASSERT_THAT(target, IsOk());
  EXPECT_TRUE(target->local_socket);
  EXPECT_EQ(target->options.count("sslmode"), 0u);
  EXPECT_EQ(target->Describe(), "socket /run/postgresql/farm");
}

TEST(ParsePostgresTargetTest, APasswordOnTheCommandLineIsRefusedAndNeverRepeated) {
  for (const char* uri :
       {"postgresql://farm:s3cret@db1.lab/farm", "postgresql://db1.lab/farm?password=s3cret",
        "postgresql://farm:s3cret@db1.lab:notaport/farm"}) {
    absl::StatusOr<PostgresTarget> target = ParsePostgresTarget(uri, "");
    EXPECT_THAT(target, StatusIs(absl::StatusCode::kInvalidArgument)) << uri;
    EXPECT_THAT(target.status().message(), Not(HasSubstr("s3cret"))) << uri;
  }
  EXPECT_THAT(ParsePostgresTarget("postgresql://farm:s3cret@db1.lab/farm", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PGPASSFILE")));
}

TEST(ParsePostgresTargetTest, WhatIsNotAPostgresUriIsSaid) {
  EXPECT_THAT(ParsePostgresTarget("farm.db", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("postgresql://")));
  EXPECT_THAT(ParsePostgresTarget("postgresql://db1.lab", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("names no database")));
  EXPECT_THAT(ParsePostgresTarget("postgresql://db1.lab:notaport/farm", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("notaport")));
}

class PgConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::PostgresServer>> server =
        testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_THAT(server_->CreateDatabase("farm"), IsOk());
  }

  PostgresTarget Target(const std::string& database = "farm") const {
    absl::StatusOr<PostgresTarget> target = ParsePostgresTarget(server_->Uri(database), "");
    EXPECT_THAT(target, IsOk());
    return *target;
  }

  std::unique_ptr<testing::PostgresServer> server_;
};

TEST_F(PgConnectionTest, RunsStatementsWithParametersNeverSplicedIn) {
  absl::StatusOr<std::unique_ptr<PgConnection>> db = PgConnection::Open(Target());
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->Exec("CREATE TABLE devices (id TEXT PRIMARY KEY, note TEXT)"), IsOk());
  const std::string hostile = "x'); DROP TABLE devices; --";
  ASSERT_THAT((*db)->Exec("INSERT INTO devices VALUES ($1, $2)", {hostile, std::nullopt}), IsOk());
  ASSERT_THAT((*db)->Exec("INSERT INTO devices VALUES ($1, $2)", {"d2", "ünïcode"}), IsOk());
  absl::StatusOr<PgRows> rows = (*db)->Exec("SELECT id, note FROM devices ORDER BY id");
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "note"}));
  ASSERT_EQ(rows->rows.size(), 2u);
  EXPECT_EQ(rows->rows[0][0], "d2");
  EXPECT_EQ(rows->rows[0][1], "ünïcode");
  EXPECT_EQ(rows->rows[1][0], hostile);
  EXPECT_EQ(rows->rows[1][1], std::nullopt);
}

TEST_F(PgConnectionTest, FailuresComeBackByTheirSqlState) {
  absl::StatusOr<std::unique_ptr<PgConnection>> db = PgConnection::Open(Target());
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->Exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER CHECK (n > 0))"), IsOk());
  ASSERT_THAT((*db)->Exec("INSERT INTO t VALUES ('a', 1)"), IsOk());
  EXPECT_THAT((*db)->Exec("INSERT INTO t VALUES ('a', 2)"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("23505")));
  EXPECT_THAT((*db)->Exec("INSERT INTO t VALUES ('b', -1)"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("23514")));
  EXPECT_THAT((*db)->Exec("SELECT * FROM nowhere"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nowhere")));
  // The server gone: the connection says so.
  server_->Stop();
  EXPECT_THAT((*db)->Exec("SELECT 1"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(PgConnectionTest, ADatabaseThatIsNotThereIsUnavailableNamingWhere) {
  EXPECT_THAT(PgConnection::Open(Target("nosuchdb")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("nosuchdb")));
}

}  // namespace
}  // namespace kvmfarm::store::postgres
