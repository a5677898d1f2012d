// Every behaviour of Store, the same typed test against each real backend: SQLite
// in a scratch file, and PostgreSQL on a server of the test's own
// (testing/postgres_server.h). No mock of either database.
#include <google/protobuf/util/time_util.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "controller/store/postgres/postgres_store.h"
#include "controller/store/sqlite.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/store.h"
#include "controller/store/testing/postgres_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Each backend: a new database, the store opened on it, and raw SQL on that
// database as another program would run it (for what the store must refuse).
struct SqliteBackend {
  std::unique_ptr<Store> Open() {
    path = kvmfarm::testing::FreshTestPath(".db");
    absl::StatusOr<std::unique_ptr<Store>> store = Reopen();
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<Store>> Reopen() { return SqliteStore::Open(path); }
  absl::StatusOr<int64_t> Sql(const std::string& sql) {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    if (!db.ok()) return db.status();
    if (sql.rfind("SELECT", 0) == 0) return (*db)->QueryInt(sql);
    RETURN_IF_ERROR((*db)->Execute(sql));
    return 0;
  }
  // A newer kvmfarm's schema version on the database.
  std::string NewerSchema() {
    return "PRAGMA user_version = " + std::to_string(SqliteStore::SchemaVersion() + 1);
  }
  // A new database with nothing in it, for the store to be opened on later.
  void UseEmptyDatabase() { path = kvmfarm::testing::FreshTestPath(".other.db"); }

  std::string path;
};

struct PostgresBackend {
  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<testing::PostgresServer>> started =
        testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    EXPECT_THAT(started, IsOk());
    if (!started.ok()) return nullptr;
    server = *std::move(started);
    EXPECT_THAT(server->CreateDatabase("farm"), IsOk());
    absl::StatusOr<postgres::PostgresTarget> parsed =
        postgres::ParsePostgresTarget(server->Uri("farm"), "");
    EXPECT_THAT(parsed, IsOk());
    if (!parsed.ok()) return nullptr;
    target = *parsed;
    absl::StatusOr<std::unique_ptr<Store>> store = Reopen();
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<Store>> Reopen() {
    ASSIGN_OR_RETURN(std::unique_ptr<postgres::PostgresStore> store,
                     postgres::PostgresStore::Open(target));
    return std::unique_ptr<Store>(std::move(store));
  }
  absl::StatusOr<int64_t> Sql(const std::string& sql) {
    ASSIGN_OR_RETURN(std::unique_ptr<postgres::PgConnection> db,
                     postgres::PgConnection::Open(target));
    ASSIGN_OR_RETURN(const postgres::PgRows rows, db->Exec(sql));
    if (rows.rows.empty() || !rows.rows[0][0]) return 0;
    return std::stoll(*rows.rows[0][0]);
  }
  std::string NewerSchema() {
    return "UPDATE kvmfarm_schema SET version = " +
           std::to_string(postgres::PostgresStore::SchemaVersion() + 1);
  }
  void UseEmptyDatabase() {
    EXPECT_THAT(server->CreateDatabase("other"), IsOk());
    absl::StatusOr<postgres::PostgresTarget> parsed =
        postgres::ParsePostgresTarget(server->Uri("other"), "");
    EXPECT_THAT(parsed, IsOk());
    if (parsed.ok()) target = *parsed;
  }

  std::unique_ptr<testing::PostgresServer> server;
  postgres::PostgresTarget target;
};

template <typename Backend>
class StoreConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = backend_.Open();
    ASSERT_NE(store_, nullptr);
  }
  // The store goes before its server.
  void TearDown() override { store_.reset(); }

  Backend backend_;
  std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(StoreConformanceTest, Backends);

farm::v1::Device Device(const std::string& id, const std::string& rack) {
  farm::v1::Device device;
  device.set_device_id(id);
  farm::v1::Label* label = device.add_labels();
  label->set_key("rack");
  label->set_value(rack);
  return device;
}

farm::v1::DeviceEvent Event(const std::string& what) {
  farm::v1::DeviceEvent event;
  event.set_description(what);
  return event;
}

farm::v1::Task Task(const std::string& sweep, int n, const std::string& device) {
  farm::v1::Task task;
  task.set_sweep_id(sweep);
  task.set_task_id(sweep + "/t" + std::to_string(n));
  task.set_device_id(device);
  task.set_state(farm::v1::TASK_STATE_PENDING);
  return task;
}

farm::v1::Sweep Sweep(const std::string& id, int64_t created_s, farm::v1::SweepState state,
                      int tasks) {
  farm::v1::Sweep sweep;
  sweep.set_sweep_id(id);
  sweep.set_state(state);
  *sweep.mutable_created_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(created_s);
  for (int i = 0; i < tasks; ++i) *sweep.add_tasks() = Task(id, i, "d1");
  return sweep;
}

// `task` finished at `finished_s` with crypto.sha256 measured `values`.
farm::v1::Task Finished(farm::v1::Task task, int64_t finished_s, std::vector<double> values) {
  task.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  task.set_repetitions(static_cast<uint32_t>(values.size()));
  *task.mutable_finished_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(finished_s);
  farm::v1::Measurement* m = task.mutable_benchmark()->add_measurements();
  m->set_metric("crypto.sha256");
  m->set_unit("MB/s");
  m->set_mode(farm::v1::MODE_NATIVE);
  (*m->mutable_parameters())["size_bytes"] = "1048576";
  for (double v : values) m->add_values(v);
  return task;
}

TYPED_TEST(StoreConformanceTest, DevicesAreReplacedWholeWithTheirEventAndListedById) {
  Store& store = *this->store_;
  ASSERT_THAT(store.PutDevice(Device("d2", "r1"), Event("registered")), IsOk());
  ASSERT_THAT(store.PutDevice(Device("d1", "r1"), std::nullopt), IsOk());
  ASSERT_THAT(store.PutDevice(Device("d2", "r2"), Event("moved")), IsOk());
  absl::StatusOr<farm::v1::Device> d2 = store.GetDevice("d2");
  ASSERT_THAT(d2, IsOk());
  EXPECT_EQ(d2->labels(0).value(), "r2");
  absl::StatusOr<std::vector<farm::v1::Device>> all = store.ListDevices();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].device_id(), "d1");
  EXPECT_THAT(store.GetDevice("ghost"), StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(StoreConformanceTest, HistoryIsNewestFirstAndPagesByItsSequence) {
  Store& store = *this->store_;
  ASSERT_THAT(store.PutDevice(Device("d1", "r1"), Event("e1")), IsOk());
  for (const char* what : {"e2", "e3", "e4"}) {
    ASSERT_THAT(store.AppendDeviceEvent("d1", Event(what)), IsOk());
  }
  ASSERT_THAT(store.AppendDeviceEvent("other", Event("x")), IsOk());
  absl::StatusOr<std::vector<StoredDeviceEvent>> page = store.DeviceHistory("d1", 2, std::nullopt);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].event.description(), "e4");
  EXPECT_EQ((*page)[1].event.description(), "e3");
  absl::StatusOr<std::vector<StoredDeviceEvent>> next =
      store.DeviceHistory("d1", 10, (*page)[1].sequence);
  ASSERT_THAT(next, IsOk());
  ASSERT_EQ(next->size(), 2u);
  EXPECT_EQ((*next)[0].event.description(), "e2");
  EXPECT_EQ((*next)[1].event.description(), "e1");
}

TYPED_TEST(StoreConformanceTest, ASweepKeepsItsTasksInOrderThroughUpdates) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_QUEUED, 3)), IsOk());
  farm::v1::Task first = Task("s1", 0, "d1");
  first.set_state(farm::v1::TASK_STATE_RUNNING);
  ASSERT_THAT(store.PutTask(first), IsOk());
  absl::StatusOr<farm::v1::Sweep> sweep = store.GetSweep("s1", false);
  ASSERT_THAT(sweep, IsOk());
  ASSERT_EQ(sweep->tasks_size(), 3);
  EXPECT_EQ(sweep->tasks(0).task_id(), "s1/t0");
  EXPECT_EQ(sweep->tasks(0).state(), farm::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(sweep->tasks(2).task_id(), "s1/t2");
  EXPECT_THAT(store.GetSweep("nope", false), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.GetTask("s1/t9"), StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(StoreConformanceTest, SweepsListNewestFirstFilteredBeforeTheLimit) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("a", 100, farm::v1::SWEEP_STATE_SUCCEEDED, 0)), IsOk());
  ASSERT_THAT(store.CreateSweep(Sweep("b", 200, farm::v1::SWEEP_STATE_RUNNING, 0)), IsOk());
  ASSERT_THAT(store.CreateSweep(Sweep("c", 300, farm::v1::SWEEP_STATE_SUCCEEDED, 0)), IsOk());
  ASSERT_THAT(store.CreateSweep(Sweep("d", 300, farm::v1::SWEEP_STATE_SUCCEEDED, 0)), IsOk());
  SweepListQuery query;
  query.states = {farm::v1::SWEEP_STATE_SUCCEEDED};
  query.limit = 2;
  absl::StatusOr<std::vector<farm::v1::Sweep>> page = store.ListSweeps(query);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].sweep_id(), "d");
  EXPECT_EQ((*page)[1].sweep_id(), "c");
  query.after = std::make_pair(int64_t{300'000'000'000}, std::string("c"));
  page = store.ListSweeps(query);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].sweep_id(), "a");
}

// A stored result gives its attempt an outcome in the same transaction: a
// controller killed before FinishAttempt leaves no attempt without one.
TYPED_TEST(StoreConformanceTest, AStoredResultClosesItsAttempt) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 1)), IsOk());
  farm::v1::Task running = Task("s1", 0, "d1");
  running.set_attempt_id("a1");
  ASSERT_THAT(store.RecordAttempt(running), IsOk());
  ASSERT_THAT(store.StoreTaskResult(Finished(running, 500, {1.0}), "a1"), IsOkAndHolds(true));
  absl::StatusOr<std::vector<StoredAttempt>> attempts = store.TaskAttempts("s1/t0");
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome, "result stored");
}

TYPED_TEST(StoreConformanceTest, AttemptsAreRecordedWithTheirTaskAndClosed) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 1)), IsOk());
  farm::v1::Task running = Task("s1", 0, "d1");
  running.set_state(farm::v1::TASK_STATE_RUNNING);
  running.set_attempt_id("a1");
  ASSERT_THAT(store.RecordAttempt(running), IsOk());
  ASSERT_THAT(store.FinishAttempt("a1", "transport failure", "console..."), IsOk());
  absl::StatusOr<farm::v1::Task> task = store.GetTask("s1/t0");
  ASSERT_THAT(task, IsOk());
  EXPECT_EQ(task->attempt_id(), "a1");
  absl::StatusOr<std::vector<StoredAttempt>> attempts = store.TaskAttempts("s1/t0");
  ASSERT_THAT(attempts, IsOk());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome, "transport failure");
  EXPECT_EQ((*attempts)[0].console_log, "console...");
}

TYPED_TEST(StoreConformanceTest, AResultIsStoredOnceAndTheLatestSummaryWins) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 2)), IsOk());
  const farm::v1::Task newer = Finished(Task("s1", 0, "d1"), 500, {3.0, 1.0, 2.0});
  EXPECT_THAT(store.StoreTaskResult(newer, "a1"), IsOkAndHolds(true));
  // A late attempt of the same task stores nothing.
  EXPECT_THAT(store.StoreTaskResult(Finished(Task("s1", 0, "d1"), 600, {9.0}), "a2"),
              IsOkAndHolds(false));
  // An older figure of another task doesn't replace the newest.
  EXPECT_THAT(store.StoreTaskResult(Finished(Task("s1", 1, "d1"), 400, {7.0, 7.0}), "a3"),
              IsOkAndHolds(true));
  EXPECT_THAT(store.CountMeasurements(), IsOkAndHolds(5));
  absl::StatusOr<std::vector<StoredSummary>> latest = store.LatestSummaries({"d1"});
  ASSERT_THAT(latest, IsOk());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].task_id, "s1/t0");
  EXPECT_THAT((*latest)[0].measurement.values(), ElementsAre(3.0, 1.0, 2.0));
  EXPECT_EQ((*latest)[0].requested_repetitions, 3u);
  EXPECT_EQ((*latest)[0].parameters_key, ParametersKeyOf((*latest)[0]));
  EXPECT_THAT(store.LatestSummaries({"nobody"}), IsOkAndHolds(::testing::IsEmpty()));
  absl::StatusOr<std::vector<StoredSummary>> of_sweep = store.SweepSummaries("s1");
  ASSERT_THAT(of_sweep, IsOk());
  EXPECT_EQ(of_sweep->size(), 2u);
  // A device's summaries, newest first, as many as asked for.
  absl::StatusOr<std::vector<StoredSummary>> of_device = store.DeviceSummaries("d1", 10);
  ASSERT_THAT(of_device, IsOk());
  ASSERT_EQ(of_device->size(), 2u);
  EXPECT_EQ((*of_device)[0].task_id, "s1/t0");
  EXPECT_EQ((*of_device)[1].task_id, "s1/t1");
  absl::StatusOr<std::vector<StoredSummary>> newest = store.DeviceSummaries("d1", 1);
  ASSERT_THAT(newest, IsOk());
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ((*newest)[0].task_id, "s1/t0");
  EXPECT_THAT(store.DeviceSummaries("nobody", 10), IsOkAndHolds(::testing::IsEmpty()));
  // The task carries its stored result, not the late one.
  absl::StatusOr<farm::v1::Sweep> sweep = store.GetSweep("s1", true);
  ASSERT_THAT(sweep, IsOk());
  ASSERT_TRUE(sweep->tasks(0).has_benchmark());
  EXPECT_THAT(sweep->tasks(0).benchmark().measurements(0).values(), ElementsAre(3.0, 1.0, 2.0));
  absl::StatusOr<farm::v1::Sweep> without = store.GetSweep("s1", false);
  ASSERT_THAT(without, IsOk());
  EXPECT_FALSE(without->tasks(0).has_benchmark());
}

// Whatever text an agent reports is stored as it was: quotes, backslashes, commas
// and braces in names and parameters (PostgreSQL gets them as arrays), and a metric
// reported twice in one result (the later is the latest).
TYPED_TEST(StoreConformanceTest, AResultWithAwkwardTextAndARepeatedMetricIsStoredWhole) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 1)), IsOk());
  farm::v1::Task task = Finished(Task("s1", 0, "d1"), 500, {1.5, -2.25e300});
  const std::string awkward = R"(a "quoted", \back{slash} 'x' ünï)";
  farm::v1::Measurement* first = task.mutable_benchmark()->mutable_measurements(0);
  first->set_metric(awkward);
  (*first->mutable_parameters())["size_bytes"] = "1,2,{3}";
  farm::v1::Measurement* again = task.mutable_benchmark()->add_measurements();
  *again = *first;
  again->clear_values();
  again->add_values(7.0);
  ASSERT_THAT(store.StoreTaskResult(task, "a1"), IsOkAndHolds(true));
  EXPECT_THAT(store.CountMeasurements(), IsOkAndHolds(3));
  absl::StatusOr<std::vector<StoredSummary>> latest = store.LatestSummaries({"d1"});
  ASSERT_THAT(latest, IsOk());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].measurement.metric(), awkward);
  EXPECT_EQ((*latest)[0].parameters_key, ParametersKeyOf((*latest)[0]));
  EXPECT_THAT((*latest)[0].measurement.values(), ElementsAre(7.0));
  absl::StatusOr<std::vector<StoredSummary>> all = store.SweepSummaries("s1");
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  absl::StatusOr<farm::v1::Task> stored = store.GetTask("s1/t0");
  ASSERT_THAT(stored, IsOk());
  EXPECT_THAT(stored->benchmark().measurements(0).values(), ElementsAre(1.5, -2.25e300));
  EXPECT_EQ(stored->benchmark().measurements(0).parameters().at("size_bytes"), "1,2,{3}");
}

TYPED_TEST(StoreConformanceTest, RetentionRemovesOldRawRowsAndLogsAndKeepsSummaries) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 2)), IsOk());
  farm::v1::Task old_task = Task("s1", 0, "d1");
  old_task.set_attempt_id("a1");
  ASSERT_THAT(store.RecordAttempt(old_task), IsOk());
  ASSERT_THAT(store.FinishAttempt("a1", "result stored", "old console"), IsOk());
  ASSERT_THAT(store.StoreTaskResult(Finished(old_task, 500, {3.0, 1.0, 2.0}), "a1"),
              IsOkAndHolds(true));
  const int64_t cutoff = absl::GetCurrentTimeNanos();
  farm::v1::Task new_task = Task("s1", 1, "d2");
  new_task.set_attempt_id("a2");
  ASSERT_THAT(store.RecordAttempt(new_task), IsOk());
  ASSERT_THAT(store.FinishAttempt("a2", "result stored", "new console"), IsOk());
  ASSERT_THAT(store.StoreTaskResult(Finished(new_task, 600, {8.0, 9.0}), "a2"), IsOkAndHolds(true));
  absl::StatusOr<std::vector<StoredSummary>> before = store.LatestSummaries({});
  ASSERT_THAT(before, IsOk());

  // At most one result a call: the older one is the only one to go.
  absl::StatusOr<PrunedRawLogs> pruned = store.PruneRawLogs(cutoff, 1);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->results, 1);
  EXPECT_EQ(pruned->measurements, 3);
  EXPECT_EQ(pruned->console_logs, 1);
  EXPECT_THAT(store.CountMeasurements(), IsOkAndHolds(2));
  // The summaries, the stored result and the attempt's outcome stay.
  absl::StatusOr<std::vector<StoredSummary>> after = store.LatestSummaries({});
  ASSERT_THAT(after, IsOk());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].task_id, (*before)[i].task_id);
    EXPECT_EQ((*after)[i].measurement.SerializeAsString(),
              (*before)[i].measurement.SerializeAsString());
  }
  absl::StatusOr<farm::v1::Task> kept = store.GetTask("s1/t0");
  ASSERT_THAT(kept, IsOk());
  EXPECT_THAT(kept->benchmark().measurements(0).values(), ElementsAre(3.0, 1.0, 2.0));
  absl::StatusOr<std::vector<StoredAttempt>> old_attempts = store.TaskAttempts("s1/t0");
  ASSERT_THAT(old_attempts, IsOk());
  ASSERT_EQ(old_attempts->size(), 1u);
  EXPECT_EQ((*old_attempts)[0].outcome, "result stored");
  EXPECT_EQ((*old_attempts)[0].console_log, "");
  absl::StatusOr<std::vector<StoredAttempt>> new_attempts = store.TaskAttempts("s1/t1");
  ASSERT_THAT(new_attempts, IsOk());
  EXPECT_EQ((*new_attempts)[0].console_log, "new console");
  // Nothing more to prune at the same cutoff.
  pruned = store.PruneRawLogs(cutoff, 0);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->results + pruned->measurements + pruned->console_logs, 0);
}

// A restarted controller finds everything its predecessor stored, and opening an
// up-to-date database changes nothing.
TYPED_TEST(StoreConformanceTest, AReopenedDatabaseKeepsEverything) {
  ASSERT_THAT(this->store_->PutDevice(Device("d1", "r1"), Event("registered")), IsOk());
  ASSERT_THAT(this->store_->CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 1)),
              IsOk());
  ASSERT_THAT(this->store_->StoreTaskResult(Finished(Task("s1", 0, "d1"), 500, {1.0, 2.0}), "a1"),
              IsOkAndHolds(true));
  this->store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> reopened = this->backend_.Reopen();
  ASSERT_THAT(reopened, IsOk());
  this->store_ = *std::move(reopened);
  EXPECT_THAT(this->store_->GetDevice("d1"), IsOk());
  EXPECT_THAT(this->store_->CountMeasurements(), IsOkAndHolds(2));
  EXPECT_THAT(this->store_->StoreTaskResult(Finished(Task("s1", 0, "d1"), 600, {3.0}), "a2"),
              IsOkAndHolds(false));
}

// A database from a newer kvmfarm is refused, and not migrated down or written.
TYPED_TEST(StoreConformanceTest, ADatabaseOfANewerSchemaIsRefused) {
  ASSERT_THAT(this->store_->PutDevice(Device("d1", "r1"), std::nullopt), IsOk());
  this->store_.reset();
  ASSERT_THAT(this->backend_.Sql(this->backend_.NewerSchema()), IsOk());
  EXPECT_THAT(this->backend_.Reopen(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
  EXPECT_THAT(this->backend_.Sql("SELECT count(*) FROM devices"), IsOkAndHolds(1));
}

// Another application's database is refused and left as it was: no table added.
TYPED_TEST(StoreConformanceTest, ADatabaseOfSomethingElseIsRefusedAndLeftAsItWas) {
  this->backend_.UseEmptyDatabase();
  ASSERT_THAT(this->backend_.Sql("CREATE TABLE invoices (id INTEGER)"), IsOk());
  ASSERT_THAT(this->backend_.Sql("INSERT INTO invoices VALUES (7)"), IsOk());
  EXPECT_THAT(this->backend_.Reopen(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("something else")));
  EXPECT_THAT(this->backend_.Sql("SELECT count(*) FROM invoices"), IsOkAndHolds(1));
  EXPECT_THAT(this->backend_.Sql("SELECT count(*) FROM devices"), Not(IsOk()));
}

// Leadership among controllers on one database (issue 18): a lease that runs out,
// renewed by its holder under the same epoch, taken by another under the next.
TYPED_TEST(StoreConformanceTest, LeadershipIsALeaseWhoseEpochGrowsWithEachNewHolder) {
  Store& store = *this->store_;
  absl::StatusOr<Leadership> lease = store.ClaimLeadership("a", 0, 10);
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "a");
  EXPECT_EQ(lease->epoch, 1);
  lease = store.ClaimLeadership("b", 5, 10);  // a's lease runs until 10
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "a");
  lease = store.ClaimLeadership("a", 8, 10);  // renewed: the same term
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->epoch, 1);
  EXPECT_EQ(lease->expires_ns, 18);
  lease = store.ClaimLeadership("b", 18, 10);  // run out: b's term
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "b");
  EXPECT_EQ(lease->epoch, 2);
  EXPECT_EQ(lease->acquired_ns, 18);
  ASSERT_THAT(store.ReleaseLeadership("a"), IsOk());  // not a's to give up
  lease = store.ClaimLeadership("a", 20, 10);
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "b");
  ASSERT_THAT(store.ReleaseLeadership("b"), IsOk());  // a clean shutdown
  lease = store.ClaimLeadership("a", 21, 10);
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ(lease->holder, "a");
  EXPECT_EQ(lease->epoch, 3);
  // Replicas report themselves; listed by name with the lease.
  ASSERT_THAT(store.ReportReplica({"b", "10.0.0.2:7421", 20}), IsOk());
  ASSERT_THAT(store.ReportReplica({"a", "10.0.0.1:7421", 5}), IsOk());
  ASSERT_THAT(store.ReportReplica({"a", "10.0.0.1:7421", 21}), IsOk());
  auto replicas = store.Replicas();
  ASSERT_THAT(replicas, IsOk());
  EXPECT_EQ(replicas->first.holder, "a");
  EXPECT_EQ(replicas->first.acquired_ns, 21);
  ASSERT_EQ(replicas->second.size(), 2u);
  EXPECT_EQ(replicas->second[0].name, "a");
  EXPECT_EQ(replicas->second[0].seen_ns, 21);
  EXPECT_EQ(replicas->second[1].address, "10.0.0.2:7421");
}

// A leader that was paused past its lease wakes up under an old epoch: the store
// refuses its attempts and results.
TYPED_TEST(StoreConformanceTest, AFencedStoreWritesNothingUnderAnOldEpoch) {
  Store& store = *this->store_;
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 2)), IsOk());
  ASSERT_THAT(store.ClaimLeadership("a", 0, 10), IsOk());
  store.SetFencingEpoch(1);
  farm::v1::Task first = Task("s1", 0, "d1");
  first.set_attempt_id("a1");
  ASSERT_THAT(store.RecordAttempt(first), IsOk());
  absl::StatusOr<Leadership> taken = store.ClaimLeadership("b", 100, 10);
  ASSERT_THAT(taken, IsOk());
  ASSERT_EQ(taken->epoch, 2);
  farm::v1::Task second = Task("s1", 1, "d1");
  second.set_attempt_id("a2");
  EXPECT_THAT(store.RecordAttempt(second),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("epoch 2 leads now")));
  EXPECT_THAT(store.StoreTaskResult(Finished(first, 500, {1.0}), "a1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fenced")));
  EXPECT_THAT(store.CountMeasurements(), IsOkAndHolds(0));
  EXPECT_THAT(store.TaskAttempts("s1/t1"), IsOkAndHolds(::testing::IsEmpty()));
  // The new leader's epoch writes.
  store.SetFencingEpoch(2);
  EXPECT_THAT(store.StoreTaskResult(Finished(first, 500, {1.0}), "a1"), IsOkAndHolds(true));
}

// What a replica must hear of (issue 18), each once, in the order written.
TYPED_TEST(StoreConformanceTest, TheChangeFeedHasEveryWriteAReplicaFollowsOnce) {
  Store& store = *this->store_;
  absl::StatusOr<int64_t> cursor = store.ChangeCursor();
  ASSERT_THAT(cursor, IsOk());
  ASSERT_THAT(store.PutDevice(Device("d1", "r1"), Event("registered")), IsOk());
  ASSERT_THAT(store.CreateSweep(Sweep("s1", 100, farm::v1::SWEEP_STATE_RUNNING, 1)), IsOk());
  farm::v1::Task running = Task("s1", 0, "d1");
  running.set_attempt_id("a1");
  ASSERT_THAT(store.RecordAttempt(running), IsOk());
  ASSERT_THAT(store.StoreTaskResult(Finished(running, 500, {1.0}), "a1"), IsOkAndHolds(true));
  absl::StatusOr<ChangeBatch> batch = store.ChangesSince(*cursor);
  ASSERT_THAT(batch, IsOk());
  std::vector<std::string> seen;
  for (const StoredChange& change : batch->changes) {
    seen.push_back(change.kind + ":" + change.id +
                   (change.parent.empty() ? "" : "@" + change.parent));
  }
  // The sweep's creation, its task's attempt and its result: the task three times
  // (in a transaction's own order, which each backend may write differently).
  EXPECT_THAT(seen,
              ::testing::UnorderedElementsAre("device:d1", "sweep:s1", "task:s1/t0@s1",
                                              "task:s1/t0@s1", "task:s1/t0@s1", "summary:d1"));
  absl::StatusOr<ChangeBatch> again = store.ChangesSince(batch->cursor);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->changes, ::testing::IsEmpty());
  ASSERT_THAT(store.PutDevice(Device("d2", "r1"), std::nullopt), IsOk());
  absl::StatusOr<ChangeBatch> next = store.ChangesSince(again->cursor);
  ASSERT_THAT(next, IsOk());
  ASSERT_EQ(next->changes.size(), 1u);
  EXPECT_EQ(next->changes[0].id, "d2");
  // Pruned, the feed starts after what it removed: nothing old comes back.
  ASSERT_THAT(store.PruneChanges(std::numeric_limits<int64_t>::max()), IsOk());
  absl::StatusOr<int64_t> after_prune = store.ChangeCursor();
  ASSERT_THAT(after_prune, IsOk());
  EXPECT_GE(*after_prune, next->cursor);
  EXPECT_THAT(store.ChangesSince(*cursor),
              IsOkAndHolds(::testing::Field(&ChangeBatch::changes, ::testing::IsEmpty())));
}

TYPED_TEST(StoreConformanceTest, HeartbeatsFromEveryReplicaKeepEachDevicesLatest) {
  Store& store = *this->store_;
  ASSERT_THAT(store.RecordHeartbeats("a", {{"d1", 100}, {"d2", 200}}), IsOk());
  ASSERT_THAT(store.RecordHeartbeats("b", {{"d1", 50}, {"d3", 300}, {"d3", 250}}), IsOk());
  absl::StatusOr<std::vector<StoredHeartbeat>> all = store.HeartbeatsSince(0);
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> seen;
  for (const StoredHeartbeat& h : *all)
    seen.push_back(h.device_id + "@" + std::to_string(h.seen_ns));
  EXPECT_THAT(seen, ::testing::ElementsAre("d1@100", "d2@200", "d3@300"));
  absl::StatusOr<std::vector<StoredHeartbeat>> recent = store.HeartbeatsSince(200);
  ASSERT_THAT(recent, IsOk());
  EXPECT_EQ(recent->size(), 2u);
  EXPECT_THAT(store.RecordHeartbeats("a", {}), IsOk());
}

TYPED_TEST(StoreConformanceTest, TheFirstCancelRequestForASweepStandsUntilForgotten) {
  Store& store = *this->store_;
  ASSERT_THAT(store.RequestCancel({"s1", "wrong devices", "operator:alice", 10}), IsOk());
  ASSERT_THAT(store.RequestCancel({"s1", "again", "operator:bob", 20}), IsOk());
  ASSERT_THAT(store.RequestCancel({"s2", "", "operator:bob", 30}), IsOk());
  absl::StatusOr<std::vector<CancelRequest>> requests = store.CancelRequests();
  ASSERT_THAT(requests, IsOk());
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[0].sweep_id, "s1");
  EXPECT_EQ((*requests)[0].reason, "wrong devices");
  EXPECT_EQ((*requests)[0].requested_by, "operator:alice");
  EXPECT_EQ((*requests)[0].requested_ns, 10);
  ASSERT_THAT(store.ForgetCancelRequest("s1"), IsOk());
  requests = store.CancelRequests();
  ASSERT_THAT(requests, IsOk());
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ((*requests)[0].sweep_id, "s2");
}

// Baselines (issue 20): one per scope and key, the newer replacing the older.
TYPED_TEST(StoreConformanceTest, ABaselinePerScopeAndKeyTheNewerReplacingTheOlder) {
  Store& store = *this->store_;
  farm::v1::Baseline model;
  model.set_scope(farm::v1::BASELINE_SCOPE_MODEL);
  model.set_key("Pixel 8");
  model.set_sweep_id("s1");
  farm::v1::Baseline device = model;
  device.set_scope(farm::v1::BASELINE_SCOPE_DEVICE);
  device.set_key("d1");
  ASSERT_THAT(store.PutBaseline(model), IsOk());
  ASSERT_THAT(store.PutBaseline(device), IsOk());
  model.set_sweep_id("s2");
  model.set_set_by("alice");
  ASSERT_THAT(store.PutBaseline(model), IsOk());
  absl::StatusOr<std::vector<farm::v1::Baseline>> baselines = store.ListBaselines();
  ASSERT_THAT(baselines, IsOk());
  ASSERT_EQ(baselines->size(), 2u);
  EXPECT_EQ((*baselines)[0].key(), "d1");
  EXPECT_EQ((*baselines)[1].sweep_id(), "s2");
  EXPECT_EQ((*baselines)[1].set_by(), "alice");
}

// Regression records: updated whole by id, listed newest first, open ones or a
// device's alone when asked.
TYPED_TEST(StoreConformanceTest, RegressionsAreUpdatedByIdAndListedNewestFirst) {
  Store& store = *this->store_;
  auto regression = [](const std::string& id, const std::string& device, int64_t opened_s) {
    farm::v1::Regression r;
    r.set_regression_id(id);
    r.set_device_id(device);
    r.set_state(farm::v1::REGRESSION_STATE_OPEN);
    *r.mutable_opened_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(opened_s);
    return r;
  };
  ASSERT_THAT(store.PutRegression(regression("r1", "d1", 10)), IsOk());
  ASSERT_THAT(store.PutRegression(regression("r2", "d2", 20)), IsOk());
  farm::v1::Regression fixed = regression("r1", "d1", 10);
  fixed.set_state(farm::v1::REGRESSION_STATE_FIXED);
  fixed.set_fixed_sweep_id("s3");
  ASSERT_THAT(store.PutRegression(fixed), IsOk());
  auto ids = [](const absl::StatusOr<std::vector<farm::v1::Regression>>& list) {
    std::vector<std::string> out;
    if (list.ok()) {
      for (const farm::v1::Regression& r : *list) out.push_back(r.regression_id());
    }
    return out;
  };
  EXPECT_THAT(ids(store.ListRegressions(false, "")), ElementsAre("r2", "r1"));
  EXPECT_THAT(ids(store.ListRegressions(true, "")), ElementsAre("r2"));
  EXPECT_THAT(ids(store.ListRegressions(false, "d1")), ElementsAre("r1"));
  absl::StatusOr<std::vector<farm::v1::Regression>> d1 = store.ListRegressions(false, "d1");
  ASSERT_THAT(d1, IsOk());
  EXPECT_EQ((*d1)[0].fixed_sweep_id(), "s3");
}

// Schedules (issue 21): created once by id, deleted by id, and advanced only from
// the next run they were read with, under the leader's epoch.
TYPED_TEST(StoreConformanceTest, ASchedulesRunIsClaimedOnceFromTheNextRunItWasReadWith) {
  Store& store = *this->store_;
  farm::v1::Schedule nightly;
  nightly.set_schedule_id("nightly");
  *nightly.mutable_every() = google::protobuf::util::TimeUtil::HoursToDuration(24);
  *nightly.mutable_next_run_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(100);
  ASSERT_THAT(store.CreateSchedule(nightly), IsOk());
  EXPECT_THAT(store.CreateSchedule(nightly),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("nightly")));
  farm::v1::Schedule ran = nightly;
  *ran.mutable_next_run_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(200);
  ran.set_last_sweep_id("s1");
  ASSERT_THAT(store.ClaimLeadership("a", 0, 10), IsOk());
  store.SetFencingEpoch(1);
  EXPECT_THAT(store.AdvanceSchedule(ran, 100'000'000'000), IsOkAndHolds(true));
  // A second leader that read the same run finds it taken.
  EXPECT_THAT(store.AdvanceSchedule(ran, 100'000'000'000), IsOkAndHolds(false));
  absl::StatusOr<std::vector<farm::v1::Schedule>> listed = store.ListSchedules();
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].last_sweep_id(), "s1");
  EXPECT_EQ((*listed)[0].next_run_at().seconds(), 200);
  // A deposed leader advances nothing.
  ASSERT_THAT(store.ClaimLeadership("b", 100, 10), IsOk());
  EXPECT_THAT(store.AdvanceSchedule(ran, 200'000'000'000),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store.DeleteSchedule("nightly"), IsOk());
  EXPECT_THAT(store.DeleteSchedule("nightly"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.ListSchedules(), IsOkAndHolds(::testing::IsEmpty()));
  store.SetFencingEpoch(2);
  EXPECT_THAT(store.AdvanceSchedule(ran, 200'000'000'000), IsOkAndHolds(false));  // deleted
}

}  // namespace
}  // namespace kvmfarm::store
