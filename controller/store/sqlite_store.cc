#include "controller/store/sqlite_store.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/measurement.h"
#include "common/status_macros.h"
#include "controller/store/leadership_sql.h"
#include "controller/store/regression_sql.h"
#include "controller/store/replication_sql.h"
#include "controller/store/schedule_sql.h"
#include "controller/store/task_rows.h"

namespace kvmfarm::store {
namespace {

using google::protobuf::util::TimeUtil;

// Schema migrations, in order; migration i brings the database to version i + 1.
// Never edit one that has shipped: append.
const char* const kMigrations[] = {
    // 1: devices, history, sweeps, tasks, attempts, results and raw measurements.
    R"sql(
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY,
  proto BLOB NOT NULL
);
CREATE TABLE device_labels (
  device_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  source INTEGER NOT NULL,
  PRIMARY KEY (device_id, key, value)
);
CREATE INDEX device_labels_by_key ON device_labels (key, value);
CREATE TABLE device_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  time_ns INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX device_events_by_device ON device_events (device_id, id);
CREATE TABLE sweeps (
  sweep_id TEXT PRIMARY KEY,
  state INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE TABLE tasks (
  task_id TEXT PRIMARY KEY,
  sweep_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX tasks_by_sweep ON tasks (sweep_id);
CREATE TABLE attempts (
  attempt_id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  started_ns INTEGER NOT NULL,
  outcome TEXT,
  console_log TEXT
);
CREATE INDEX attempts_by_task ON attempts (task_id);
CREATE TABLE results (
  task_id TEXT PRIMARY KEY,
  attempt_id TEXT NOT NULL,
  stored_ns INTEGER NOT NULL,
  result_json TEXT NOT NULL
);
CREATE TABLE measurements (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  attempt_id TEXT NOT NULL,
  sweep_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  mode INTEGER NOT NULL,
  unit TEXT NOT NULL,
  parameters TEXT NOT NULL,
  repetition INTEGER NOT NULL,
  value REAL NOT NULL
);
CREATE INDEX measurements_by_device ON measurements (device_id, metric, mode);
CREATE INDEX measurements_by_sweep ON measurements (sweep_id);
)sql",
    // 2: a summary per task and metric (median/min/max/samples), so the matrix never
    // recomputes medians over raw rows (SQLite has no median).
    R"sql(
CREATE TABLE summaries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  sweep_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  mode INTEGER NOT NULL,
  parameters TEXT NOT NULL,
  measured_ns INTEGER NOT NULL,
  requested INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX summaries_latest ON summaries (device_id, metric, mode, parameters, measured_ns);
CREATE INDEX summaries_by_sweep ON summaries (sweep_id);
)sql",
    // 3: the latest summary per device, metric, mode and parameters, kept up to date
    // at store time, so the matrix reads rows instead of grouping all summaries.
    R"sql(
CREATE TABLE latest_summaries (
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  mode INTEGER NOT NULL,
  parameters TEXT NOT NULL,
  summary_id INTEGER NOT NULL,
  measured_ns INTEGER NOT NULL,
  PRIMARY KEY (device_id, metric, mode, parameters)
);
INSERT INTO latest_summaries
  SELECT device_id, metric, mode, parameters, MAX(id), MAX(measured_ns) FROM summaries
  GROUP BY device_id, metric, mode, parameters;
)sql",
    // 4: sweeps newest first, paged by (created_ns, sweep_id), without sorting them all.
    R"sql(
CREATE INDEX sweeps_by_created ON sweeps (created_ns, sweep_id);
)sql",
    // 5: retention (PruneRawLogs) finds the results whose raw rows are still kept,
    // oldest first, and their rows, without scanning every measurement.
    R"sql(
ALTER TABLE results ADD COLUMN raw_pruned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_unpruned ON results (stored_ns) WHERE raw_pruned = 0;
CREATE INDEX measurements_by_task ON measurements (task_id);
)sql",
    // 6: the controllers' leader (ClaimLeadership): one row, a lease and its epoch.
    R"sql(
CREATE TABLE leadership (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  acquired_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL
);
CREATE TABLE replicas (
  name TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  seen_ns INTEGER NOT NULL
);
)sql",
    // 7: what replicas share (issue 18): the change feed, noted by triggers in each
    // write's own transaction (a SQLite file has one writer at a time, so `seq`
    // orders them as they committed); heartbeats; cancels asked of a follower.
    R"sql(
CREATE TABLE changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_s INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  parent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX changes_by_age ON changes (at_s);
CREATE TRIGGER devices_insert_noted AFTER INSERT ON devices BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('device', NEW.device_id, '');
END;
CREATE TRIGGER devices_update_noted AFTER UPDATE ON devices BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('device', NEW.device_id, '');
END;
CREATE TRIGGER sweeps_insert_noted AFTER INSERT ON sweeps BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('sweep', NEW.sweep_id, '');
END;
CREATE TRIGGER sweeps_update_noted AFTER UPDATE ON sweeps BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('sweep', NEW.sweep_id, '');
END;
CREATE TRIGGER tasks_insert_noted AFTER INSERT ON tasks BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('task', NEW.task_id, NEW.sweep_id);
END;
CREATE TRIGGER tasks_update_noted AFTER UPDATE ON tasks BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('task', NEW.task_id, NEW.sweep_id);
END;
CREATE TRIGGER latest_summaries_insert_noted AFTER INSERT ON latest_summaries BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('summary', NEW.device_id, '');
END;
CREATE TRIGGER latest_summaries_update_noted AFTER UPDATE ON latest_summaries BEGIN
  INSERT INTO changes (kind, id, parent) VALUES ('summary', NEW.device_id, '');
END;
CREATE TABLE heartbeats (
  device_id TEXT PRIMARY KEY,
  seen_ns INTEGER NOT NULL,
  replica TEXT NOT NULL
);
CREATE INDEX heartbeats_by_time ON heartbeats (seen_ns);
CREATE TABLE cancel_requests (
  sweep_id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_ns INTEGER NOT NULL
);
)sql",
    // 8: baselines and regression records (issue 20).
    R"sql(
CREATE TABLE baselines (
  scope INTEGER NOT NULL,
  key TEXT NOT NULL,
  sweep_id TEXT NOT NULL,
  proto BLOB NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE regressions (
  regression_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  opened_ns INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX regressions_by_state ON regressions (state, opened_ns);
)sql",
    // 9: recurring sweeps and health checks (issue 21).
    R"sql(
CREATE TABLE schedules (
  schedule_id TEXT PRIMARY KEY,
  next_run_ns INTEGER NOT NULL,
  proto BLOB NOT NULL
);
)sql",
};

std::string Serialize(const google::protobuf::Message& message) {
  return message.SerializeAsString();
}

template <typename Message>
absl::StatusOr<Message> Parse(const std::string& bytes, absl::string_view what) {
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("stored ", what, " does not parse"));
  }
  return message;
}

// Every row of `query`, column 0 parsed as a `Message`.
template <typename Message>
absl::StatusOr<std::vector<Message>> ReadProtos(Statement& query, absl::string_view what) {
  std::vector<Message> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(Message message, Parse<Message>(query.ColumnBlob(0), what));
    out.push_back(std::move(message));
  }
}

// Every row of `query`, each made into a value by `make` (which reads the columns).
template <typename Make>
auto ReadRows(Statement& query, Make make)
    -> absl::StatusOr<std::vector<decltype(make(std::as_const(query)))>> {
  std::vector<decltype(make(std::as_const(query)))> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) return out;
    out.push_back(make(std::as_const(query)));
  }
}

// A row of kReadLeadership.
Leadership LeadershipOf(const Statement& row) {
  return {row.ColumnText(0), row.ColumnInt(1), row.ColumnInt(2), row.ColumnInt(3)};
}

// A task row (proto, result_json): the task, carrying its stored result when
// `include_result` and there is one.
absl::StatusOr<farm::v1::Task> ReadTask(const Statement& row, bool include_result) {
  ASSIGN_OR_RETURN(farm::v1::Task task, Parse<farm::v1::Task>(row.ColumnBlob(0), "task"));
  if (include_result && !row.ColumnIsNull(1)) MergeStoredResult(row.ColumnText(1), &task);
  return task;
}

// Results whose raw rows PruneRawLogs removes in one transaction.
constexpr int64_t kPruneBatch = 500;

constexpr char kTaskWithResult[] =
    "SELECT t.proto, r.result_json FROM tasks t LEFT JOIN results r ON r.task_id = t.task_id ";

// StoreTaskResult's steps, inside its transaction.

absl::StatusOr<bool> HasResult(Database& db, const std::string& task_id) {
  ASSIGN_OR_RETURN(Statement exists, db.Prepare("SELECT 1 FROM results WHERE task_id = ?"));
  exists.Bind(1, task_id);
  return exists.Step();
}

absl::Status InsertResult(Database& db, const farm::v1::Task& task, const std::string& attempt_id) {
  ASSIGN_OR_RETURN(const std::string json, ResultJson(task));
  ASSIGN_OR_RETURN(Statement insert,
                   db.Prepare("INSERT INTO results (task_id, attempt_id, stored_ns, result_json) "
                              "VALUES (?, ?, ?, ?)"));
  return insert.Bind(1, task.task_id()).Bind(2, attempt_id).Bind(3, NowNs()).Bind(4, json).Run();
}

// The attempt's outcome, with its result: a controller that dies before
// FinishAttempt (which adds the console log) leaves no attempt without one.
absl::Status MarkAttemptStored(Database& db, const std::string& attempt_id) {
  ASSIGN_OR_RETURN(Statement mark, db.Prepare(kMarkAttemptStored));
  return mark.Bind(1, attempt_id).Run();
}

// Every repetition's value, a row each.
absl::Status InsertMeasurements(Database& db, const farm::v1::Task& task,
                                const std::string& attempt_id) {
  const auto* measurements = MeasurementsOf(task);
  if (measurements == nullptr) return absl::OkStatus();
  for (const farm::v1::Measurement& m : *measurements) {
    for (int rep = 0; rep < m.values_size(); ++rep) {
      ASSIGN_OR_RETURN(
          Statement row,
          db.Prepare("INSERT INTO measurements (task_id, attempt_id, sweep_id, device_id, metric, "
                     "mode, unit, parameters, repetition, value) VALUES (?,?,?,?,?,?,?,?,?,?)"));
      RETURN_IF_ERROR(row.Bind(1, task.task_id())
                          .Bind(2, attempt_id)
                          .Bind(3, task.sweep_id())
                          .Bind(4, task.device_id())
                          .Bind(5, m.metric())
                          .Bind(6, static_cast<int64_t>(m.mode()))
                          .Bind(7, m.unit())
                          .Bind(8, ParametersKey(m.parameters()))
                          .Bind(9, static_cast<int64_t>(rep))
                          .BindDouble(10, m.values(rep))
                          .Run());
    }
  }
  return absl::OkStatus();
}

// A summary per metric, and latest_summaries pointed at it when it is the newest.
absl::Status InsertSummaries(Database& db, const farm::v1::Task& task) {
  const auto* measurements = MeasurementsOf(task);
  if (measurements == nullptr) return absl::OkStatus();
  const int64_t measured_ns = TimeUtil::TimestampToNanoseconds(task.finished_at());
  for (const farm::v1::Measurement& m : *measurements) {
    if (m.values().empty()) continue;
    ASSIGN_OR_RETURN(
        Statement row,
        db.Prepare("INSERT INTO summaries (task_id, sweep_id, device_id, metric, mode, parameters, "
                   "measured_ns, requested, proto) VALUES (?,?,?,?,?,?,?,?,?)"));
    RETURN_IF_ERROR(row.Bind(1, task.task_id())
                        .Bind(2, task.sweep_id())
                        .Bind(3, task.device_id())
                        .Bind(4, m.metric())
                        .Bind(5, static_cast<int64_t>(m.mode()))
                        .Bind(6, ParametersKey(m.parameters()))
                        .Bind(7, measured_ns)
                        .Bind(8, static_cast<int64_t>(RequestedRepetitions(task)))
                        .BindBlob(9, Serialize(m))
                        .Run());
    ASSIGN_OR_RETURN(
        Statement latest,
        db.Prepare("INSERT INTO latest_summaries (device_id, metric, mode, parameters, summary_id, "
                   "measured_ns) VALUES (?,?,?,?,last_insert_rowid(),?) "
                   "ON CONFLICT (device_id, metric, mode, parameters) DO UPDATE SET "
                   "summary_id = excluded.summary_id, measured_ns = excluded.measured_ns "
                   "WHERE excluded.measured_ns >= latest_summaries.measured_ns"));
    RETURN_IF_ERROR(latest.Bind(1, task.device_id())
                        .Bind(2, m.metric())
                        .Bind(3, static_cast<int64_t>(m.mode()))
                        .Bind(4, ParametersKey(m.parameters()))
                        .Bind(5, measured_ns)
                        .Run());
  }
  return absl::OkStatus();
}

}  // namespace

void RemoveSqliteDatabase(const std::string& path) {
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix, ignored);
  }
}

int SqliteStore::SchemaVersion() { return sizeof(kMigrations) / sizeof(kMigrations[0]); }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path));
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db)));
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::Status SqliteStore::Migrate() {
  absl::MutexLock lock(&mu_);
  // Ours or empty, decided from reads alone, before anything is written (even the
  // journal mode, which rewrites the header): anything else is left byte for byte.
  absl::StatusOr<int64_t> app = db_->QueryInt("PRAGMA application_id");
  absl::StatusOr<int64_t> objects = db_->QueryInt("SELECT count(*) FROM sqlite_master");
  absl::StatusOr<int64_t> tables =
      db_->QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  absl::StatusOr<int64_t> version = db_->QueryInt("PRAGMA user_version");
  if (!app.ok() || !objects.ok() || !tables.ok() || !version.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_->path(), " cannot be read as a database"));
  }
  // Ours: our application id. Empty: a new (zero-length) file, or a SQLite
  // database with nothing in it and neither id nor version set.
  const bool ours = *app == kApplicationId;
  const bool empty = *app == 0 && *objects == 0 && *version == 0;
  if (!ours && !empty) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_->path(), " is a SQLite database of something else (",
                     *app == 0 ? "no application_id" : absl::StrCat("application_id ", *app), ", ",
                     *tables, *tables == 1 ? " table" : " tables",
                     *version == 0 ? "" : absl::StrCat(", user_version ", *version),
                     "; kvmfarm's have application_id ", kApplicationId,
                     "); refusing to use or overwrite it: give --db a new or kvmfarm file"));
  }
  if (*version > SchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        db_->path(), " has schema version ", *version, ", newer than this controller's ",
        SchemaVersion(), ": run a newer farm-controller"));
  }
  if (*objects > 0) {
    absl::Status whole = db_->QuickCheck();
    if (!whole.ok())
      return absl::Status(whole.code(), absl::StrCat(whole.message(), "; refusing to use it"));
  }
  // WAL, and synchronous=FULL: every commit is on disk when it returns, so it
  // survives a power loss and not only a crash of the process. The controller acts
  // on each commit (an attempt row, then the attempt sent to an agent; a task's
  // state; a stored result), and NORMAL could roll back a commit already acted on.
  // The cost, measured (bazel run -c opt //controller/store:sync_benchmark; figures in
  // docs/SPECIFICATION.md), is an fsync of the WAL per commit.
  RETURN_IF_ERROR(db_->Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  // The log is folded into the database every 100 pages (400 KB) rather than
  // SQLite's 1000 (4 MB): every version of a page stays in the log until then, and
  // on a small disk the log alone could fill it, leaving no room to fold it back.
  RETURN_IF_ERROR(db_->Execute("PRAGMA wal_autocheckpoint=100;"));
  for (int64_t v = *version; v < SchemaVersion(); ++v) {
    ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
    absl::Status status = db_->Execute(kMigrations[v]);
    if (status.ok()) {
      status = db_->Execute(absl::StrCat("PRAGMA application_id = ", kApplicationId,
                                         "; PRAGMA user_version = ", v + 1));
    }
    if (status.ok()) status = tx->Commit();
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("migrating to schema ", v + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::SynchronousLevel() {
  absl::MutexLock lock(&mu_);
  return db_->QueryInt("PRAGMA synchronous");
}

absl::Status SqliteStore::PutDevice(const farm::v1::Device& device,
                                    const std::optional<farm::v1::DeviceEvent>& event) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  ASSIGN_OR_RETURN(Statement put,
                   db_->Prepare("INSERT OR REPLACE INTO devices (device_id, proto) VALUES (?, ?)"));
  RETURN_IF_ERROR(put.Bind(1, device.device_id()).BindBlob(2, Serialize(device)).Run());
  ASSIGN_OR_RETURN(Statement clear, db_->Prepare("DELETE FROM device_labels WHERE device_id = ?"));
  RETURN_IF_ERROR(clear.Bind(1, device.device_id()).Run());
  for (const farm::v1::Label& label : device.labels()) {
    ASSIGN_OR_RETURN(Statement insert,
                     db_->Prepare("INSERT OR REPLACE INTO device_labels (device_id, key, value, "
                                  "source) VALUES (?,?,?,?)"));
    RETURN_IF_ERROR(insert.Bind(1, device.device_id())
                        .Bind(2, label.key())
                        .Bind(3, label.value())
                        .Bind(4, static_cast<int64_t>(label.source()))
                        .Run());
  }
  if (event.has_value()) RETURN_IF_ERROR(AppendDeviceEventLocked(device.device_id(), *event));
  return tx->Commit();
}

absl::StatusOr<farm::v1::Device> SqliteStore::GetDevice(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement get, db_->Prepare("SELECT proto FROM devices WHERE device_id = ?"));
  get.Bind(1, device_id);
  ASSIGN_OR_RETURN(const bool row, get.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  return Parse<farm::v1::Device>(get.ColumnBlob(0), "device");
}

absl::StatusOr<std::vector<farm::v1::Device>> SqliteStore::ListDevices() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement list, db_->Prepare("SELECT proto FROM devices ORDER BY device_id"));
  return ReadProtos<farm::v1::Device>(list, "device");
}

absl::Status SqliteStore::AppendDeviceEvent(const std::string& device_id,
                                            const farm::v1::DeviceEvent& event) {
  absl::MutexLock lock(&mu_);
  return AppendDeviceEventLocked(device_id, event);
}

absl::Status SqliteStore::AppendDeviceEventLocked(const std::string& device_id,
                                                  const farm::v1::DeviceEvent& event) {
  ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare("INSERT INTO device_events (device_id, time_ns, proto) VALUES (?, ?, ?)"));
  return insert.Bind(1, device_id)
      .Bind(2, TimeUtil::TimestampToNanoseconds(event.time()))
      .BindBlob(3, Serialize(event))
      .Run();
}

absl::StatusOr<std::vector<StoredDeviceEvent>> SqliteStore::DeviceHistory(
    const std::string& device_id, int limit, std::optional<int64_t> before) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT id, proto FROM device_events WHERE device_id = ? AND id < ? "
                   "ORDER BY id DESC LIMIT ?"));
  query.Bind(1, device_id)
      .Bind(2, before.value_or(std::numeric_limits<int64_t>::max()))
      .Bind(3, static_cast<int64_t>(limit));
  std::vector<StoredDeviceEvent> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) return out;
    StoredDeviceEvent stored;
    stored.sequence = query.ColumnInt(0);
    ASSIGN_OR_RETURN(stored.event,
                     Parse<farm::v1::DeviceEvent>(query.ColumnBlob(1), "device event"));
    out.push_back(std::move(stored));
  }
}

absl::Status SqliteStore::PutSweepLocked(const farm::v1::Sweep& sweep) {
  farm::v1::Sweep without_tasks = sweep;
  without_tasks.clear_tasks();
  ASSIGN_OR_RETURN(
      Statement put,
      db_->Prepare(
          "INSERT INTO sweeps (sweep_id, state, created_ns, proto) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (sweep_id) DO UPDATE SET state = excluded.state, proto = excluded.proto"));
  return put.Bind(1, sweep.sweep_id())
      .Bind(2, static_cast<int64_t>(sweep.state()))
      .Bind(3, TimeUtil::TimestampToNanoseconds(sweep.created_at()))
      .BindBlob(4, Serialize(without_tasks))
      .Run();
}

absl::Status SqliteStore::PutTaskLocked(const farm::v1::Task& task) {
  farm::v1::Task without_result = task;
  without_result.clear_result();
  ASSIGN_OR_RETURN(
      Statement put,
      db_->Prepare(
          // An upsert, not a replace: the row keeps its place among the sweep's tasks.
          "INSERT INTO tasks (task_id, sweep_id, device_id, state, proto) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (task_id) DO UPDATE SET sweep_id = excluded.sweep_id, "
          "device_id = excluded.device_id, state = excluded.state, proto = excluded.proto"));
  return put.Bind(1, task.task_id())
      .Bind(2, task.sweep_id())
      .Bind(3, task.device_id())
      .Bind(4, static_cast<int64_t>(task.state()))
      .BindBlob(5, Serialize(without_result))
      .Run();
}

absl::Status SqliteStore::CreateSweep(const farm::v1::Sweep& sweep) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  RETURN_IF_ERROR(PutSweepLocked(sweep));
  for (const farm::v1::Task& task : sweep.tasks()) RETURN_IF_ERROR(PutTaskLocked(task));
  return tx->Commit();
}

absl::Status SqliteStore::PutSweep(const farm::v1::Sweep& sweep) {
  absl::MutexLock lock(&mu_);
  return PutSweepLocked(sweep);
}

absl::Status SqliteStore::PutTask(const farm::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  return PutTaskLocked(task);
}

absl::StatusOr<farm::v1::Sweep> SqliteStore::GetSweep(const std::string& sweep_id,
                                                      bool include_results) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement get, db_->Prepare("SELECT proto FROM sweeps WHERE sweep_id = ?"));
  get.Bind(1, sweep_id);
  ASSIGN_OR_RETURN(const bool found, get.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no sweep '", sweep_id, "'"));
  ASSIGN_OR_RETURN(farm::v1::Sweep sweep, Parse<farm::v1::Sweep>(get.ColumnBlob(0), "sweep"));
  ASSIGN_OR_RETURN(Statement tasks, db_->Prepare(absl::StrCat(
                                        kTaskWithResult, "WHERE t.sweep_id = ? ORDER BY t.rowid")));
  tasks.Bind(1, sweep_id);
  while (true) {
    ASSIGN_OR_RETURN(const bool row, tasks.Step());
    if (!row) return sweep;
    ASSIGN_OR_RETURN(*sweep.add_tasks(), ReadTask(tasks, include_results));
  }
}

absl::StatusOr<farm::v1::Task> SqliteStore::GetTask(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement get,
                   db_->Prepare(absl::StrCat(kTaskWithResult, "WHERE t.task_id = ?")));
  get.Bind(1, task_id);
  ASSIGN_OR_RETURN(const bool found, get.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no task '", task_id, "'"));
  return ReadTask(get, /*include_result=*/true);
}

absl::StatusOr<std::vector<farm::v1::Sweep>> SqliteStore::ListSweeps(const SweepListQuery& query) {
  // The state filter is in the query, before the LIMIT, so a filtered page is full
  // while matches exist.
  std::string sql = "SELECT proto FROM sweeps WHERE 1";
  if (!query.states.empty()) {
    absl::StrAppend(&sql, " AND state IN (",
                    absl::StrJoin(std::vector<std::string>(query.states.size(), "?"), ","), ")");
  }
  if (query.after) {
    absl::StrAppend(&sql, " AND (created_ns < ? OR (created_ns = ? AND sweep_id < ?))");
  }
  absl::StrAppend(&sql, " ORDER BY created_ns DESC, sweep_id DESC LIMIT ?");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement list, db_->Prepare(sql));
  int index = 1;
  for (farm::v1::SweepState state : query.states) list.Bind(index++, static_cast<int64_t>(state));
  if (query.after) {
    list.Bind(index, query.after->first);
    list.Bind(index + 1, query.after->first);
    list.Bind(index + 2, query.after->second);
    index += 3;
  }
  list.Bind(index, static_cast<int64_t>(query.limit));
  return ReadProtos<farm::v1::Sweep>(list, "sweep");
}

absl::Status SqliteStore::CheckFencingLocked() {
  if (fencing_epoch_ == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement lease, db_->Prepare(kLeaseEpoch));
  ASSIGN_OR_RETURN(const bool row, lease.Step());
  return FencingStatus(fencing_epoch_, row ? lease.ColumnInt(0) : 0);
}

absl::StatusOr<Leadership> SqliteStore::ClaimLeadership(const std::string& replica, int64_t now_ns,
                                                        int64_t ttl_ns) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  ASSIGN_OR_RETURN(Statement claim, db_->Prepare(kClaimLeadership));
  RETURN_IF_ERROR(claim.Bind(1, replica).Bind(2, now_ns).Bind(3, now_ns + ttl_ns).Run());
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kReadLeadership));
  ASSIGN_OR_RETURN(const bool row, read.Step());
  if (!row) return absl::InternalError("the leadership row is missing after a claim");
  const Leadership lease = LeadershipOf(read);
  RETURN_IF_ERROR(tx->Commit());
  return lease;
}

absl::Status SqliteStore::ReleaseLeadership(const std::string& replica) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement release, db_->Prepare(kReleaseLeadership));
  return release.Bind(1, replica).Run();
}

absl::Status SqliteStore::ReportReplica(const StoredReplica& replica) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement report, db_->Prepare(kReportReplica));
  return report.Bind(1, replica.name).Bind(2, replica.address).Bind(3, replica.seen_ns).Run();
}

absl::StatusOr<std::pair<Leadership, std::vector<StoredReplica>>> SqliteStore::Replicas() {
  absl::MutexLock lock(&mu_);
  std::pair<Leadership, std::vector<StoredReplica>> out;
  ASSIGN_OR_RETURN(Statement lease, db_->Prepare(kReadLeadership));
  ASSIGN_OR_RETURN(const bool leads, lease.Step());
  if (leads) {
    out.first = LeadershipOf(lease);
  }
  ASSIGN_OR_RETURN(Statement list, db_->Prepare(kListReplicas));
  ASSIGN_OR_RETURN(out.second, ReadRows(list, [](const Statement& row) {
                     return StoredReplica{row.ColumnText(0), row.ColumnText(1), row.ColumnInt(2)};
                   }));
  return out;
}

absl::StatusOr<int64_t> SqliteStore::ChangeCursor() {
  absl::MutexLock lock(&mu_);
  // AUTOINCREMENT never reuses a number, even after every change is pruned.
  return db_->QueryInt(
      "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)");
}

absl::StatusOr<ChangeBatch> SqliteStore::ChangesSince(int64_t cursor) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read,
                   db_->Prepare("SELECT seq, kind, id, parent FROM changes WHERE seq > ? "
                                "ORDER BY seq"));
  read.Bind(1, cursor);
  ChangeBatch batch;
  batch.cursor = cursor;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, read.Step());
    if (!row) return batch;
    batch.cursor = read.ColumnInt(0);
    batch.changes.push_back({read.ColumnText(1), read.ColumnText(2), read.ColumnText(3)});
  }
}

absl::Status SqliteStore::PruneChanges(int64_t before_s) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement prune, db_->Prepare(kPruneChanges));
  return prune.Bind(1, before_s).Run();
}

absl::Status SqliteStore::RecordHeartbeats(const std::string& replica,
                                           const std::vector<StoredHeartbeat>& heartbeats) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  for (const StoredHeartbeat& heartbeat : heartbeats) {
    ASSIGN_OR_RETURN(Statement record, db_->Prepare(kRecordHeartbeat));
    RETURN_IF_ERROR(
        record.Bind(1, heartbeat.device_id).Bind(2, heartbeat.seen_ns).Bind(3, replica).Run());
  }
  return tx->Commit();
}

absl::StatusOr<std::vector<StoredHeartbeat>> SqliteStore::HeartbeatsSince(int64_t since_ns) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kHeartbeatsSince));
  read.Bind(1, since_ns);
  return ReadRows(read, [](const Statement& row) {
    return StoredHeartbeat{row.ColumnText(0), row.ColumnInt(1)};
  });
}

absl::Status SqliteStore::RequestCancel(const CancelRequest& request) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement insert, db_->Prepare(kRequestCancel));
  return insert.Bind(1, request.sweep_id)
      .Bind(2, request.reason)
      .Bind(3, request.requested_by)
      .Bind(4, request.requested_ns)
      .Run();
}

absl::StatusOr<std::vector<CancelRequest>> SqliteStore::CancelRequests() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kListCancelRequests));
  return ReadRows(read, [](const Statement& row) {
    return CancelRequest{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), row.ColumnInt(3)};
  });
}

absl::Status SqliteStore::ForgetCancelRequest(const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement forget, db_->Prepare(kForgetCancelRequest));
  return forget.Bind(1, sweep_id).Run();
}

absl::Status SqliteStore::PutBaseline(const farm::v1::Baseline& baseline) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement put, db_->Prepare(kPutBaseline));
  return put.Bind(1, static_cast<int64_t>(baseline.scope()))
      .Bind(2, baseline.key())
      .Bind(3, baseline.sweep_id())
      .BindBlob(4, Serialize(baseline))
      .Run();
}

absl::StatusOr<std::vector<farm::v1::Baseline>> SqliteStore::ListBaselines() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kListBaselines));
  return ReadProtos<farm::v1::Baseline>(read, "baseline");
}

absl::Status SqliteStore::PutRegression(const farm::v1::Regression& regression) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement put, db_->Prepare(kPutRegression));
  return put.Bind(1, regression.regression_id())
      .Bind(2, regression.device_id())
      .Bind(3, static_cast<int64_t>(regression.state()))
      .Bind(4, TimeUtil::TimestampToNanoseconds(regression.opened_at()))
      .BindBlob(5, Serialize(regression))
      .Run();
}

absl::StatusOr<std::vector<farm::v1::Regression>> SqliteStore::ListRegressions(
    bool open_only, const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kListRegressions));
  read.Bind(1, int64_t{open_only ? 1 : 0}).Bind(2, device_id);
  return ReadProtos<farm::v1::Regression>(read, "regression");
}

absl::Status SqliteStore::CreateSchedule(const farm::v1::Schedule& schedule) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement create, db_->Prepare(kCreateSchedule));
  create.Bind(1, schedule.schedule_id())
      .Bind(2, TimeUtil::TimestampToNanoseconds(schedule.next_run_at()))
      .BindBlob(3, Serialize(schedule));
  ASSIGN_OR_RETURN(const bool created, create.Step());
  if (!created) {
    return absl::AlreadyExistsError(
        absl::StrCat("schedule ", schedule.schedule_id(), " already exists"));
  }
  return create.Run();
}

absl::StatusOr<std::vector<farm::v1::Schedule>> SqliteStore::ListSchedules() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement read, db_->Prepare(kListSchedules));
  return ReadProtos<farm::v1::Schedule>(read, "schedule");
}

absl::Status SqliteStore::DeleteSchedule(const std::string& schedule_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement remove, db_->Prepare(kDeleteSchedule));
  ASSIGN_OR_RETURN(const bool deleted, remove.Bind(1, schedule_id).Step());
  if (!deleted) return absl::NotFoundError(absl::StrCat("no schedule ", schedule_id));
  return remove.Run();
}

absl::StatusOr<bool> SqliteStore::AdvanceSchedule(const farm::v1::Schedule& schedule,
                                                  int64_t read_next_run_ns) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  RETURN_IF_ERROR(CheckFencingLocked());
  ASSIGN_OR_RETURN(Statement advance, db_->Prepare(kAdvanceSchedule));
  advance.Bind(1, TimeUtil::TimestampToNanoseconds(schedule.next_run_at()))
      .BindBlob(2, Serialize(schedule))
      .Bind(3, schedule.schedule_id())
      .Bind(4, read_next_run_ns);
  ASSIGN_OR_RETURN(const bool advanced, advance.Step());
  if (advanced) RETURN_IF_ERROR(advance.Run());
  RETURN_IF_ERROR(tx->Commit());
  return advanced;
}

void SqliteStore::SetFencingEpoch(int64_t epoch) {
  absl::MutexLock lock(&mu_);
  fencing_epoch_ = epoch;
}

absl::Status SqliteStore::RecordAttempt(const farm::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  RETURN_IF_ERROR(CheckFencingLocked());
  ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare("INSERT INTO attempts (attempt_id, task_id, started_ns) VALUES (?, ?, ?)"));
  RETURN_IF_ERROR(insert.Bind(1, task.attempt_id()).Bind(2, task.task_id()).Bind(3, NowNs()).Run());
  RETURN_IF_ERROR(PutTaskLocked(task));
  return tx->Commit();
}

absl::Status SqliteStore::FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                                        const std::string& console_log) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE attempts SET outcome = ?, console_log = ? WHERE attempt_id = ?"));
  return update.Bind(1, outcome).Bind(2, console_log).Bind(3, attempt_id).Run();
}

absl::StatusOr<bool> SqliteStore::StoreTaskResult(const farm::v1::Task& task,
                                                  const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
  RETURN_IF_ERROR(CheckFencingLocked());
  ASSIGN_OR_RETURN(const bool already, HasResult(*db_, task.task_id()));
  if (already) return false;  // a result is stored: this one is late or duplicate
  RETURN_IF_ERROR(InsertResult(*db_, task, attempt_id));
  RETURN_IF_ERROR(MarkAttemptStored(*db_, attempt_id));
  RETURN_IF_ERROR(InsertMeasurements(*db_, task, attempt_id));
  RETURN_IF_ERROR(InsertSummaries(*db_, task));
  RETURN_IF_ERROR(PutTaskLocked(task));
  RETURN_IF_ERROR(tx->Commit());
  return true;
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::ReadSummaries(Statement* query) {
  std::vector<StoredSummary> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, query->Step());
    if (!row) return out;
    StoredSummary summary;
    summary.device_id = query->ColumnText(0);
    summary.sweep_id = query->ColumnText(1);
    summary.task_id = query->ColumnText(2);
    summary.measured_ns = query->ColumnInt(3);
    summary.requested_repetitions = static_cast<uint32_t>(query->ColumnInt(4));
    summary.parameters_key = query->ColumnText(6);
    ASSIGN_OR_RETURN(summary.measurement,
                     Parse<farm::v1::Measurement>(query->ColumnBlob(5), "summary"));
    out.push_back(std::move(summary));
  }
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::LatestSummaries(
    const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  std::string filter;
  if (!device_ids.empty()) {
    std::vector<std::string> marks(device_ids.size(), "?");
    filter = absl::StrCat(" WHERE l.device_id IN (", absl::StrJoin(marks, ","), ")");
  }
  // latest_summaries names the newest summary of each device, metric, mode and
  // parameter set (kept at store time).
  ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare(absl::StrCat(
          "SELECT s.device_id, s.sweep_id, s.task_id, s.measured_ns, s.requested, s.proto, "
          "s.parameters FROM latest_summaries l JOIN summaries s ON s.id = l.summary_id",
          filter, " ORDER BY l.device_id, l.metric, l.mode")));
  for (size_t i = 0; i < device_ids.size(); ++i) {
    query.Bind(static_cast<int>(i + 1), device_ids[i]);
  }
  return ReadSummaries(&query);
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::SweepSummaries(
    const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT device_id, sweep_id, task_id, measured_ns, requested, proto, parameters "
                   "FROM summaries WHERE sweep_id = ? ORDER BY device_id, metric, mode"));
  query.Bind(1, sweep_id);
  return ReadSummaries(&query);
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::DeviceSummaries(
    const std::string& device_id, int64_t limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare(
          "SELECT device_id, sweep_id, task_id, measured_ns, requested, proto, parameters "
          "FROM summaries WHERE device_id = ? ORDER BY measured_ns DESC, id DESC LIMIT ?"));
  query.Bind(1, device_id);
  query.Bind(2, limit);
  return ReadSummaries(&query);
}

absl::StatusOr<std::vector<StoredAttempt>> SqliteStore::TaskAttempts(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT attempt_id, started_ns, outcome, console_log FROM attempts WHERE "
                   "task_id = ? ORDER BY started_ns, attempt_id"));
  query.Bind(1, task_id);
  return ReadRows(query, [](const Statement& row) {
    return StoredAttempt{row.ColumnText(0), row.ColumnInt(1), row.ColumnText(2), row.ColumnText(3)};
  });
}

absl::StatusOr<PrunedRawLogs> SqliteStore::PruneRawLogs(int64_t stored_before_ns,
                                                        int64_t max_results) {
  PrunedRawLogs pruned;
  while (max_results == 0 || pruned.results < max_results) {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::unique_ptr<Transaction> tx, Transaction::Begin(db_.get()));
    ASSIGN_OR_RETURN(Statement batch,
                     db_->Prepare("SELECT task_id FROM results WHERE raw_pruned = 0 AND "
                                  "stored_ns < ? LIMIT ?"));
    batch.Bind(1, stored_before_ns)
        .Bind(2,
              max_results == 0 ? kPruneBatch : std::min(kPruneBatch, max_results - pruned.results));
    std::vector<std::string> task_ids;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, batch.Step());
      if (!row) break;
      task_ids.push_back(batch.ColumnText(0));
    }
    if (task_ids.empty()) break;
    for (const std::string& task_id : task_ids) {
      ASSIGN_OR_RETURN(Statement rows, db_->Prepare("DELETE FROM measurements WHERE task_id = ?"));
      RETURN_IF_ERROR(rows.Bind(1, task_id).Run());
      pruned.measurements += db_->Changes();
      ASSIGN_OR_RETURN(Statement mark,
                       db_->Prepare("UPDATE results SET raw_pruned = 1 WHERE task_id = ?"));
      RETURN_IF_ERROR(mark.Bind(1, task_id).Run());
    }
    RETURN_IF_ERROR(tx->Commit());
    pruned.results += static_cast<int64_t>(task_ids.size());
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement logs,
                   db_->Prepare("UPDATE attempts SET console_log = NULL WHERE started_ns < ? AND "
                                "console_log IS NOT NULL AND console_log != ''"));
  RETURN_IF_ERROR(logs.Bind(1, stored_before_ns).Run());
  pruned.console_logs = db_->Changes();
  return pruned;
}

absl::StatusOr<int64_t> SqliteStore::CountMeasurements() {
  absl::MutexLock lock(&mu_);
  return db_->QueryInt("SELECT count(*) FROM measurements");
}

}  // namespace kvmfarm::store
