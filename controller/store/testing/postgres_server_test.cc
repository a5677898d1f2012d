// The test PostgreSQL really serves, and leaves nothing behind.
#include "controller/store/testing/postgres_server.h"

#include <libpq-fe.h>
#include <signal.h>

#include <filesystem>

#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store::testing {
namespace {

using ::kvmfarm::testing::IsOk;

std::string QueryOne(PGconn* connection, const char* sql) {
  PGresult* result = PQexec(connection, sql);
  std::string value;
  if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1) {
    value = PQgetvalue(result, 0, 0);
  } else {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
  }
  PQclear(result);
  return value;
}

TEST(PostgresServerTest, ServesADatabaseAndStopsWithoutATrace) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server =
      PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
  ASSERT_THAT(server, IsOk());
  ASSERT_THAT((*server)->CreateDatabase("farm"), IsOk());
  PGconn* connection = PQconnectdb((*server)->Uri("farm").c_str());
  ASSERT_EQ(PQstatus(connection), CONNECTION_OK) << PQerrorMessage(connection);
  PQclear(PQexec(connection, "CREATE TABLE t (x INTEGER)"));
  PQclear(PQexec(connection, "INSERT INTO t VALUES (41), (1)"));
  EXPECT_EQ(QueryOne(connection, "SELECT sum(x) FROM t"), "42");
  EXPECT_EQ(QueryOne(connection, "SHOW listen_addresses"), "");  // no TCP at all
  EXPECT_EQ(QueryOne(connection, "SELECT current_database()"), "farm");
  PQfinish(connection);

  const pid_t pid = (*server)->pid();
  const std::string socket_dir = (*server)->socket_dir();
  server->reset();
  EXPECT_NE(::kill(pid, 0), 0) << "the postmaster is still running";
  EXPECT_FALSE(std::filesystem::exists(socket_dir));
}

TEST(PostgresServerTest, ANameThatIsNotOneIsRefused) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server =
      PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
  ASSERT_THAT(server, IsOk());
  EXPECT_THAT((*server)->CreateDatabase("farm; DROP DATABASE postgres"),
              kvmfarm::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace kvmfarm::store::testing
