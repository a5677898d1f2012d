// -----------------------------------------------------------------------------
// File: database_commands.h
// -----------------------------------------------------------------------------
//
// farm-controller's commands on a lab's database (issue 17), for an operator or
// cron, each run while no other process moves the lab:
//
//   farm-controller move    --from farm.db --db postgresql://farm@db1/farm
//   farm-controller backup  --db DB --to FILE
//   farm-controller restore --from FILE --db DB
//   farm-controller prune   --db DB --keep_raw_days N
//
// DB is what the controller's --db takes: a SQLite file or a postgresql:// URI.
// Each reports what it did on `out`, one line a step, and returns an error naming
// the database and why.
#ifndef KVMFARM_CONTROLLER_LAB_ADMIN_DATABASE_COMMANDS_H_
#define KVMFARM_CONTROLLER_LAB_ADMIN_DATABASE_COMMANDS_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/store/store.h"

namespace kvmfarm::lab_admin {

// Where the command's databases are, and the lab's CA for a PostgreSQL server off
// this machine ("" for libpq's default).
struct DatabaseCommand {
  std::string db;
  std::string ca_file;
  std::ostream* out = nullptr;
};

// The SQLite lab `from_sqlite` copied into the empty PostgreSQL database
// `command.db`, then checked: every table's row count, GetMatrix (by device and by
// model) and CompareSweeps of each sweep with the one before it answer identically
// from both. The SQLite file is only read (after being migrated to this build's
// schema, as farm-controller would): stop its controller first.
absl::Status MoveLab(const DatabaseCommand& command, const std::string& from_sqlite);

// A backup of `command.db` in the new file `to`, taken while the controller runs:
// SQLite's online backup API (a SQLite file) or pg_dump's custom format.
absl::Status BackupLab(const DatabaseCommand& command, const std::string& to);

// The backup `from` restored into `command.db`: a new SQLite file, or an empty
// PostgreSQL database; a backup of the other kind is refused.
absl::Status RestoreLab(const DatabaseCommand& command, const std::string& from);

// Retention: raw rows and console logs older than `keep_raw` removed
// (Store::PruneRawLogs; the raw rows of at most `max_results` results, 0 for all),
// summaries kept.
absl::StatusOr<store::PrunedRawLogs> PruneLab(store::Store& store, absl::Duration keep_raw,
                                              absl::Time now, int64_t max_results = 0);

}  // namespace kvmfarm::lab_admin

#endif  // KVMFARM_CONTROLLER_LAB_ADMIN_DATABASE_COMMANDS_H_
