// -----------------------------------------------------------------------------
// File: copy_to_postgres.h
// -----------------------------------------------------------------------------
//
// Moving a lab (issue 17): every row of a kvmfarm SQLite database copied into an
// empty kvmfarm PostgreSQL database, table by table and column by column, so
// nothing is rebuilt or renumbered: devices, labels, history events (with their
// sequence numbers), sweeps, tasks (in their order), attempts with their console
// logs, results, every raw measurement, summaries and the latest-summary index,
// and the controllers' lease with its epoch and the replicas.
//
// The copy is one PostgreSQL transaction: it lands whole or not at all. The SQLite
// side is read in one read transaction, a consistent snapshot; stop the controller
// that writes it first, or what it writes after the snapshot stays behind.
//
// Example:
//
//   ASSIGN_OR_RETURN(TableCounts counts, CopySqliteToPostgres("farm.db", target, progress));
#ifndef KVMFARM_CONTROLLER_STORE_COPY_TO_POSTGRES_H_
#define KVMFARM_CONTROLLER_STORE_COPY_TO_POSTGRES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/store/postgres/connection.h"

namespace kvmfarm::store {

// Rows per table, in the order the tables are copied.
using TableCounts = std::vector<std::pair<std::string, int64_t>>;

// Told after each batch: the table, rows copied of it so far, and its total.
using CopyProgress = std::function<void(absl::string_view table, int64_t copied, int64_t total)>;

// Copies `sqlite_path` into `target` and checks that every table has as many rows
// on both sides. The SQLite file must exist and be kvmfarm's (it is migrated to this
// build's schema first, as farm-controller would); `target` must be empty or an
// empty kvmfarm database (it is migrated too). FAILED_PRECONDITION, naming the
// database and why, for a missing, foreign or newer source, a foreign, newer or
// non-empty target, or counts that differ after the copy; a failure leaves the
// target as it was.
absl::StatusOr<TableCounts> CopySqliteToPostgres(const std::string& sqlite_path,
                                                 const postgres::PostgresTarget& target,
                                                 const CopyProgress& progress);

// "3 devices, 54 measurements": the tables with rows, or "no rows".
std::string DescribeCounts(const TableCounts& counts);

// Every table's row count in each database, in the copy's order.
absl::StatusOr<TableCounts> CountSqliteRows(const std::string& sqlite_path);
absl::StatusOr<TableCounts> CountPostgresRows(const postgres::PostgresTarget& target);

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_COPY_TO_POSTGRES_H_
