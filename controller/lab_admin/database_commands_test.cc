// farm-controller's database commands on real databases: SQLite files and a
// PostgreSQL of the test's own, each holding the sample lab.
#include "controller/lab_admin/database_commands.h"

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/lab_admin/lab_answers.h"
#include "controller/store/open_store.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/postgres_server.h"
#include "controller/store/testing/sample_lab.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::lab_admin {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

class DatabaseCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite_ = kvmfarm::testing::FreshTestPath(".db");
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> lab = store::SqliteStore::Open(sqlite_);
    ASSERT_THAT(lab, IsOk());
    ASSERT_THAT(store::testing::FillSampleLab(**lab), IsOk());
  }

  // A PostgreSQL of the test's own, with an empty database `name`; its URI.
  std::string PostgresDatabase(const std::string& name) {
    if (server_ == nullptr) {
      absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> started =
          store::testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
      EXPECT_THAT(started, IsOk());
      if (!started.ok()) return "";
      server_ = *std::move(started);
    }
    EXPECT_THAT(server_->CreateDatabase(name), IsOk());
    return server_->Uri(name);
  }

  DatabaseCommand On(const std::string& db) { return DatabaseCommand{db, "", &out_}; }

  LabAnswers AnswersOf(const std::string& db) {
    absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db, "");
    EXPECT_THAT(store, IsOk());
    if (!store.ok()) return {};
    absl::StatusOr<LabAnswers> answers = ReadLabAnswers(**store);
    EXPECT_THAT(answers, IsOk());
    return answers.ok() ? *std::move(answers) : LabAnswers();
  }

  std::string sqlite_;
  std::ostringstream out_;
  std::unique_ptr<store::testing::PostgresServer> server_;
};

TEST_F(DatabaseCommandsTest, AMovedLabAnswersAsBefore) {
  const std::string postgres = PostgresDatabase("farm");
  ASSERT_THAT(MoveLab(On(postgres), sqlite_), IsOk());
  EXPECT_THAT(out_.str(), HasSubstr("verified: GetMatrix (3 device rows, 2 model rows) and "
                                    "CompareSweeps (2 pairs of 3 sweeps) answer identically"));
  const LabAnswers before = AnswersOf(sqlite_);
  const LabAnswers after = AnswersOf(postgres);
  EXPECT_THAT(SameAnswers(before, after), IsOk());
  // Not trivially alike: sdm-1 lost KVM in the last sweep, and figures moved.
  ASSERT_EQ(after.comparisons.size(), 2u);
  int lost_kvm = 0;
  for (const farm::v1::VerdictChange& change : after.comparisons[1].verdict_changes()) {
    if (change.verdict_a() != change.verdict_b()) {
      EXPECT_EQ(change.device_id(), "sdm-1");
      EXPECT_EQ(change.verdict_b(), farm::v1::VERDICT_KVM_UNUSABLE);
      ++lost_kvm;
    }
  }
  EXPECT_EQ(lost_kvm, 1);
  EXPECT_GT(after.comparisons[1].changes_size(), 0);
  // A second move into the same database is refused: it holds the lab now.
  EXPECT_THAT(MoveLab(On(postgres), sqlite_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already holds a lab")));
}

TEST_F(DatabaseCommandsTest, AnswersThatDifferAreNamed) {
  LabAnswers before = AnswersOf(sqlite_);
  LabAnswers after = before;
  after.comparisons[0].mutable_changes(0)->set_change_percent(-99);
  EXPECT_THAT(SameAnswers(before, after),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("CompareSweeps sweep-0 sweep-1 answers differently")));
  after = before;
  after.matrix_by_model.mutable_rows(0)->set_recommendation("x");
  EXPECT_THAT(SameAnswers(before, after),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("GetMatrix by model")));
}

TEST_F(DatabaseCommandsTest, MoveNeedsAPostgresTargetAndAnExistingSource) {
  EXPECT_THAT(MoveLab(On(kvmfarm::testing::FreshTestPath(".db")), sqlite_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("postgresql://")));
  EXPECT_THAT(MoveLab(On("postgresql://farm@/farm?host=/nonexistent"), "/nonexistent/farm.db"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not a file")));
}

TEST_F(DatabaseCommandsTest, ASqliteBackupRestoresToTheSameLab) {
  const std::string backup = kvmfarm::testing::FreshTestPath(".backup.db");
  {
    // The controller keeps its database open while cron takes the backup.
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> running = store::SqliteStore::Open(sqlite_);
    ASSERT_THAT(running, IsOk());
    ASSERT_THAT(BackupLab(On(sqlite_), backup), IsOk());
  }
  EXPECT_FALSE(std::filesystem::exists(backup + ".partial"));
  EXPECT_THAT(BackupLab(On(sqlite_), backup), StatusIs(absl::StatusCode::kAlreadyExists));
  const std::string restored = kvmfarm::testing::FreshTestPath(".restored.db");
  ASSERT_THAT(RestoreLab(On(restored), backup), IsOk());
  EXPECT_THAT(out_.str(), HasSubstr("3 devices, 54 raw measurements"));
  EXPECT_THAT(SameAnswers(AnswersOf(sqlite_), AnswersOf(restored)), IsOk());
  // Never over an existing database.
  EXPECT_THAT(RestoreLab(On(sqlite_), backup), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(DatabaseCommandsTest, APostgresBackupRestoresIntoAnEmptyDatabaseOnly) {
  const std::string postgres = PostgresDatabase("farm");
  ASSERT_THAT(MoveLab(On(postgres), sqlite_), IsOk());
  const std::string dump = kvmfarm::testing::FreshTestPath(".dump");
  ASSERT_THAT(BackupLab(On(postgres), dump), IsOk());
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial"));
  const std::string restored = PostgresDatabase("restored");
  ASSERT_THAT(RestoreLab(On(restored), dump), IsOk());
  EXPECT_THAT(SameAnswers(AnswersOf(postgres), AnswersOf(restored)), IsOk());
  EXPECT_THAT(RestoreLab(On(postgres), dump),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("empty database only")));
  // A backup of one kind never restores into the other.
  EXPECT_THAT(RestoreLab(On(kvmfarm::testing::FreshTestPath(".db")), dump),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a backup of a SQLite")));
  EXPECT_THAT(
      RestoreLab(On(PostgresDatabase("other")), sqlite_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a backup of a PostgreSQL")));
}

TEST_F(DatabaseCommandsTest, PruningKeepsWhatOperatorsRead) {
  const LabAnswers before = AnswersOf(sqlite_);
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(sqlite_, "");
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT(PruneLab(**store, absl::ZeroDuration(), absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--keep_raw_days")));
  // Nothing is older than a day yet.
  absl::StatusOr<store::PrunedRawLogs> pruned = PruneLab(**store, absl::Hours(24), absl::Now());
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->measurements, 0);
  // Two days on, all of it is: 5 results' rows a call when asked, then the rest.
  pruned = PruneLab(**store, absl::Hours(24), absl::Now() + absl::Hours(48), 5);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->results, 5);
  const int64_t first_rows = pruned->measurements;
  pruned = PruneLab(**store, absl::Hours(24), absl::Now() + absl::Hours(48));
  ASSERT_THAT(pruned, IsOk());
  // 3 sweeps x 3 devices x 2 modes x 3 repetitions
  EXPECT_EQ(first_rows + pruned->measurements, 54);
  EXPECT_EQ(pruned->console_logs, 0);  // all 19 went with the first call
  EXPECT_THAT((*store)->CountMeasurements(), ::kvmfarm::testing::IsOkAndHolds(0));
  EXPECT_THAT(SameAnswers(before, AnswersOf(sqlite_)), IsOk());
}

}  // namespace
}  // namespace kvmfarm::lab_admin
