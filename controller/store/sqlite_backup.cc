#include "controller/store/sqlite_backup.h"

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/sqlite.h"
#include "controller/store/sqlite_store.h"

namespace kvmfarm::store {
namespace {

// A kvmfarm database, whole: our application id and a clean quick_check.
absl::Status CheckKvmfarmDatabase(Database& db) {
  ASSIGN_OR_RETURN(const int64_t app, db.QueryInt("PRAGMA application_id"));
  if (app != kApplicationId) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), " is not a kvmfarm database (application_id ", app, ")"));
  }
  return db.QuickCheck();
}

absl::Status CopyInto(const std::string& from, const std::string& partial) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> source, Database::Open(from));
  RETURN_IF_ERROR(CheckKvmfarmDatabase(*source));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> copy, Database::Open(partial));
  RETURN_IF_ERROR(source->BackupInto(*copy));
  return CheckKvmfarmDatabase(*copy);
}

}  // namespace

absl::Status CopySqliteDatabase(const std::string& from, const std::string& to) {
  if (!std::filesystem::is_regular_file(from)) {
    return absl::FailedPreconditionError(absl::StrCat(from, " is not a file"));
  }
  for (const char* suffix : {"", "-wal"}) {
    if (std::filesystem::exists(to + suffix)) {
      return absl::AlreadyExistsError(
          absl::StrCat(to, suffix, " exists; refusing to overwrite it: give a new name"));
    }
  }
  const std::string partial = to + ".partial";
  RemoveSqliteDatabase(partial);  // a crashed copy's leftovers
  absl::Status copied = CopyInto(from, partial);
  if (copied.ok()) {
    std::error_code error;
    std::filesystem::rename(partial, to, error);
    if (error)
      copied = absl::InternalError(absl::StrCat("renaming ", partial, ": ", error.message()));
  }
  RemoveSqliteDatabase(partial);
  return copied;
}

}  // namespace kvmfarm::store
