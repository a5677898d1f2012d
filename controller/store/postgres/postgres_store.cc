#include "controller/store/postgres/postgres_store.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/measurement.h"
#include "common/status_macros.h"
#include "controller/store/leadership_sql.h"
#include "controller/store/regression_sql.h"
#include "controller/store/replication_sql.h"
#include "controller/store/schedule_sql.h"
#include "controller/store/task_rows.h"

namespace kvmfarm::store::postgres {
namespace {

using google::protobuf::util::TimeUtil;
using Params = std::vector<std::optional<std::string>>;

// kvmfarm's mark in kvmfarm_schema, as SQLite's application_id ("kvmf").
constexpr int64_t kApplicationId = 0x6b766d66;

// Schema migrations, in order; migration i brings the database to version i + 1.
// Never edit one that has shipped: append. Version 1 is SQLite's schema 4 at once;
// version 2 is SQLite's 5, version 3 SQLite's 6, version 4 SQLite's 7; version 5 adds an
// index SQLite's summaries_latest already serves.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE devices (device_id TEXT PRIMARY KEY, proto BYTEA NOT NULL);
CREATE TABLE device_labels (
  device_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, source INTEGER NOT NULL,
  PRIMARY KEY (device_id, key, value));
CREATE INDEX device_labels_by_key ON device_labels (key, value);
CREATE TABLE device_events (
  id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL, time_ns BIGINT NOT NULL,
  proto BYTEA NOT NULL);
CREATE INDEX device_events_by_device ON device_events (device_id, id);
CREATE TABLE sweeps (
  sweep_id TEXT PRIMARY KEY, state INTEGER NOT NULL, created_ns BIGINT NOT NULL,
  proto BYTEA NOT NULL);
CREATE INDEX sweeps_by_created ON sweeps (created_ns, sweep_id);
CREATE TABLE tasks (
  seq BIGSERIAL, task_id TEXT PRIMARY KEY, sweep_id TEXT NOT NULL, device_id TEXT NOT NULL,
  state INTEGER NOT NULL, proto BYTEA NOT NULL);
CREATE INDEX tasks_by_sweep ON tasks (sweep_id, seq);
CREATE TABLE attempts (
  attempt_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, started_ns BIGINT NOT NULL,
  outcome TEXT, console_log TEXT);
CREATE INDEX attempts_by_task ON attempts (task_id);
CREATE TABLE results (
  task_id TEXT PRIMARY KEY, attempt_id TEXT NOT NULL, stored_ns BIGINT NOT NULL,
  result_json TEXT NOT NULL);
CREATE TABLE measurements (
  id BIGSERIAL PRIMARY KEY, task_id TEXT NOT NULL, attempt_id TEXT NOT NULL,
  sweep_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, mode INTEGER NOT NULL,
  unit TEXT NOT NULL, parameters TEXT NOT NULL, repetition INTEGER NOT NULL,
  value DOUBLE PRECISION NOT NULL);
CREATE INDEX measurements_by_device ON measurements (device_id, metric, mode);
CREATE INDEX measurements_by_sweep ON measurements (sweep_id);
CREATE TABLE summaries (
  id BIGSERIAL PRIMARY KEY, task_id TEXT NOT NULL, sweep_id TEXT NOT NULL,
  device_id TEXT NOT NULL, metric TEXT NOT NULL, mode INTEGER NOT NULL, parameters TEXT NOT NULL,
  measured_ns BIGINT NOT NULL, requested INTEGER NOT NULL, proto BYTEA NOT NULL);
CREATE INDEX summaries_by_sweep ON summaries (sweep_id);
CREATE TABLE latest_summaries (
  device_id TEXT NOT NULL, metric TEXT NOT NULL, mode INTEGER NOT NULL, parameters TEXT NOT NULL,
  summary_id BIGINT NOT NULL, measured_ns BIGINT NOT NULL,
  PRIMARY KEY (device_id, metric, mode, parameters));
)sql",
    // 2: retention (PruneRawLogs) finds the results whose raw rows are still kept,
    // oldest first, and their rows, without scanning every measurement.
    R"sql(
ALTER TABLE results ADD COLUMN raw_pruned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_unpruned ON results (stored_ns) WHERE raw_pruned = 0;
CREATE INDEX measurements_by_task ON measurements (task_id);
)sql",
    // 3: the controllers' leader (ClaimLeadership): one row, a lease and its epoch.
    R"sql(
CREATE TABLE leadership (
  id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, epoch BIGINT NOT NULL,
  acquired_ns BIGINT NOT NULL, expires_ns BIGINT NOT NULL);
CREATE TABLE replicas (name TEXT PRIMARY KEY, address TEXT NOT NULL, seen_ns BIGINT NOT NULL);
)sql",
    // 4: what replicas share (issue 18): the change feed, noted by triggers in each
    // write's own transaction with the transaction's id (ChangesSince reads by it);
    // heartbeats; cancels asked of a follower. A lab being copied in ('move' sets
    // kvmfarm.copying) notes nothing: no replica runs on it yet.
    R"sql(
CREATE TABLE changes (
  seq BIGSERIAL PRIMARY KEY, xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at_s BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint, kind TEXT NOT NULL,
  id TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '');
CREATE INDEX changes_by_xid ON changes (xid);
CREATE INDEX changes_by_age ON changes (at_s);
CREATE FUNCTION kvmfarm_note_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('kvmfarm.copying', true) = 'on' THEN RETURN NULL; END IF;
  IF TG_TABLE_NAME = 'devices' THEN
    INSERT INTO changes (kind, id) VALUES ('device', NEW.device_id);
  ELSIF TG_TABLE_NAME = 'sweeps' THEN
    INSERT INTO changes (kind, id) VALUES ('sweep', NEW.sweep_id);
  ELSIF TG_TABLE_NAME = 'tasks' THEN
    INSERT INTO changes (kind, id, parent) VALUES ('task', NEW.task_id, NEW.sweep_id);
  ELSE
    INSERT INTO changes (kind, id) VALUES ('summary', NEW.device_id);
  END IF;
  RETURN NULL;
END $fn$;
CREATE TRIGGER devices_noted AFTER INSERT OR UPDATE ON devices
  FOR EACH ROW EXECUTE FUNCTION kvmfarm_note_change();
CREATE TRIGGER sweeps_noted AFTER INSERT OR UPDATE ON sweeps
  FOR EACH ROW EXECUTE FUNCTION kvmfarm_note_change();
CREATE TRIGGER tasks_noted AFTER INSERT OR UPDATE ON tasks
  FOR EACH ROW EXECUTE FUNCTION kvmfarm_note_change();
CREATE TRIGGER latest_summaries_noted AFTER INSERT OR UPDATE ON latest_summaries
  FOR EACH ROW EXECUTE FUNCTION kvmfarm_note_change();
CREATE TABLE heartbeats (device_id TEXT PRIMARY KEY, seen_ns BIGINT NOT NULL, replica TEXT NOT NULL);
CREATE INDEX heartbeats_by_time ON heartbeats (seen_ns);
CREATE TABLE cancel_requests (
  sweep_id TEXT PRIMARY KEY, reason TEXT NOT NULL, requested_by TEXT NOT NULL,
  requested_ns BIGINT NOT NULL);
)sql",
    // 5: a device's summaries, newest first (the dashboard's charts).
    R"sql(
CREATE INDEX summaries_by_device ON summaries (device_id, measured_ns);
)sql",
    // 6: baselines and regression records (issue 20).
    R"sql(
CREATE TABLE baselines (
  scope INTEGER NOT NULL, key TEXT NOT NULL, sweep_id TEXT NOT NULL, proto BYTEA NOT NULL,
  PRIMARY KEY (scope, key));
CREATE TABLE regressions (
  regression_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, state INTEGER NOT NULL,
  opened_ns BIGINT NOT NULL, proto BYTEA NOT NULL);
CREATE INDEX regressions_by_state ON regressions (state, opened_ns);
)sql",
    // 7: recurring sweeps and health checks (issue 21).
    R"sql(
CREATE TABLE schedules (
  schedule_id TEXT PRIMARY KEY, next_run_ns BIGINT NOT NULL, proto BYTEA NOT NULL);
)sql",
};

// A serialized proto as a BYTEA parameter (hex text input), and back.
std::string Bytea(const google::protobuf::Message& message) {
  return ByteaParam(message.SerializeAsString());
}

template <typename Message>
absl::StatusOr<Message> ParseBytea(const std::optional<std::string>& text, absl::string_view what) {
  Message message;
  if (!text || text->size() < 2 || text->substr(0, 2) != "\\x" ||
      !message.ParseFromString(absl::HexStringToBytes(text->substr(2)))) {
    return absl::DataLossError(absl::StrCat("stored ", what, " does not parse"));
  }
  return message;
}

int64_t Int(const std::optional<std::string>& text) {
  int64_t value = 0;
  if (text) (void)absl::SimpleAtoi(*text, &value);
  return value;
}

std::string Str(int64_t value) { return std::to_string(value); }

template <typename Message>
absl::StatusOr<std::vector<Message>> ProtosOf(const PgRows& rows, absl::string_view what) {
  std::vector<Message> out;
  for (const auto& row : rows.rows) {
    ASSIGN_OR_RETURN(Message message, ParseBytea<Message>(row[0], what));
    out.push_back(std::move(message));
  }
  return out;
}

// "$from, $from+1, ..." for `count` parameters.
std::string Placeholders(int from, size_t count) {
  std::vector<std::string> marks;
  for (size_t i = 0; i < count; ++i) marks.push_back(absl::StrCat("$", from + i));
  return absl::StrJoin(marks, ",");
}

// A task row (proto, result_json).
// A row of kReadLeadership.
Leadership LeadershipOf(const std::vector<std::optional<std::string>>& row) {
  return {row[0].value_or(""), Int(row[1]), Int(row[2]), Int(row[3])};
}

absl::StatusOr<farm::v1::Task> TaskOf(const std::vector<std::optional<std::string>>& row,
                                      bool include_result) {
  ASSIGN_OR_RETURN(farm::v1::Task task, ParseBytea<farm::v1::Task>(row[0], "task"));
  if (include_result && row[1]) MergeStoredResult(*row[1], &task);
  return task;
}

// Results whose raw rows PruneRawLogs removes in one transaction.
constexpr int64_t kPruneBatch = 500;

constexpr char kTaskWithResult[] =
    "SELECT t.proto, r.result_json FROM tasks t LEFT JOIN results r ON r.task_id = t.task_id ";
constexpr char kSummaryColumns[] =
    "SELECT s.device_id, s.sweep_id, s.task_id, s.measured_ns, s.requested, s.proto, "
    "s.parameters FROM ";

}  // namespace

int PostgresStore::SchemaVersion() { return sizeof(kMigrations) / sizeof(kMigrations[0]); }

namespace {

// A session of the store: each commit is on the server's disk before the
// controller acts on it, whatever the server's default.
absl::StatusOr<std::unique_ptr<PgConnection>> OpenSession(const PostgresTarget& target) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Open(target));
  RETURN_IF_ERROR(db->Exec("SET synchronous_commit = on").status());
  return db;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresTarget& target) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, OpenSession(target));
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(db), target));
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::StatusOr<std::string> PostgresStore::SynchronousCommit() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec("SHOW synchronous_commit"));
  return rows.rows[0][0].value_or("");
}

absl::Status PostgresStore::InTransaction(const std::function<absl::Status()>& body) {
  RETURN_IF_ERROR(db_->Exec("BEGIN").status());
  absl::Status status = body();
  if (status.ok()) status = db_->Exec("COMMIT").status();
  if (!status.ok()) (void)db_->Exec("ROLLBACK");
  return status;
}

absl::Status PostgresStore::Migrate() {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    // Two controllers starting together: the second waits here, then finds the
    // schema made.
    RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock($1)", {Str(kApplicationId)}).status());
    ASSIGN_OR_RETURN(const PgRows tables,
                     db_->Exec("SELECT count(*), count(*) FILTER (WHERE tablename = "
                               "'kvmfarm_schema') FROM pg_tables WHERE schemaname = "
                               "current_schema()"));
    const int64_t count = Int(tables.rows[0][0]);
    const bool ours = Int(tables.rows[0][1]) == 1;
    if (count > 0 && !ours) {
      return absl::FailedPreconditionError(absl::StrCat(
          where_, " is a database of something else (", count, count == 1 ? " table" : " tables",
          ", no kvmfarm_schema); refusing to use or alter it: give --db a new or kvmfarm "
          "database"));
    }
    int64_t version = 0;
    if (ours) {
      ASSIGN_OR_RETURN(const PgRows row,
                       db_->Exec("SELECT application_id, version FROM kvmfarm_schema"));
      if (row.rows.size() != 1 || Int(row.rows[0][0]) != kApplicationId) {
        return absl::FailedPreconditionError(
            absl::StrCat(where_, ": kvmfarm_schema is not kvmfarm's; refusing to use it"));
      }
      version = Int(row.rows[0][1]);
    }
    if (version > SchemaVersion()) {
      return absl::FailedPreconditionError(
          absl::StrCat(where_, " has schema version ", version, ", newer than this controller's ",
                       SchemaVersion(), ": run a newer farm-controller"));
    }
    if (!ours) {
      RETURN_IF_ERROR(db_->ExecScript(
          "CREATE TABLE kvmfarm_schema (application_id BIGINT NOT NULL, version INTEGER NOT "
          "NULL)"));
      RETURN_IF_ERROR(
          db_->Exec("INSERT INTO kvmfarm_schema VALUES ($1, 0)", {Str(kApplicationId)}).status());
    }
    for (int64_t v = version; v < SchemaVersion(); ++v) {
      absl::Status migrated = db_->ExecScript(kMigrations[v]);
      if (migrated.ok()) {
        migrated = db_->Exec("UPDATE kvmfarm_schema SET version = $1", {Str(v + 1)}).status();
      }
      if (!migrated.ok()) {
        return absl::Status(migrated.code(),
                            absl::StrCat("migrating to schema ", v + 1, ": ", migrated.message()));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::PutDevice(const farm::v1::Device& device,
                                      const std::optional<farm::v1::DeviceEvent>& event) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db_->Exec("INSERT INTO devices VALUES ($1, $2) ON CONFLICT (device_id) DO "
                              "UPDATE SET proto = excluded.proto",
                              {device.device_id(), Bytea(device)})
                        .status());
    RETURN_IF_ERROR(
        db_->Exec("DELETE FROM device_labels WHERE device_id = $1", {device.device_id()}).status());
    for (const farm::v1::Label& label : device.labels()) {
      RETURN_IF_ERROR(
          db_->Exec("INSERT INTO device_labels VALUES ($1, $2, $3, $4) ON CONFLICT "
                    "DO NOTHING",
                    {device.device_id(), label.key(), label.value(), Str(label.source())})
              .status());
    }
    if (event.has_value()) RETURN_IF_ERROR(AppendDeviceEventLocked(device.device_id(), *event));
    return absl::OkStatus();
  });
}

absl::StatusOr<farm::v1::Device> PostgresStore::GetDevice(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec("SELECT proto FROM devices WHERE device_id = $1", {device_id}));
  if (rows.rows.empty()) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  return ParseBytea<farm::v1::Device>(rows.rows[0][0], "device");
}

absl::StatusOr<std::vector<farm::v1::Device>> PostgresStore::ListDevices() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec("SELECT proto FROM devices ORDER BY device_id"));
  return ProtosOf<farm::v1::Device>(rows, "device");
}

absl::Status PostgresStore::AppendDeviceEvent(const std::string& device_id,
                                              const farm::v1::DeviceEvent& event) {
  absl::MutexLock lock(&mu_);
  return AppendDeviceEventLocked(device_id, event);
}

absl::Status PostgresStore::AppendDeviceEventLocked(const std::string& device_id,
                                                    const farm::v1::DeviceEvent& event) {
  return db_
      ->Exec("INSERT INTO device_events (device_id, time_ns, proto) VALUES ($1, $2, $3)",
             {device_id, Str(TimeUtil::TimestampToNanoseconds(event.time())), Bytea(event)})
      .status();
}

absl::StatusOr<std::vector<StoredDeviceEvent>> PostgresStore::DeviceHistory(
    const std::string& device_id, int limit, std::optional<int64_t> before) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec("SELECT id, proto FROM device_events WHERE device_id = $1 AND id < $2 "
                             "ORDER BY id DESC LIMIT $3",
                             {device_id, Str(before.value_or(std::numeric_limits<int64_t>::max())),
                              Str(limit)}));
  std::vector<StoredDeviceEvent> out;
  for (const auto& row : rows.rows) {
    StoredDeviceEvent stored;
    stored.sequence = Int(row[0]);
    ASSIGN_OR_RETURN(stored.event, ParseBytea<farm::v1::DeviceEvent>(row[1], "device event"));
    out.push_back(std::move(stored));
  }
  return out;
}

absl::Status PostgresStore::PutSweepLocked(const farm::v1::Sweep& sweep) {
  farm::v1::Sweep without_tasks = sweep;
  without_tasks.clear_tasks();
  return db_
      ->Exec(
          "INSERT INTO sweeps VALUES ($1, $2, $3, $4) ON CONFLICT (sweep_id) DO UPDATE SET "
          "state = excluded.state, proto = excluded.proto",
          {sweep.sweep_id(), Str(sweep.state()),
           Str(TimeUtil::TimestampToNanoseconds(sweep.created_at())), Bytea(without_tasks)})
      .status();
}

absl::Status PostgresStore::PutTaskLocked(const farm::v1::Task& task) {
  farm::v1::Task without_result = task;
  without_result.clear_result();
  // An upsert: the row keeps its place (seq) among the sweep's tasks.
  return db_
      ->Exec(
          "INSERT INTO tasks (task_id, sweep_id, device_id, state, proto) VALUES ($1, $2, $3, "
          "$4, $5) ON CONFLICT (task_id) DO UPDATE SET sweep_id = excluded.sweep_id, device_id "
          "= excluded.device_id, state = excluded.state, proto = excluded.proto",
          {task.task_id(), task.sweep_id(), task.device_id(), Str(task.state()),
           Bytea(without_result)})
      .status();
}

absl::Status PostgresStore::CreateSweep(const farm::v1::Sweep& sweep) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(PutSweepLocked(sweep));
    for (const farm::v1::Task& task : sweep.tasks()) RETURN_IF_ERROR(PutTaskLocked(task));
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::PutSweep(const farm::v1::Sweep& sweep) {
  absl::MutexLock lock(&mu_);
  return PutSweepLocked(sweep);
}

absl::Status PostgresStore::PutTask(const farm::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  return PutTaskLocked(task);
}

absl::StatusOr<farm::v1::Sweep> PostgresStore::GetSweep(const std::string& sweep_id,
                                                        bool include_results) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows found,
                   db_->Exec("SELECT proto FROM sweeps WHERE sweep_id = $1", {sweep_id}));
  if (found.rows.empty()) return absl::NotFoundError(absl::StrCat("no sweep '", sweep_id, "'"));
  ASSIGN_OR_RETURN(farm::v1::Sweep sweep, ParseBytea<farm::v1::Sweep>(found.rows[0][0], "sweep"));
  ASSIGN_OR_RETURN(
      const PgRows tasks,
      db_->Exec(absl::StrCat(kTaskWithResult, "WHERE t.sweep_id = $1 ORDER BY t.seq"), {sweep_id}));
  for (const auto& row : tasks.rows) {
    ASSIGN_OR_RETURN(*sweep.add_tasks(), TaskOf(row, include_results));
  }
  return sweep;
}

absl::StatusOr<farm::v1::Task> PostgresStore::GetTask(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec(absl::StrCat(kTaskWithResult, "WHERE t.task_id = $1"), {task_id}));
  if (rows.rows.empty()) return absl::NotFoundError(absl::StrCat("no task '", task_id, "'"));
  return TaskOf(rows.rows[0], /*include_result=*/true);
}

absl::StatusOr<std::vector<farm::v1::Sweep>> PostgresStore::ListSweeps(
    const SweepListQuery& query) {
  // The state filter is in the query, before the LIMIT, so a filtered page is full
  // while matches exist.
  std::string sql = "SELECT proto FROM sweeps WHERE TRUE";
  Params params;
  if (!query.states.empty()) {
    absl::StrAppend(&sql, " AND state IN (", Placeholders(1, query.states.size()), ")");
    for (farm::v1::SweepState state : query.states) params.push_back(Str(state));
  }
  if (query.after) {
    const size_t n = params.size();
    absl::StrAppend(&sql, " AND (created_ns < $", n + 1, " OR (created_ns = $", n + 1,
                    " AND sweep_id < $", n + 2, "))");
    params.push_back(Str(query.after->first));
    params.push_back(query.after->second);
  }
  absl::StrAppend(&sql, " ORDER BY created_ns DESC, sweep_id DESC LIMIT $", params.size() + 1);
  params.push_back(Str(query.limit));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(sql, params));
  return ProtosOf<farm::v1::Sweep>(rows, "sweep");
}

absl::Status PostgresStore::CheckFencingLocked() {
  const int64_t fencing = fencing_epoch_.load();
  if (fencing == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(const PgRows lease, db_->Exec(absl::StrCat(kLeaseEpoch, " FOR SHARE")));
  return FencingStatus(fencing, lease.rows.empty() ? 0 : Int(lease.rows[0][0]));
}

absl::StatusOr<Leadership> PostgresStore::ClaimLeadership(const std::string& replica,
                                                          int64_t now_ns, int64_t ttl_ns) {
  absl::MutexLock lock(&mu_);
  Leadership lease;
  RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(
        db_->Exec(kClaimLeadership, {replica, Str(now_ns), Str(now_ns + ttl_ns)}).status());
    ASSIGN_OR_RETURN(const PgRows row, db_->Exec(kReadLeadership));
    if (row.rows.empty()) return absl::InternalError("the leadership row is missing after a claim");
    lease = LeadershipOf(row.rows[0]);
    return absl::OkStatus();
  }));
  return lease;
}

absl::Status PostgresStore::ReleaseLeadership(const std::string& replica) {
  absl::MutexLock lock(&mu_);
  return db_->Exec(kReleaseLeadership, {replica}).status();
}

void PostgresStore::SetFencingEpoch(int64_t epoch) { fencing_epoch_.store(epoch); }

absl::Status PostgresStore::ReportReplica(const StoredReplica& replica) {
  absl::MutexLock lock(&mu_);
  return db_->Exec(kReportReplica, {replica.name, replica.address, Str(replica.seen_ns)}).status();
}

absl::StatusOr<std::pair<Leadership, std::vector<StoredReplica>>> PostgresStore::Replicas() {
  absl::MutexLock lock(&mu_);
  std::pair<Leadership, std::vector<StoredReplica>> out;
  ASSIGN_OR_RETURN(const PgRows lease, db_->Exec(kReadLeadership));
  if (!lease.rows.empty()) {
    out.first = LeadershipOf(lease.rows[0]);
  }
  ASSIGN_OR_RETURN(const PgRows replicas, db_->Exec(kListReplicas));
  for (const auto& row : replicas.rows) {
    out.second.push_back({row[0].value_or(""), row[1].value_or(""), Int(row[2])});
  }
  return out;
}

// The feed's cursor is a transaction id: every change of a transaction older than
// the snapshot's xmin is final (committed or rolled back), and no transaction can
// still add one below it. Reading by sequence number instead would skip a change
// whose transaction commits after a later-numbered one was read.
absl::StatusOr<int64_t> PostgresStore::ChangeCursor() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows row,
                   db_->Exec("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"));
  return Int(row.rows[0][0]);
}

absl::StatusOr<ChangeBatch> PostgresStore::ChangesSince(int64_t cursor) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec("WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) "
                             "AS xmin) SELECT horizon.xmin::text, c.kind, c.id, c.parent FROM "
                             "horizon LEFT JOIN changes c ON c.xid >= $1::text::xid8 AND c.xid < "
                             "horizon.xmin ORDER BY c.seq",
                             {Str(cursor)}));
  ChangeBatch batch;
  batch.cursor = rows.rows.empty() ? cursor : Int(rows.rows[0][0]);
  for (const auto& row : rows.rows) {
    if (!row[1]) continue;  // the horizon alone: nothing changed
    batch.changes.push_back({*row[1], row[2].value_or(""), row[3].value_or("")});
  }
  return batch;
}

absl::Status PostgresStore::PruneChanges(int64_t before_s) {
  absl::MutexLock lock(&mu_);
  return db_->Exec(kPruneChanges, {Str(before_s)}).status();
}

absl::Status PostgresStore::RecordHeartbeats(const std::string& replica,
                                             const std::vector<StoredHeartbeat>& heartbeats) {
  if (heartbeats.empty()) return absl::OkStatus();
  std::vector<std::string> devices;
  std::vector<std::string> times;
  for (const StoredHeartbeat& heartbeat : heartbeats) {
    devices.push_back(heartbeat.device_id);
    times.push_back(Str(heartbeat.seen_ns));
  }
  // One statement for the whole batch; a device twice in it keeps its latest.
  absl::MutexLock lock(&mu_);
  return db_
      ->Exec(
          "INSERT INTO heartbeats (device_id, seen_ns, replica) SELECT DISTINCT ON (d) d, s, "
          "$3 FROM unnest($1::text[], $2::bigint[]) AS t(d, s) ORDER BY d, s DESC "
          "ON CONFLICT (device_id) DO UPDATE SET seen_ns = excluded.seen_ns, replica = "
          "excluded.replica WHERE heartbeats.seen_ns < excluded.seen_ns",
          {ArrayParam(devices), ArrayParam(times), replica})
      .status();
}

absl::StatusOr<std::vector<StoredHeartbeat>> PostgresStore::HeartbeatsSince(int64_t since_ns) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(kHeartbeatsSince, {Str(since_ns)}));
  std::vector<StoredHeartbeat> out;
  for (const auto& row : rows.rows) out.push_back({row[0].value_or(""), Int(row[1])});
  return out;
}

absl::Status PostgresStore::RequestCancel(const CancelRequest& request) {
  absl::MutexLock lock(&mu_);
  return db_
      ->Exec(kRequestCancel,
             {request.sweep_id, request.reason, request.requested_by, Str(request.requested_ns)})
      .status();
}

absl::StatusOr<std::vector<CancelRequest>> PostgresStore::CancelRequests() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(kListCancelRequests));
  std::vector<CancelRequest> out;
  for (const auto& row : rows.rows) {
    out.push_back({row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), Int(row[3])});
  }
  return out;
}

absl::Status PostgresStore::ForgetCancelRequest(const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  return db_->Exec(kForgetCancelRequest, {sweep_id}).status();
}

absl::Status PostgresStore::PutBaseline(const farm::v1::Baseline& baseline) {
  absl::MutexLock lock(&mu_);
  return db_
      ->Exec(kPutBaseline,
             {Str(baseline.scope()), baseline.key(), baseline.sweep_id(), Bytea(baseline)})
      .status();
}

absl::StatusOr<std::vector<farm::v1::Baseline>> PostgresStore::ListBaselines() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(kListBaselines));
  return ProtosOf<farm::v1::Baseline>(rows, "baseline");
}

absl::Status PostgresStore::PutRegression(const farm::v1::Regression& regression) {
  absl::MutexLock lock(&mu_);
  return db_
      ->Exec(kPutRegression,
             {regression.regression_id(), regression.device_id(), Str(regression.state()),
              Str(TimeUtil::TimestampToNanoseconds(regression.opened_at())), Bytea(regression)})
      .status();
}

absl::StatusOr<std::vector<farm::v1::Regression>> PostgresStore::ListRegressions(
    bool open_only, const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec(kListRegressions, {Str(open_only ? 1 : 0), device_id}));
  return ProtosOf<farm::v1::Regression>(rows, "regression");
}

absl::Status PostgresStore::CreateSchedule(const farm::v1::Schedule& schedule) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      const PgRows rows,
      db_->Exec(kCreateSchedule,
                {schedule.schedule_id(),
                 Str(TimeUtil::TimestampToNanoseconds(schedule.next_run_at())), Bytea(schedule)}));
  if (rows.rows.empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("schedule ", schedule.schedule_id(), " already exists"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<farm::v1::Schedule>> PostgresStore::ListSchedules() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(kListSchedules));
  return ProtosOf<farm::v1::Schedule>(rows, "schedule");
}

absl::Status PostgresStore::DeleteSchedule(const std::string& schedule_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(kDeleteSchedule, {schedule_id}));
  if (rows.rows.empty()) return absl::NotFoundError(absl::StrCat("no schedule ", schedule_id));
  return absl::OkStatus();
}

absl::StatusOr<bool> PostgresStore::AdvanceSchedule(const farm::v1::Schedule& schedule,
                                                    int64_t read_next_run_ns) {
  absl::MutexLock lock(&mu_);
  bool advanced = false;
  RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckFencingLocked());
    ASSIGN_OR_RETURN(const PgRows rows,
                     db_->Exec(kAdvanceSchedule,
                               {Str(TimeUtil::TimestampToNanoseconds(schedule.next_run_at())),
                                Bytea(schedule), schedule.schedule_id(), Str(read_next_run_ns)}));
    advanced = !rows.rows.empty();
    return absl::OkStatus();
  }));
  return advanced;
}

absl::Status PostgresStore::RecordAttempt(const farm::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckFencingLocked());
    RETURN_IF_ERROR(db_->Exec("INSERT INTO attempts (attempt_id, task_id, started_ns) VALUES ($1, "
                              "$2, $3)",
                              {task.attempt_id(), task.task_id(), Str(NowNs())})
                        .status());
    return PutTaskLocked(task);
  });
}

absl::Status PostgresStore::FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                                          const std::string& console_log) {
  absl::MutexLock lock(&mu_);
  return db_
      ->Exec("UPDATE attempts SET outcome = $1, console_log = $2 WHERE attempt_id = $3",
             {outcome, console_log, attempt_id})
      .status();
}

namespace {

// A result stored in one statement, so one round trip and one commit (storing it
// statement by statement cost 5 ms a result on this machine): the result row,
// inserted only if the task has none (a late or duplicate attempt finds it, or waits
// for the transaction inserting it, and stores nothing), and only then every
// repetition's row, a summary per metric, latest_summaries pointed at each when it
// is the newest, the attempt's outcome (task_rows.h, kMarkAttemptStored), and the
// task in its final state. The per-value and per-metric
// columns come as arrays, unnested into rows.
//
// Fencing ($21, 0 for none): the lease row is share-locked, so a new leader's claim
// waits for this statement, and nothing is written unless the epoch is still $21.
constexpr char kStoreResult[] = R"sql(
WITH fence AS (SELECT epoch FROM leadership WHERE id = 1 FOR SHARE),
allowed AS (
  SELECT 1 WHERE $21::bigint = 0 OR EXISTS (SELECT 1 FROM fence WHERE epoch = $21::bigint)),
r AS (
  INSERT INTO results (task_id, attempt_id, stored_ns, result_json)
  SELECT $1::text, $2::text, $5::bigint, $6::text FROM allowed
  ON CONFLICT (task_id) DO NOTHING RETURNING task_id),
m AS (
  INSERT INTO measurements (task_id, attempt_id, sweep_id, device_id, metric, mode, unit,
                            parameters, repetition, value)
  SELECT $1::text, $2::text, $3::text, $4::text, v.metric, v.mode, v.unit, v.parameters,
         v.repetition, v.value
  FROM r, unnest($9::text[], $10::integer[], $11::text[], $12::text[], $13::integer[],
                 $14::double precision[]) AS v(metric, mode, unit, parameters, repetition, value)),
s AS (
  INSERT INTO summaries (task_id, sweep_id, device_id, metric, mode, parameters, measured_ns,
                         requested, proto)
  SELECT $1::text, $3::text, $4::text, v.metric, v.mode, v.parameters, $15::bigint,
         $16::integer, decode(v.proto, 'hex')
  FROM r, unnest($17::text[], $18::integer[], $19::text[], $20::text[])
       AS v(metric, mode, parameters, proto)
  RETURNING id, metric, mode, parameters),
l AS (
  INSERT INTO latest_summaries (device_id, metric, mode, parameters, summary_id, measured_ns)
  SELECT DISTINCT ON (metric, mode, parameters) $4::text, metric, mode, parameters, id,
         $15::bigint
  FROM s ORDER BY metric, mode, parameters, id DESC
  ON CONFLICT (device_id, metric, mode, parameters) DO UPDATE
  SET summary_id = excluded.summary_id, measured_ns = excluded.measured_ns
  WHERE excluded.measured_ns >= latest_summaries.measured_ns),
a AS (
  UPDATE attempts SET outcome = 'result stored' FROM r
  WHERE attempts.attempt_id = $2::text AND attempts.outcome IS NULL),
t AS (
  INSERT INTO tasks (task_id, sweep_id, device_id, state, proto)
  SELECT $1::text, $3::text, $4::text, $7::integer, $8::bytea FROM r
  ON CONFLICT (task_id) DO UPDATE SET sweep_id = excluded.sweep_id,
  device_id = excluded.device_id, state = excluded.state, proto = excluded.proto)
SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM allowed),
       COALESCE((SELECT epoch FROM fence), 0)
)sql";

// kStoreResult's parameters for `task`.
absl::StatusOr<Params> StoreResultParams(const farm::v1::Task& task, const std::string& attempt_id,
                                         int64_t fencing_epoch) {
  ASSIGN_OR_RETURN(const std::string json, ResultJson(task));
  farm::v1::Task without_result = task;
  without_result.clear_result();
  std::vector<std::string> metric, mode, unit, parameters, repetition, value;
  std::vector<std::string> s_metric, s_mode, s_parameters, s_proto;
  if (const auto* measurements = MeasurementsOf(task); measurements != nullptr) {
    for (const farm::v1::Measurement& m : *measurements) {
      const std::string key = ParametersKey(m.parameters());
      for (int rep = 0; rep < m.values_size(); ++rep) {
        metric.push_back(m.metric());
        mode.push_back(Str(m.mode()));
        unit.push_back(m.unit());
        parameters.push_back(key);
        repetition.push_back(Str(rep));
        value.push_back(DoubleParam(m.values(rep)));
      }
      if (m.values().empty()) continue;
      s_metric.push_back(m.metric());
      s_mode.push_back(Str(m.mode()));
      s_parameters.push_back(key);
      s_proto.push_back(absl::BytesToHexString(m.SerializeAsString()));
    }
  }
  return Params{task.task_id(),
                attempt_id,
                task.sweep_id(),
                task.device_id(),
                Str(NowNs()),
                json,
                Str(task.state()),
                Bytea(without_result),
                ArrayParam(metric),
                ArrayParam(mode),
                ArrayParam(unit),
                ArrayParam(parameters),
                ArrayParam(repetition),
                ArrayParam(value),
                Str(TimeUtil::TimestampToNanoseconds(task.finished_at())),
                Str(RequestedRepetitions(task)),
                ArrayParam(s_metric),
                ArrayParam(s_mode),
                ArrayParam(s_parameters),
                ArrayParam(s_proto),
                Str(fencing_epoch)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> PostgresStore::BorrowWriter() {
  {
    absl::MutexLock lock(&writers_mu_);
    const auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writers_mu_) {
      return !idle_writers_.empty() || open_writers_ < kResultWriters;
    };
    writers_mu_.Await(absl::Condition(&available));
    if (!idle_writers_.empty()) {
      std::unique_ptr<PgConnection> writer = std::move(idle_writers_.back());
      idle_writers_.pop_back();
      return writer;
    }
    ++open_writers_;
  }
  absl::StatusOr<std::unique_ptr<PgConnection>> opened = OpenSession(target_);
  if (!opened.ok()) ReturnWriter(nullptr);
  return opened;
}

void PostgresStore::ReturnWriter(std::unique_ptr<PgConnection> writer) {
  absl::MutexLock lock(&writers_mu_);
  if (writer == nullptr) {
    --open_writers_;
  } else {
    idle_writers_.push_back(std::move(writer));
  }
}

absl::StatusOr<bool> PostgresStore::StoreTaskResult(const farm::v1::Task& task,
                                                    const std::string& attempt_id) {
  const int64_t fencing = fencing_epoch_.load();
  ASSIGN_OR_RETURN(const Params params, StoreResultParams(task, attempt_id, fencing));
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> writer, BorrowWriter());
  absl::StatusOr<PgRows> stored = writer->ExecPrepared("store_result", kStoreResult, params);
  // A connection that failed is closed rather than reused: it may be broken.
  ReturnWriter(stored.ok() ? std::move(writer) : nullptr);
  if (!stored.ok()) return stored.status();
  if (Int(stored->rows[0][1]) == 0) return FencingStatus(fencing, Int(stored->rows[0][2]));
  return Int(stored->rows[0][0]) == 1;
}

absl::StatusOr<std::vector<StoredSummary>> PostgresStore::Summaries(const std::string& sql,
                                                                    const Params& params) {
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec(sql, params));
  std::vector<StoredSummary> out;
  for (const auto& row : rows.rows) {
    StoredSummary summary;
    summary.device_id = row[0].value_or("");
    summary.sweep_id = row[1].value_or("");
    summary.task_id = row[2].value_or("");
    summary.measured_ns = Int(row[3]);
    summary.requested_repetitions = static_cast<uint32_t>(Int(row[4]));
    ASSIGN_OR_RETURN(summary.measurement, ParseBytea<farm::v1::Measurement>(row[5], "summary"));
    summary.parameters_key = row[6].value_or("");
    out.push_back(std::move(summary));
  }
  return out;
}

absl::StatusOr<std::vector<StoredSummary>> PostgresStore::LatestSummaries(
    const std::vector<std::string>& device_ids) {
  std::string filter;
  Params params;
  if (!device_ids.empty()) {
    filter = absl::StrCat(" WHERE l.device_id IN (", Placeholders(1, device_ids.size()), ")");
    params.assign(device_ids.begin(), device_ids.end());
  }
  absl::MutexLock lock(&mu_);
  return Summaries(
      absl::StrCat(kSummaryColumns, "latest_summaries l JOIN summaries s ON s.id = l.summary_id",
                   filter, " ORDER BY l.device_id, l.metric, l.mode"),
      params);
}

absl::StatusOr<std::vector<StoredSummary>> PostgresStore::SweepSummaries(
    const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  return Summaries(absl::StrCat(kSummaryColumns,
                                "summaries s WHERE s.sweep_id = $1 ORDER BY s.device_id, s.metric, "
                                "s.mode"),
                   {sweep_id});
}

absl::StatusOr<std::vector<StoredSummary>> PostgresStore::DeviceSummaries(
    const std::string& device_id, int64_t limit) {
  absl::MutexLock lock(&mu_);
  return Summaries(absl::StrCat(kSummaryColumns,
                                "summaries s WHERE s.device_id = $1 ORDER BY s.measured_ns DESC, "
                                "s.id DESC LIMIT $2"),
                   {device_id, absl::StrCat(limit)});
}

absl::StatusOr<std::vector<StoredAttempt>> PostgresStore::TaskAttempts(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows,
                   db_->Exec("SELECT attempt_id, started_ns, outcome, console_log FROM attempts "
                             "WHERE task_id = $1 ORDER BY started_ns, attempt_id",
                             {task_id}));
  std::vector<StoredAttempt> out;
  for (const auto& row : rows.rows) {
    out.push_back({row[0].value_or(""), Int(row[1]), row[2].value_or(""), row[3].value_or("")});
  }
  return out;
}

absl::StatusOr<PrunedRawLogs> PostgresStore::PruneRawLogs(int64_t stored_before_ns,
                                                          int64_t max_results) {
  PrunedRawLogs pruned;
  while (max_results == 0 || pruned.results < max_results) {
    const int64_t batch_size =
        max_results == 0 ? kPruneBatch : std::min(kPruneBatch, max_results - pruned.results);
    absl::MutexLock lock(&mu_);
    // One batch of results, marked, and their rows deleted, in one statement (one
    // transaction): the controller's writes go on between batches.
    ASSIGN_OR_RETURN(
        const PgRows batch,
        db_->Exec("WITH batch AS (SELECT task_id FROM results WHERE raw_pruned = 0 AND stored_ns "
                  "< $1 LIMIT $2 FOR UPDATE), marked AS (UPDATE results r SET raw_pruned = 1 FROM "
                  "batch WHERE r.task_id = batch.task_id RETURNING r.task_id), gone AS (DELETE "
                  "FROM measurements m USING marked WHERE m.task_id = marked.task_id RETURNING 1) "
                  "SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM gone)",
                  {Str(stored_before_ns), Str(batch_size)}));
    const int64_t results = Int(batch.rows[0][0]);
    if (results == 0) break;
    pruned.results += results;
    pruned.measurements += Int(batch.rows[0][1]);
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows logs,
                   db_->Exec("WITH cleared AS (UPDATE attempts SET console_log = NULL WHERE "
                             "started_ns < $1 AND console_log IS NOT NULL AND console_log != '' "
                             "RETURNING 1) SELECT count(*) FROM cleared",
                             {Str(stored_before_ns)}));
  pruned.console_logs = Int(logs.rows[0][0]);
  return pruned;
}

absl::StatusOr<int64_t> PostgresStore::CountMeasurements() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const PgRows rows, db_->Exec("SELECT count(*) FROM measurements"));
  return Int(rows.rows[0][0]);
}

}  // namespace kvmfarm::store::postgres
