#include "controller/store/sqlite_store.h"

#include <fcntl.h>
#include <google/protobuf/util/time_util.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/store/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store {
namespace {

using google::protobuf::util::TimeUtil;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string DbPath() { return kvmfarm::testing::FreshTestPath(".db"); }

// The file's bytes, to show that a refused file is left exactly as it was.
std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A SQLite file that `sql` made, written by SQLite itself (not by the store).
void MakeSqliteFile(const std::string& path, const std::string& sql) {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->Execute(sql), IsOk());
}

farm::v1::Device Device(const std::string& id) {
  farm::v1::Device device;
  device.set_device_id(id);
  device.set_agent_address("127.0.0.1:7420");
  device.mutable_identity()->set_model("Pixel 8");
  farm::v1::Label* label = device.add_labels();
  label->set_key("rack");
  label->set_value("r1");
  label->set_source(farm::v1::LABEL_SOURCE_OPERATOR);
  return device;
}

farm::v1::Sweep Sweep(const std::string& id, int tasks) {
  farm::v1::Sweep sweep;
  sweep.set_sweep_id(id);
  sweep.set_state(farm::v1::SWEEP_STATE_QUEUED);
  *sweep.mutable_created_at() = TimeUtil::GetCurrentTime();
  for (int i = 0; i < tasks; ++i) {
    farm::v1::Task* task = sweep.add_tasks();
    task->set_task_id(absl::StrCat(id, "/t", i));
    task->set_sweep_id(id);
    task->set_device_id("d1");
    task->set_state(farm::v1::TASK_STATE_PENDING);
  }
  return sweep;
}

farm::v1::Task WithBenchmark(farm::v1::Task task, int repetitions) {
  task.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  farm::v1::Measurement* m = task.mutable_benchmark()->add_measurements();
  m->set_metric("crypto.sha256");
  m->set_unit("MB/s");
  m->set_mode(farm::v1::MODE_NATIVE);
  (*m->mutable_parameters())["size_bytes"] = "1048576";
  for (int i = 0; i < repetitions; ++i) m->add_values(100 + i);
  return task;
}

TEST(SqliteStoreTest, NewDatabaseGetsTheCurrentSchemaAndOurApplicationId) {
  const std::string path = DbPath();
  ASSERT_THAT(SqliteStore::Open(path), IsOk());
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  ASSERT_THAT(db, IsOk());
  EXPECT_THAT((*db)->QueryInt("PRAGMA user_version"), IsOkAndHolds(SqliteStore::SchemaVersion()));
  EXPECT_THAT((*db)->QueryInt("PRAGMA application_id"), IsOkAndHolds(kApplicationId));
  absl::StatusOr<Statement> mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_THAT(mode, IsOk());
  ASSERT_THAT(mode->Step(), IsOkAndHolds(true));
  EXPECT_EQ(mode->ColumnText(0), "wal");
}

TEST(SqliteStoreTest, DevicesAndHistorySurviveAReopen) {
  const std::string path = DbPath();
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->PutDevice(Device("d1"), std::nullopt), IsOk());
    ASSERT_THAT((*store)->PutDevice(Device("d0"), std::nullopt), IsOk());
    for (int i = 0; i < 3; ++i) {
      farm::v1::DeviceEvent event;
      event.set_description(absl::StrCat("event ", i));
      ASSERT_THAT((*store)->AppendDeviceEvent("d1", event), IsOk());
    }
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_THAT(store, IsOk());
  absl::StatusOr<std::vector<farm::v1::Device>> devices = (*store)->ListDevices();
  ASSERT_THAT(devices, IsOk());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].device_id(), "d0");
  EXPECT_EQ((*devices)[1].identity().model(), "Pixel 8");
  EXPECT_THAT((*store)->GetDevice("nope"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<StoredDeviceEvent>> history =
      (*store)->DeviceHistory("d1", 2, std::nullopt);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].event.description(), "event 2");  // newest first
  // The next page starts before the last event read.
  absl::StatusOr<std::vector<StoredDeviceEvent>> older =
      (*store)->DeviceHistory("d1", 2, (*history)[1].sequence);
  ASSERT_THAT(older, IsOk());
  ASSERT_EQ(older->size(), 1u);
  EXPECT_EQ((*older)[0].event.description(), "event 0");
}

TEST(SqliteStoreTest, SweepsWithTasksAndResultsStoredExactlyOnce) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath());
  ASSERT_THAT(store, IsOk());
  const farm::v1::Sweep sweep = Sweep("s1", 2);
  ASSERT_THAT((*store)->CreateSweep(sweep), IsOk());
  farm::v1::Task running = sweep.tasks(0);
  running.set_state(farm::v1::TASK_STATE_RUNNING);
  running.set_attempt_id("s1/t0/a1");
  ASSERT_THAT((*store)->RecordAttempt(running), IsOk());
  const farm::v1::Task done = WithBenchmark(sweep.tasks(0), 3);
  EXPECT_THAT((*store)->StoreTaskResult(done, "s1/t0/a1"), IsOkAndHolds(true));
  // The late result of an abandoned attempt is recognised and not stored twice.
  EXPECT_THAT((*store)->StoreTaskResult(done, "s1/t0/a0"), IsOkAndHolds(false));
  EXPECT_THAT((*store)->CountMeasurements(), IsOkAndHolds(3));
  ASSERT_THAT((*store)->FinishAttempt("s1/t0/a1", "result stored", "console"), IsOk());

  absl::StatusOr<farm::v1::Sweep> read = (*store)->GetSweep("s1", true);
  ASSERT_THAT(read, IsOk());
  ASSERT_EQ(read->tasks_size(), 2);
  EXPECT_EQ(read->tasks(0).state(), farm::v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(read->tasks(0).has_benchmark());
  EXPECT_EQ(read->tasks(0).benchmark().measurements(0).values_size(), 3);
  EXPECT_EQ(read->tasks(1).state(), farm::v1::TASK_STATE_PENDING);
  absl::StatusOr<farm::v1::Sweep> without = (*store)->GetSweep("s1", false);
  ASSERT_THAT(without, IsOk());
  EXPECT_FALSE(without->tasks(0).has_benchmark());
  EXPECT_THAT((*store)->GetSweep("s9", false), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<farm::v1::Sweep>> list = (*store)->ListSweeps(SweepListQuery());
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].tasks_size(), 0);
}

TEST(SqliteStoreTest, ListSweepsFiltersBeforeTheLimitAndPagesByCreationThenId) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath());
  ASSERT_THAT(store, IsOk());
  // s0..s5, s4 and s5 created at the same nanosecond; only s0 and s1 succeeded, the
  // oldest two, so a filter applied after a limit of 2 would find none.
  for (int i = 0; i < 6; ++i) {
    farm::v1::Sweep sweep = Sweep(absl::StrCat("s", i), 0);
    *sweep.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(1000 + std::min(i, 4));
    if (i < 2) sweep.set_state(farm::v1::SWEEP_STATE_SUCCEEDED);
    ASSERT_THAT((*store)->CreateSweep(sweep), IsOk());
  }
  auto ids = [](const std::vector<farm::v1::Sweep>& sweeps) {
    std::vector<std::string> out;
    for (const farm::v1::Sweep& s : sweeps) out.push_back(s.sweep_id());
    return out;
  };
  SweepListQuery query;
  query.limit = 2;
  EXPECT_THAT(ids(*(*store)->ListSweeps(query)), ElementsAre("s5", "s4"));
  query.after = std::make_pair(int64_t{1004}, std::string("s5"));
  EXPECT_THAT(ids(*(*store)->ListSweeps(query)), ElementsAre("s4", "s3"));
  query.after = std::make_pair(int64_t{1003}, std::string("s3"));
  query.limit = 10;
  EXPECT_THAT(ids(*(*store)->ListSweeps(query)), ElementsAre("s2", "s1", "s0"));

  SweepListQuery succeeded;
  succeeded.limit = 2;
  succeeded.states = {farm::v1::SWEEP_STATE_SUCCEEDED};
  EXPECT_THAT(ids(*(*store)->ListSweeps(succeeded)), ElementsAre("s1", "s0"));
  succeeded.states.push_back(farm::v1::SWEEP_STATE_QUEUED);
  succeeded.limit = 10;
  EXPECT_EQ((*store)->ListSweeps(succeeded)->size(), 6u);
}

TEST(SqliteStoreTest, SummariesKeepTheLatestPerMetricAndAttemptsTheirEvidence) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath());
  ASSERT_THAT(store, IsOk());
  for (const char* id : {"s1", "s2"}) {
    farm::v1::Sweep sweep = Sweep(id, 1);
    ASSERT_THAT((*store)->CreateSweep(sweep), IsOk());
    farm::v1::Task done = WithBenchmark(sweep.tasks(0), std::string(id) == "s1" ? 3 : 2);
    done.set_repetitions(3);
    *done.mutable_finished_at() =
        TimeUtil::NanosecondsToTimestamp(std::string(id) == "s1" ? 1000 : 2000);
    ASSERT_THAT((*store)->StoreTaskResult(done, absl::StrCat(id, "/t0/a1")), IsOk());
  }
  absl::StatusOr<std::vector<StoredSummary>> latest = (*store)->LatestSummaries({"d1"});
  ASSERT_THAT(latest, IsOk());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].sweep_id, "s2");
  EXPECT_EQ((*latest)[0].measurement.values_size(), 2);
  EXPECT_EQ((*latest)[0].requested_repetitions, 3u);
  EXPECT_THAT((*store)->LatestSummaries({}), IsOk());
  absl::StatusOr<std::vector<StoredSummary>> s1 = (*store)->SweepSummaries("s1");
  ASSERT_THAT(s1, IsOk());
  ASSERT_EQ(s1->size(), 1u);
  EXPECT_EQ((*s1)[0].measurement.values_size(), 3);
  farm::v1::Task running = Sweep("s1", 1).tasks(0);
  running.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  running.set_attempt_id("s1/t0/a1");
  ASSERT_THAT((*store)->RecordAttempt(running), IsOk());
  ASSERT_THAT((*store)->FinishAttempt("s1/t0/a1", "result stored", "FARM_BOOTED uptime=1"), IsOk());
  absl::StatusOr<std::vector<StoredAttempt>> attempts = (*store)->TaskAttempts("s1/t0");
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].console_log, "FARM_BOOTED uptime=1");
}

TEST(SqliteStoreTest, AVersionOneDatabaseIsMigrated) {
  const std::string path = DbPath();
  {
    // A database as the first release wrote it: schema 1, no summaries table, no
    // index of sweeps by creation, no retention mark.
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_THAT(store, IsOk());
  }
  {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Execute(
                    "DROP TABLE latest_summaries; DROP TABLE summaries; "
                    "DROP INDEX sweeps_by_created; DROP INDEX results_unpruned; "
                    "DROP INDEX measurements_by_task; DROP TABLE leadership; DROP TABLE replicas; "
                    "DROP TRIGGER devices_insert_noted; DROP TRIGGER devices_update_noted; "
                    "DROP TRIGGER sweeps_insert_noted; DROP TRIGGER sweeps_update_noted; "
                    "DROP TRIGGER tasks_insert_noted; DROP TRIGGER tasks_update_noted; "
                    "DROP TABLE changes; DROP TABLE heartbeats; DROP TABLE cancel_requests; "
                    "DROP TABLE baselines; DROP TABLE regressions; DROP TABLE schedules; "
                    "ALTER TABLE results DROP COLUMN raw_pruned; "
                    "PRAGMA user_version = 1"),
                IsOk());
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->LatestSummaries({}), IsOk());
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  EXPECT_THAT((*db)->QueryInt("PRAGMA user_version"), IsOkAndHolds(SqliteStore::SchemaVersion()));
}

TEST(SqliteStoreTest, RefusesAFileThatIsNotSqliteAndLeavesItAlone) {
  const std::string path = DbPath();
  std::ofstream(path) << "these are an operator's notes, not a database\n";
  EXPECT_THAT(SqliteStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a SQLite database")));
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "these are an operator's notes, not a database");
}

TEST(SqliteStoreTest, RefusesAnotherApplicationsDatabase) {
  const std::string path = DbPath();
  {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Execute("CREATE TABLE recipes (name TEXT)"), IsOk());
  }
  EXPECT_THAT(SqliteStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("something else")));
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  ASSERT_THAT(db, IsOk());
  EXPECT_THAT((*db)->QueryInt("SELECT count(*) FROM recipes"), IsOkAndHolds(0));
}

TEST(SqliteStoreTest, CommitsAreSyncedToSurviveAPowerLoss) {
  // synchronous=FULL: the controller acts on every commit (an attempt row, then the
  // attempt sent to an agent), so a commit must survive a power loss, not only a
  // crash of the process. The setting is per connection: a new file and a reopened
  // one both get it.
  const std::string path = DbPath();
  for (int open = 0; open < 2; ++open) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_THAT(store, IsOk());
    EXPECT_THAT((*store)->SynchronousLevel(), IsOkAndHolds(2)) << "open " << open;
  }
}

TEST(SqliteStoreTest, RefusesEveryForeignSqliteFileWithoutWritingToIt) {
  struct Case {
    const char* what;
    const char* sql;
    const char* why;  // what the refusal says
  };
  const Case cases[] = {
      // Issue 15: this one was grown from 4 KiB to 28 KiB before the controller gave
      // up with "no such table: devices".
      {"no tables, user_version set", "PRAGMA user_version = 1", "user_version 1"},
      {"no tables, another application id", "PRAGMA application_id = 42", "application_id 42"},
      {"tables, another application id",
       "PRAGMA application_id = 42; CREATE TABLE recipes (name TEXT)", "application_id 42"},
      {"tables, no application id", "CREATE TABLE recipes (name TEXT)", "1 table"},
      {"tables and user_version, no application id",
       "CREATE TABLE recipes (name TEXT); PRAGMA user_version = 3", "1 table"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    SCOPED_TRACE(cases[i].what);
    const std::string path = kvmfarm::testing::FreshTestPath(absl::StrCat(".", i, ".db"));
    MakeSqliteFile(path, cases[i].sql);
    const std::string before = Bytes(path);
    ASSERT_FALSE(before.empty());
    EXPECT_THAT(
        SqliteStore::Open(path),
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 AllOf(HasSubstr(path), HasSubstr("something else"), HasSubstr(cases[i].why))));
    const std::string after = Bytes(path);
    EXPECT_TRUE(after == before) << "the file changed: " << before.size() << " bytes before, "
                                 << after.size() << " after";
    EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  }
}

TEST(SqliteStoreTest, AnEmptyFileOrATablelessUnmarkedDatabaseBecomesOurs) {
  // A zero-length file (touch farm.db) and a SQLite database with nothing in it.
  const std::string zero = kvmfarm::testing::FreshTestPath(".zero.db");
  std::ofstream(zero).close();
  const std::string tableless = kvmfarm::testing::FreshTestPath(".tableless.db");
  MakeSqliteFile(tableless, "CREATE TABLE t (x); DROP TABLE t");
  ASSERT_FALSE(Bytes(tableless).empty());
  for (const std::string& path : {zero, tableless}) {
    SCOPED_TRACE(path);
    ASSERT_THAT(SqliteStore::Open(path), IsOk());
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    ASSERT_THAT(db, IsOk());
    EXPECT_THAT((*db)->QueryInt("PRAGMA application_id"), IsOkAndHolds(kApplicationId));
    EXPECT_THAT((*db)->QueryInt("PRAGMA user_version"), IsOkAndHolds(SqliteStore::SchemaVersion()));
  }
}

// Makes `dir` and `file` in it read-only: chmod 0444 and 0555, and where that doesn't
// stop writes (root), a read-only bind mount of `dir` over itself in a mount
// namespace of this thread's own. "" when done, else why it can't be (to skip).
std::string MakeReadOnly(const std::string& dir, const std::string& file) {
  if (!file.empty()) chmod(file.c_str(), 0444);
  chmod(dir.c_str(), 0555);
  const std::string probe = dir + "/probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return "";  // the modes hold
  ::close(fd);
  ::unlink(probe.c_str());
  // Root ignores the modes: mount the directory read-only where only this thread
  // (which runs the test and SQLite's I/O) sees it.
  if (unshare(CLONE_NEWNS) != 0) {
    return absl::StrCat(
        "running as root, where chmod doesn't stop writes, and "
        "unshare(CLONE_NEWNS) fails (",
        std::strerror(errno), "): can't make a read-only mount");
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    return absl::StrCat(
        "running as root, where chmod doesn't stop writes, and mount(2) of a "
        "read-only bind mount fails (",
        std::strerror(errno), ")");
  }
  return "";
}

// Undoes MakeReadOnly (so TEST_TMPDIR can be cleaned up).
void MakeWritableAgain(const std::string& dir) {
  umount2(dir.c_str(), MNT_DETACH);  // fails harmlessly where nothing was mounted
  chmod(dir.c_str(), 0755);
}

TEST(SqliteStoreTest, ADatabaseOnAReadOnlyFileSystemIsReportedAsReadOnly) {
  const std::string dir = kvmfarm::testing::FreshTestDir();
  const std::string path = dir + "/farm.db";
  ASSERT_THAT(SqliteStore::Open(path), IsOk());  // a kvmfarm database, closed
  const std::string before = Bytes(path);
  const std::string why_not = MakeReadOnly(dir, path);
  if (!why_not.empty()) {
    MakeWritableAgain(dir);
    GTEST_SKIP() << why_not;
  }
  EXPECT_THAT(SqliteStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path), HasSubstr("read-only"),
                             ::testing::Not(HasSubstr("not a SQLite database")))));
  // A new database can't be created there either, and the message says why.
  const std::string fresh = dir + "/new.db";
  EXPECT_THAT(SqliteStore::Open(fresh), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 AllOf(HasSubstr(fresh), HasSubstr("read-only"))));
  MakeWritableAgain(dir);
  EXPECT_TRUE(Bytes(path) == before) << "the file changed";
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

TEST(SqliteStoreTest, RefusesASchemaFromANewerController) {
  const std::string path = DbPath();
  ASSERT_THAT(SqliteStore::Open(path), IsOk());
  {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Execute("PRAGMA user_version = 99"), IsOk());
  }
  EXPECT_THAT(SqliteStore::Open(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                HasSubstr("newer than this controller")));
}

}  // namespace
}  // namespace kvmfarm::store
