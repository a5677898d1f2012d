#include "controller/store/copy_to_postgres.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/store/postgres/postgres_store.h"
#include "controller/store/sqlite.h"
#include "controller/store/sqlite_store.h"

namespace kvmfarm::store {
namespace {

using postgres::PgConnection;
using postgres::PgRows;

// How a column is read from SQLite and handed to PostgreSQL as text.
enum class Kind { kText, kInt, kReal, kBlob };
constexpr Kind T = Kind::kText, I = Kind::kInt, R = Kind::kReal, B = Kind::kBlob;

// One table: its columns as SQLite names them and as PostgreSQL does (the same but
// for tasks, whose order is SQLite's rowid and PostgreSQL's seq), and the order
// rows are read in, so ids and each sweep's task order carry over.
struct TableCopy {
  const char* table;
  const char* sqlite_columns;
  const char* postgres_columns;
  const char* order_by;
  std::vector<Kind> kinds;
};

// Every table of the schema (SQLite 9, PostgreSQL 7), parents before children.
const std::vector<TableCopy>& Tables() {
  static const auto* const tables = new std::vector<TableCopy>{
      {"devices", "device_id, proto", "device_id, proto", "device_id", {T, B}},
      {"device_labels",
       "device_id, key, value, source",
       "device_id, key, value, source",
       "device_id, key, value",
       {T, T, T, I}},
      {"device_events",
       "id, device_id, time_ns, proto",
       "id, device_id, time_ns, proto",
       "id",
       {I, T, I, B}},
      {"sweeps",
       "sweep_id, state, created_ns, proto",
       "sweep_id, state, created_ns, proto",
       "sweep_id",
       {T, I, I, B}},
      {"tasks",
       "rowid, task_id, sweep_id, device_id, state, proto",
       "seq, task_id, sweep_id, device_id, state, proto",
       "rowid",
       {I, T, T, T, I, B}},
      {"attempts",
       "attempt_id, task_id, started_ns, outcome, console_log",
       "attempt_id, task_id, started_ns, outcome, console_log",
       "attempt_id",
       {T, T, I, T, T}},
      {"results",
       "task_id, attempt_id, stored_ns, result_json, raw_pruned",
       "task_id, attempt_id, stored_ns, result_json, raw_pruned",
       "task_id",
       {T, T, I, T, I}},
      {"measurements",
       "id, task_id, attempt_id, sweep_id, device_id, metric, mode, unit, parameters, "
       "repetition, value",
       "id, task_id, attempt_id, sweep_id, device_id, metric, mode, unit, parameters, "
       "repetition, value",
       "id",
       {I, T, T, T, T, T, I, T, T, I, R}},
      {"summaries",
       "id, task_id, sweep_id, device_id, metric, mode, parameters, measured_ns, requested, proto",
       "id, task_id, sweep_id, device_id, metric, mode, parameters, measured_ns, requested, proto",
       "id",
       {I, T, T, T, T, I, T, I, I, B}},
      {"latest_summaries",
       "device_id, metric, mode, parameters, summary_id, measured_ns",
       "device_id, metric, mode, parameters, summary_id, measured_ns",
       "device_id, metric, mode, parameters",
       {T, T, I, T, I, I}},
      // The lease with its epoch: the next leader's epoch must be higher than any
      // agent has seen, or agents would refuse it.
      {"leadership",
       "id, holder, epoch, acquired_ns, expires_ns",
       "id, holder, epoch, acquired_ns, expires_ns",
       "id",
       {I, T, I, I, I}},
      {"replicas", "name, address, seen_ns", "name, address, seen_ns", "name", {T, T, I}},
      {"baselines",
       "scope, key, sweep_id, proto",
       "scope, key, sweep_id, proto",
       "scope, key",
       {I, T, T, B}},
      {"regressions",
       "regression_id, device_id, state, opened_ns, proto",
       "regression_id, device_id, state, opened_ns, proto",
       "regression_id",
       {T, T, I, I, B}},
      {"schedules",
       "schedule_id, next_run_ns, proto",
       "schedule_id, next_run_ns, proto",
       "schedule_id",
       {T, I, B}},
  };
  return *tables;
}

// PostgreSQL's generated ids, moved past the copied ones so new rows follow them.
constexpr std::pair<const char*, const char*> kSerials[] = {
    {"device_events", "id"}, {"tasks", "seq"}, {"measurements", "id"}, {"summaries", "id"}};

// Column `i` of the current row as a PostgreSQL text parameter.
std::optional<std::string> Param(const Statement& row, int i, Kind kind) {
  if (row.ColumnIsNull(i)) return std::nullopt;
  switch (kind) {
    case Kind::kInt:
      return std::to_string(row.ColumnInt(i));
    case Kind::kReal:
      return postgres::DoubleParam(row.ColumnDouble(i));
    case Kind::kBlob:
      return postgres::ByteaParam(row.ColumnBlob(i));
    case Kind::kText:
      break;
  }
  return row.ColumnText(i);
}

// "INSERT INTO t (cols) VALUES ($1,...),(...)" for `rows` rows of `columns` each.
std::string InsertRows(const TableCopy& table, size_t rows) {
  const size_t columns = table.kinds.size();
  std::vector<std::string> tuples;
  for (size_t r = 0; r < rows; ++r) {
    std::vector<std::string> marks;
    for (size_t c = 0; c < columns; ++c) marks.push_back(absl::StrCat("$", r * columns + c + 1));
    tuples.push_back(absl::StrCat("(", absl::StrJoin(marks, ","), ")"));
  }
  return absl::StrCat("INSERT INTO ", table.table, " (", table.postgres_columns, ") VALUES ",
                      absl::StrJoin(tuples, ","));
}

absl::Status CopyTable(Database& source, PgConnection& target, const TableCopy& table,
                       int64_t total, const CopyProgress& progress) {
  const size_t columns = table.kinds.size();
  // PostgreSQL takes at most 65,535 parameters a statement.
  const size_t batch_rows = std::min<size_t>(1000, 30000 / columns);
  ASSIGN_OR_RETURN(Statement rows,
                   source.Prepare(absl::StrCat("SELECT ", table.sqlite_columns, " FROM ",
                                               table.table, " ORDER BY ", table.order_by)));
  std::vector<std::optional<std::string>> params;
  int64_t copied = 0;
  auto flush = [&]() -> absl::Status {
    if (params.empty()) return absl::OkStatus();
    const size_t n = params.size() / columns;
    RETURN_IF_ERROR(target.Exec(InsertRows(table, n), params).status());
    params.clear();
    copied += static_cast<int64_t>(n);
    if (progress) progress(table.table, copied, total);
    return absl::OkStatus();
  };
  while (true) {
    ASSIGN_OR_RETURN(const bool row, rows.Step());
    if (!row) break;
    for (size_t c = 0; c < columns; ++c) {
      params.push_back(Param(rows, static_cast<int>(c), table.kinds[c]));
    }
    if (params.size() >= batch_rows * columns) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  if (copied == 0 && progress) progress(table.table, 0, 0);
  return absl::OkStatus();
}

absl::StatusOr<TableCounts> CountIn(Database& db) {
  TableCounts counts;
  for (const TableCopy& table : Tables()) {
    ASSIGN_OR_RETURN(const int64_t n,
                     db.QueryInt(absl::StrCat("SELECT count(*) FROM ", table.table)));
    counts.emplace_back(table.table, n);
  }
  return counts;
}

absl::StatusOr<TableCounts> CountIn(PgConnection& db) {
  TableCounts counts;
  for (const TableCopy& table : Tables()) {
    ASSIGN_OR_RETURN(const PgRows rows,
                     db.Exec(absl::StrCat("SELECT count(*) FROM ", table.table)));
    counts.emplace_back(table.table, std::stoll(rows.rows[0][0].value_or("0")));
  }
  return counts;
}

// The first table whose counts differ, or OK.
absl::Status SameCounts(const TableCounts& source, const TableCounts& copied) {
  for (size_t i = 0; i < source.size() && i < copied.size(); ++i) {
    if (source[i].second != copied[i].second) {
      return absl::FailedPreconditionError(absl::StrCat(source[i].first, ": ", source[i].second,
                                                        " rows in SQLite, ", copied[i].second,
                                                        " copied; the copy was rolled back"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database>> OpenSource(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a file: nothing to move (give the SQLite database's path)"));
  }
  // Refuses a foreign or newer database; brings an older one to this build's schema.
  RETURN_IF_ERROR(SqliteStore::Open(path).status());
  return Database::Open(path);
}

// The target migrated and checked empty.
absl::StatusOr<std::unique_ptr<PgConnection>> OpenEmptyTarget(
    const postgres::PostgresTarget& target) {
  RETURN_IF_ERROR(postgres::PostgresStore::Open(target).status());
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Open(target));
  ASSIGN_OR_RETURN(const TableCounts counts, CountIn(*db));
  for (const auto& [table, n] : counts) {
    if (n > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(target.Describe(), " already holds a lab (", DescribeCounts(counts),
                       "); a lab moves into an empty database only: create a new one (createdb)"));
    }
  }
  return db;
}

absl::Status CopyAll(Database& source, PgConnection& target, const TableCounts& source_counts,
                     const CopyProgress& progress) {
  for (size_t i = 0; i < Tables().size(); ++i) {
    RETURN_IF_ERROR(CopyTable(source, target, Tables()[i], source_counts[i].second, progress));
  }
  for (const auto& [table, column] : kSerials) {
    RETURN_IF_ERROR(target
                        .Exec(absl::StrCat("SELECT setval(pg_get_serial_sequence('", table, "', '",
                                           column, "'), (SELECT COALESCE(max(", column,
                                           "), 0) + 1 FROM ", table, "), false)"))
                        .status());
  }
  ASSIGN_OR_RETURN(const TableCounts copied, CountIn(target));
  return SameCounts(source_counts, copied);
}

}  // namespace

absl::StatusOr<TableCounts> CopySqliteToPostgres(const std::string& sqlite_path,
                                                 const postgres::PostgresTarget& target,
                                                 const CopyProgress& progress) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> source, OpenSource(sqlite_path));
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, OpenEmptyTarget(target));
  // One read transaction: every table as of one moment.
  RETURN_IF_ERROR(source->Execute("BEGIN"));
  absl::StatusOr<TableCounts> counts = CountIn(*source);
  absl::Status status = counts.status();
  if (status.ok()) status = db->Exec("BEGIN").status();
  // The copied rows are not changes for replicas to follow (none runs on the
  // target yet): the triggers that note changes skip this transaction's rows.
  if (status.ok()) status = db->Exec("SET LOCAL kvmfarm.copying = 'on'").status();
  if (status.ok()) {
    status = CopyAll(*source, *db, *counts, progress);
    if (status.ok()) status = db->Exec("COMMIT").status();
    if (!status.ok()) (void)db->Exec("ROLLBACK");
  }
  (void)source->Execute("COMMIT");
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("moving ", sqlite_path, " to ",
                                                    target.Describe(), ": ", status.message()));
  }
  return *counts;
}

std::string DescribeCounts(const TableCounts& counts) {
  std::vector<std::string> parts;
  for (const auto& [table, n] : counts) {
    if (n > 0) parts.push_back(absl::StrCat(n, " ", table));
  }
  return parts.empty() ? "no rows" : absl::StrJoin(parts, ", ");
}

absl::StatusOr<TableCounts> CountSqliteRows(const std::string& sqlite_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> source, OpenSource(sqlite_path));
  return CountIn(*source);
}

absl::StatusOr<TableCounts> CountPostgresRows(const postgres::PostgresTarget& target) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Open(target));
  return CountIn(*db);
}

}  // namespace kvmfarm::store
