#include "controller/lab_admin/database_commands.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/lab_admin/lab_answers.h"
#include "controller/store/copy_to_postgres.h"
#include "controller/store/open_store.h"
#include "controller/store/postgres/pg_dump.h"
#include "controller/store/postgres/postgres_store.h"
#include "controller/store/sqlite_backup.h"
#include "controller/store/sqlite_store.h"

namespace kvmfarm::lab_admin {
namespace {

// Progress of a long copy: a line per table, and every 100,000 rows of a large one.
store::CopyProgress PrintProgress(std::ostream& out) {
  auto printed = std::make_shared<std::map<std::string, int64_t>>();
  return [&out, printed](absl::string_view table, int64_t copied, int64_t total) {
    int64_t& last = (*printed)[std::string(table)];
    if (copied == total || copied / 100000 > last / 100000) {
      out << "  " << table << ": " << copied << " of " << total << " rows\n" << std::flush;
      last = copied;
    }
  };
}

bool IsSqliteFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[16] = {};
  return in.read(magic, sizeof(magic)) &&
         std::string(magic, 16) == std::string("SQLite format 3\0", 16);
}

absl::StatusOr<store::postgres::PostgresTarget> Target(const DatabaseCommand& command) {
  return store::postgres::ParsePostgresTarget(command.db, command.ca_file);
}

}  // namespace

absl::Status MoveLab(const DatabaseCommand& command, const std::string& from_sqlite) {
  std::ostream& out = *command.out;
  if (!store::IsPostgresUri(command.db)) {
    return absl::InvalidArgumentError(
        "move copies a SQLite lab into PostgreSQL: --db must be a postgresql:// URI");
  }
  if (!std::filesystem::is_regular_file(from_sqlite)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--from ", from_sqlite, " is not a file: give the SQLite database's path"));
  }
  ASSIGN_OR_RETURN(const store::postgres::PostgresTarget target, Target(command));
  LabAnswers before;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> source,
                     store::SqliteStore::Open(from_sqlite));
    ASSIGN_OR_RETURN(before, ReadLabAnswers(*source));
  }
  out << "moving " << from_sqlite << " to " << target.Describe() << "\n";
  ASSIGN_OR_RETURN(const store::TableCounts counts,
                   store::CopySqliteToPostgres(from_sqlite, target, PrintProgress(out)));
  out << "copied and counted alike in both: " << store::DescribeCounts(counts) << "\n";
  ASSIGN_OR_RETURN(std::unique_ptr<store::postgres::PostgresStore> moved,
                   store::postgres::PostgresStore::Open(target));
  ASSIGN_OR_RETURN(const LabAnswers after, ReadLabAnswers(*moved));
  if (absl::Status same = SameAnswers(before, after); !same.ok()) {
    return absl::DataLossError(
        absl::StrCat("the copy in ", target.Describe(), " does not answer as ", from_sqlite,
                     " does: ", same.message(), ". Keep running on ", from_sqlite,
                     " (it is unchanged), drop the PostgreSQL database and report this"));
  }
  out << "verified: GetMatrix (" << after.matrix_by_device.rows_size() << " device rows, "
      << after.matrix_by_model.rows_size() << " model rows) and CompareSweeps ("
      << after.comparisons.size() << " pairs of " << after.sweeps.size()
      << " sweeps) answer identically\n"
      << "now start farm-controller --db " << command.db << "\n";
  return absl::OkStatus();
}

absl::Status BackupLab(const DatabaseCommand& command, const std::string& to) {
  if (to.empty()) return absl::InvalidArgumentError("backup needs --to FILE");
  if (store::IsPostgresUri(command.db)) {
    ASSIGN_OR_RETURN(const store::postgres::PostgresTarget target, Target(command));
    RETURN_IF_ERROR(store::postgres::DumpPostgres(target, to));
  } else {
    RETURN_IF_ERROR(store::CopySqliteDatabase(command.db, to));
  }
  *command.out << "backed up " << command.db << " to " << to << " ("
               << std::filesystem::file_size(to) << " bytes)\n";
  return absl::OkStatus();
}

absl::Status RestoreLab(const DatabaseCommand& command, const std::string& from) {
  if (from.empty()) return absl::InvalidArgumentError("restore needs --from FILE");
  const bool postgres = store::IsPostgresUri(command.db);
  if (postgres != store::postgres::IsPostgresDump(from) || (!postgres && !IsSqliteFile(from))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--from ", from, " is not a backup of a ", postgres ? "PostgreSQL" : "SQLite",
        " lab (farm-controller backup writes a SQLite file for a SQLite lab and a pg_dump "
        "file for a PostgreSQL one; move a SQLite lab into PostgreSQL with farm-controller "
        "move)"));
  }
  if (postgres) {
    ASSIGN_OR_RETURN(const store::postgres::PostgresTarget target, Target(command));
    RETURN_IF_ERROR(store::postgres::RestorePostgres(from, target));
  } else {
    RETURN_IF_ERROR(store::CopySqliteDatabase(from, command.db));
  }
  // Opened as the controller will open it: checked, and migrated if the backup is
  // older than this build.
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> restored,
                   store::OpenStore(command.db, command.ca_file));
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Device> devices, restored->ListDevices());
  ASSIGN_OR_RETURN(const int64_t measurements, restored->CountMeasurements());
  *command.out << "restored " << from << " into " << command.db << ": " << devices.size()
               << " devices, " << measurements << " raw measurements\n";
  return absl::OkStatus();
}

absl::StatusOr<store::PrunedRawLogs> PruneLab(store::Store& store, absl::Duration keep_raw,
                                              absl::Time now, int64_t max_results) {
  if (keep_raw <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--keep_raw_days must be at least 1");
  }
  return store.PruneRawLogs(absl::ToUnixNanos(now - keep_raw), max_results);
}

}  // namespace kvmfarm::lab_admin
