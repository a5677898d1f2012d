#include "controller/store/sqlite_store.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/measurement.h"

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

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

// The measurements a task result carries.
const google::protobuf::RepeatedPtrField<farm::v1::Measurement>* MeasurementsOf(
    const farm::v1::Task& task) {
  switch (task.result_case()) {
    case farm::v1::Task::kBenchmark:
      return &task.benchmark().measurements();
    case farm::v1::Task::kBootResult:
      return &task.boot_result().measurements();
    default:
      return nullptr;
  }
}

// How many repetitions the task asked for; for a task that doesn't say, the most
// values any of its metrics has.
uint32_t RequestedRepetitions(const farm::v1::Task& task) {
  if (task.repetitions() > 0) return task.repetitions();
  uint32_t most = 0;
  if (const auto* measurements = MeasurementsOf(task)) {
    for (const farm::v1::Measurement& m : *measurements) {
      most = std::max<uint32_t>(most, static_cast<uint32_t>(m.values_size()));
    }
  }
  return most;
}

}  // namespace

int SqliteStore::SchemaVersion() { return sizeof(kMigrations) / sizeof(kMigrations[0]); }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  if (!db.ok()) return db.status();
  std::unique_ptr<SqliteStore> store(new SqliteStore(*std::move(db)));
  absl::Status migrated = store->Migrate();
  if (!migrated.ok()) return migrated;
  return store;
}

absl::Status SqliteStore::Migrate() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int64_t> app = db_->QueryInt("PRAGMA application_id");
  absl::StatusOr<int64_t> tables = db_->QueryInt("SELECT count(*) FROM sqlite_master");
  absl::StatusOr<int64_t> version = db_->QueryInt("PRAGMA user_version");
  if (!app.ok() || !tables.ok() || !version.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_->path(), " cannot be read as a database"));
  }
  if (*tables > 0 && *app != kApplicationId) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_->path(), " is a SQLite database of something else (application_id ", *app,
                     "); refusing to use or overwrite it: give --db a new or kvmfarm file"));
  }
  if (*version > SchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        db_->path(), " has schema version ", *version, ", newer than this controller's ",
        SchemaVersion(), ": run a newer farm-controller"));
  }
  if (*tables > 0) {
    absl::StatusOr<Statement> check = db_->Prepare("PRAGMA quick_check");
    if (!check.ok()) return check.status();
    absl::StatusOr<bool> row = check->Step();
    if (!row.ok() || !*row || check->ColumnText(0) != "ok") {
      return absl::FailedPreconditionError(
          absl::StrCat(db_->path(), " is corrupt (PRAGMA quick_check failed); refusing to use it"));
    }
  }
  absl::Status wal = db_->Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (!wal.ok()) return wal;
  for (int64_t v = *version; v < SchemaVersion(); ++v) {
    absl::StatusOr<std::unique_ptr<Transaction>> tx = Transaction::Begin(db_.get());
    if (!tx.ok()) return tx.status();
    absl::Status status = db_->Execute(kMigrations[v]);
    if (status.ok()) {
      status = db_->Execute(absl::StrCat("PRAGMA application_id = ", kApplicationId,
                                         "; PRAGMA user_version = ", v + 1));
    }
    if (status.ok()) status = (*tx)->Commit();
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("migrating to schema ", v + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::PutDevice(const farm::v1::Device& device) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<Transaction>> tx = Transaction::Begin(db_.get());
  if (!tx.ok()) return tx.status();
  absl::StatusOr<Statement> put =
      db_->Prepare("INSERT OR REPLACE INTO devices (device_id, proto) VALUES (?, ?)");
  if (!put.ok()) return put.status();
  absl::Status status = put->Bind(1, device.device_id()).BindBlob(2, Serialize(device)).Run();
  if (!status.ok()) return status;
  absl::StatusOr<Statement> clear = db_->Prepare("DELETE FROM device_labels WHERE device_id = ?");
  if (!clear.ok()) return clear.status();
  status = clear->Bind(1, device.device_id()).Run();
  if (!status.ok()) return status;
  for (const farm::v1::Label& label : device.labels()) {
    absl::StatusOr<Statement> insert = db_->Prepare(
        "INSERT OR REPLACE INTO device_labels (device_id, key, value, source) VALUES (?,?,?,?)");
    if (!insert.ok()) return insert.status();
    status = insert->Bind(1, device.device_id())
                 .Bind(2, label.key())
                 .Bind(3, label.value())
                 .Bind(4, static_cast<int64_t>(label.source()))
                 .Run();
    if (!status.ok()) return status;
  }
  return (*tx)->Commit();
}

absl::StatusOr<farm::v1::Device> SqliteStore::GetDevice(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> get = db_->Prepare("SELECT proto FROM devices WHERE device_id = ?");
  if (!get.ok()) return get.status();
  get->Bind(1, device_id);
  absl::StatusOr<bool> row = get->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  return Parse<farm::v1::Device>(get->ColumnBlob(0), "device");
}

absl::StatusOr<std::vector<farm::v1::Device>> SqliteStore::ListDevices() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> list = db_->Prepare("SELECT proto FROM devices ORDER BY device_id");
  if (!list.ok()) return list.status();
  std::vector<farm::v1::Device> devices;
  while (true) {
    absl::StatusOr<bool> row = list->Step();
    if (!row.ok()) return row.status();
    if (!*row) return devices;
    absl::StatusOr<farm::v1::Device> device =
        Parse<farm::v1::Device>(list->ColumnBlob(0), "device");
    if (!device.ok()) return device.status();
    devices.push_back(*std::move(device));
  }
}

absl::Status SqliteStore::AppendDeviceEvent(const std::string& device_id,
                                            const farm::v1::DeviceEvent& event) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> insert =
      db_->Prepare("INSERT INTO device_events (device_id, time_ns, proto) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.status();
  return insert->Bind(1, device_id)
      .Bind(2, TimeUtil::TimestampToNanoseconds(event.time()))
      .BindBlob(3, Serialize(event))
      .Run();
}

absl::StatusOr<std::vector<farm::v1::DeviceEvent>> SqliteStore::DeviceHistory(
    const std::string& device_id, int limit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> query =
      db_->Prepare("SELECT proto FROM device_events WHERE device_id = ? ORDER BY id DESC LIMIT ?");
  if (!query.ok()) return query.status();
  query->Bind(1, device_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<farm::v1::DeviceEvent> events;
  while (true) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) return events;
    absl::StatusOr<farm::v1::DeviceEvent> event =
        Parse<farm::v1::DeviceEvent>(query->ColumnBlob(0), "device event");
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
}

absl::Status SqliteStore::PutSweepLocked(const farm::v1::Sweep& sweep) {
  farm::v1::Sweep without_tasks = sweep;
  without_tasks.clear_tasks();
  absl::StatusOr<Statement> put = db_->Prepare(
      "INSERT INTO sweeps (sweep_id, state, created_ns, proto) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (sweep_id) DO UPDATE SET state = excluded.state, proto = excluded.proto");
  if (!put.ok()) return put.status();
  return put->Bind(1, sweep.sweep_id())
      .Bind(2, static_cast<int64_t>(sweep.state()))
      .Bind(3, TimeUtil::TimestampToNanoseconds(sweep.created_at()))
      .BindBlob(4, Serialize(without_tasks))
      .Run();
}

absl::Status SqliteStore::PutTaskLocked(const farm::v1::Task& task) {
  farm::v1::Task without_result = task;
  without_result.clear_result();
  absl::StatusOr<Statement> put = db_->Prepare(
      // An upsert, not a replace: the row keeps its place among the sweep's tasks.
      "INSERT INTO tasks (task_id, sweep_id, device_id, state, proto) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (task_id) DO UPDATE SET sweep_id = excluded.sweep_id, "
      "device_id = excluded.device_id, state = excluded.state, proto = excluded.proto");
  if (!put.ok()) return put.status();
  return put->Bind(1, task.task_id())
      .Bind(2, task.sweep_id())
      .Bind(3, task.device_id())
      .Bind(4, static_cast<int64_t>(task.state()))
      .BindBlob(5, Serialize(without_result))
      .Run();
}

absl::Status SqliteStore::CreateSweep(const farm::v1::Sweep& sweep) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<Transaction>> tx = Transaction::Begin(db_.get());
  if (!tx.ok()) return tx.status();
  absl::Status status = PutSweepLocked(sweep);
  for (const farm::v1::Task& task : sweep.tasks()) {
    if (status.ok()) status = PutTaskLocked(task);
  }
  if (!status.ok()) return status;
  return (*tx)->Commit();
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
  absl::StatusOr<Statement> get = db_->Prepare("SELECT proto FROM sweeps WHERE sweep_id = ?");
  if (!get.ok()) return get.status();
  get->Bind(1, sweep_id);
  absl::StatusOr<bool> row = get->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no sweep '", sweep_id, "'"));
  absl::StatusOr<farm::v1::Sweep> sweep = Parse<farm::v1::Sweep>(get->ColumnBlob(0), "sweep");
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<Statement> tasks = db_->Prepare(
      "SELECT t.proto, r.result_json FROM tasks t LEFT JOIN results r ON r.task_id = t.task_id "
      "WHERE t.sweep_id = ? ORDER BY t.rowid");
  if (!tasks.ok()) return tasks.status();
  tasks->Bind(1, sweep_id);
  while (true) {
    absl::StatusOr<bool> next = tasks->Step();
    if (!next.ok()) return next.status();
    if (!*next) break;
    absl::StatusOr<farm::v1::Task> task = Parse<farm::v1::Task>(tasks->ColumnBlob(0), "task");
    if (!task.ok()) return task.status();
    if (include_results && !tasks->ColumnIsNull(1)) {
      farm::v1::Task with_result;
      if (google::protobuf::util::JsonStringToMessage(tasks->ColumnText(1), &with_result).ok()) {
        if (with_result.has_capability()) *task->mutable_capability() = with_result.capability();
        if (with_result.has_benchmark()) *task->mutable_benchmark() = with_result.benchmark();
        if (with_result.has_boot_result()) *task->mutable_boot_result() = with_result.boot_result();
      }
    }
    *sweep->add_tasks() = *std::move(task);
  }
  return sweep;
}

absl::StatusOr<std::vector<farm::v1::Sweep>> SqliteStore::ListSweeps(int limit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> list =
      db_->Prepare("SELECT proto FROM sweeps ORDER BY created_ns DESC LIMIT ?");
  if (!list.ok()) return list.status();
  list->Bind(1, static_cast<int64_t>(limit));
  std::vector<farm::v1::Sweep> sweeps;
  while (true) {
    absl::StatusOr<bool> row = list->Step();
    if (!row.ok()) return row.status();
    if (!*row) return sweeps;
    absl::StatusOr<farm::v1::Sweep> sweep = Parse<farm::v1::Sweep>(list->ColumnBlob(0), "sweep");
    if (!sweep.ok()) return sweep.status();
    sweeps.push_back(*std::move(sweep));
  }
}

absl::Status SqliteStore::RecordAttempt(const std::string& task_id, const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> insert =
      db_->Prepare("INSERT INTO attempts (attempt_id, task_id, started_ns) VALUES (?, ?, ?)");
  if (!insert.ok()) return insert.status();
  return insert->Bind(1, attempt_id).Bind(2, task_id).Bind(3, NowNs()).Run();
}

absl::Status SqliteStore::FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                                        const std::string& console_log) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> update =
      db_->Prepare("UPDATE attempts SET outcome = ?, console_log = ? WHERE attempt_id = ?");
  if (!update.ok()) return update.status();
  return update->Bind(1, outcome).Bind(2, console_log).Bind(3, attempt_id).Run();
}

absl::StatusOr<bool> SqliteStore::StoreTaskResult(const farm::v1::Task& task,
                                                  const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<Transaction>> tx = Transaction::Begin(db_.get());
  if (!tx.ok()) return tx.status();
  absl::StatusOr<Statement> exists = db_->Prepare("SELECT 1 FROM results WHERE task_id = ?");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, task.task_id());
  absl::StatusOr<bool> already = exists->Step();
  if (!already.ok()) return already.status();
  if (*already) return false;  // a result is stored: this one is late or duplicate

  std::string json;
  if (!google::protobuf::util::MessageToJsonString(task, &json).ok()) {
    return absl::InternalError("cannot serialize the task result");
  }
  absl::StatusOr<Statement> insert = db_->Prepare(
      "INSERT INTO results (task_id, attempt_id, stored_ns, result_json) VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  absl::Status status =
      insert->Bind(1, task.task_id()).Bind(2, attempt_id).Bind(3, NowNs()).Bind(4, json).Run();
  if (!status.ok()) return status;
  if (const auto* measurements = MeasurementsOf(task)) {
    for (const farm::v1::Measurement& m : *measurements) {
      for (int rep = 0; rep < m.values_size(); ++rep) {
        absl::StatusOr<Statement> row = db_->Prepare(
            "INSERT INTO measurements (task_id, attempt_id, sweep_id, device_id, metric, mode, "
            "unit, parameters, repetition, value) VALUES (?,?,?,?,?,?,?,?,?,?)");
        if (!row.ok()) return row.status();
        status = row->Bind(1, task.task_id())
                     .Bind(2, attempt_id)
                     .Bind(3, task.sweep_id())
                     .Bind(4, task.device_id())
                     .Bind(5, m.metric())
                     .Bind(6, static_cast<int64_t>(m.mode()))
                     .Bind(7, m.unit())
                     .Bind(8, ParametersKey(m.parameters()))
                     .Bind(9, static_cast<int64_t>(rep))
                     .BindDouble(10, m.values(rep))
                     .Run();
        if (!status.ok()) return status;
      }
    }
  }
  if (const auto* measurements = MeasurementsOf(task)) {
    for (const farm::v1::Measurement& m : *measurements) {
      if (m.values().empty()) continue;
      absl::StatusOr<Statement> row = db_->Prepare(
          "INSERT INTO summaries (task_id, sweep_id, device_id, metric, mode, parameters, "
          "measured_ns, requested, proto) VALUES (?,?,?,?,?,?,?,?,?)");
      if (!row.ok()) return row.status();
      status = row->Bind(1, task.task_id())
                   .Bind(2, task.sweep_id())
                   .Bind(3, task.device_id())
                   .Bind(4, m.metric())
                   .Bind(5, static_cast<int64_t>(m.mode()))
                   .Bind(6, ParametersKey(m.parameters()))
                   .Bind(7, TimeUtil::TimestampToNanoseconds(task.finished_at()))
                   .Bind(8, static_cast<int64_t>(RequestedRepetitions(task)))
                   .BindBlob(9, Serialize(m))
                   .Run();
      if (!status.ok()) return status;
      absl::StatusOr<Statement> latest = db_->Prepare(
          "INSERT INTO latest_summaries (device_id, metric, mode, parameters, summary_id, "
          "measured_ns) VALUES (?,?,?,?,last_insert_rowid(),?) "
          "ON CONFLICT (device_id, metric, mode, parameters) DO UPDATE SET "
          "summary_id = excluded.summary_id, measured_ns = excluded.measured_ns "
          "WHERE excluded.measured_ns >= latest_summaries.measured_ns");
      if (!latest.ok()) return latest.status();
      status = latest->Bind(1, task.device_id())
                   .Bind(2, m.metric())
                   .Bind(3, static_cast<int64_t>(m.mode()))
                   .Bind(4, ParametersKey(m.parameters()))
                   .Bind(5, TimeUtil::TimestampToNanoseconds(task.finished_at()))
                   .Run();
      if (!status.ok()) return status;
    }
  }
  status = PutTaskLocked(task);
  if (!status.ok()) return status;
  status = (*tx)->Commit();
  if (!status.ok()) return status;
  return true;
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::ReadSummaries(Statement* query) {
  std::vector<StoredSummary> out;
  while (true) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    StoredSummary summary;
    summary.device_id = query->ColumnText(0);
    summary.sweep_id = query->ColumnText(1);
    summary.task_id = query->ColumnText(2);
    summary.measured_ns = query->ColumnInt(3);
    summary.requested_repetitions = static_cast<uint32_t>(query->ColumnInt(4));
    summary.parameters_key = query->ColumnText(6);
    absl::StatusOr<farm::v1::Measurement> m =
        Parse<farm::v1::Measurement>(query->ColumnBlob(5), "summary");
    if (!m.ok()) return m.status();
    summary.measurement = *std::move(m);
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
  absl::StatusOr<Statement> query = db_->Prepare(absl::StrCat(
      "SELECT s.device_id, s.sweep_id, s.task_id, s.measured_ns, s.requested, s.proto, "
      "s.parameters FROM latest_summaries l JOIN summaries s ON s.id = l.summary_id",
      filter, " ORDER BY l.device_id, l.metric, l.mode"));
  if (!query.ok()) return query.status();
  for (size_t i = 0; i < device_ids.size(); ++i) {
    query->Bind(static_cast<int>(i + 1), device_ids[i]);
  }
  return ReadSummaries(&*query);
}

absl::StatusOr<std::vector<StoredSummary>> SqliteStore::SweepSummaries(
    const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> query = db_->Prepare(
      "SELECT device_id, sweep_id, task_id, measured_ns, requested, proto, parameters "
      "FROM summaries WHERE sweep_id = ? ORDER BY device_id, metric, mode");
  if (!query.ok()) return query.status();
  query->Bind(1, sweep_id);
  return ReadSummaries(&*query);
}

absl::StatusOr<std::vector<StoredAttempt>> SqliteStore::TaskAttempts(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> query = db_->Prepare(
      "SELECT attempt_id, started_ns, outcome, console_log FROM attempts WHERE task_id = ? "
      "ORDER BY started_ns, attempt_id");
  if (!query.ok()) return query.status();
  query->Bind(1, task_id);
  std::vector<StoredAttempt> out;
  while (true) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(
        {query->ColumnText(0), query->ColumnInt(1), query->ColumnText(2), query->ColumnText(3)});
  }
}

absl::StatusOr<int64_t> SqliteStore::CountMeasurements() {
  absl::MutexLock lock(&mu_);
  return db_->QueryInt("SELECT count(*) FROM measurements");
}

}  // namespace kvmfarm::store
